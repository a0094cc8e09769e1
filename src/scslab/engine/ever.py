"""Who was ever affected: one byte per person, kept up to date each recorded month.

The ``steps`` table holds counts per month and cell, and the panel is a sample, so neither says how
many people were *ever* sanctioned over a run. :func:`mark_ever` keeps that, at O(agents) per
month: a bitmask per person (:data:`EVER_SANCTIONED`, :data:`EVER_LISTED`, :data:`EVER_REWARDED`,
:data:`EVER_LOW_GRADE`) and the months each person spent under at least one sanction. It only reads
the run's state, so a run with it gives the same results bit for bit as one without.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scslab.engine.compiled import FLAG_ACTIVE, FLAG_SANCTIONED, SchemeLayout
from scslab.schemes.model import Scheme

EVER_SANCTIONED, EVER_LISTED, EVER_REWARDED, EVER_LOW_GRADE = 1, 2, 4, 8
#: moved down, or up, an income band at least once (kept only where an effect moves incomes,
#: :func:`mark_moves`; not an outcome of the risk ratios)
EVER_INCOME_DOWN, EVER_INCOME_UP = 16, 32
#: outcome name (as the audit calls it) -> its bit
EVER_BITS = {
    "sanctioned": EVER_SANCTIONED,
    "listed": EVER_LISTED,
    "low_grade": EVER_LOW_GRADE,
    "rewarded": EVER_REWARDED,
}


def low_grades(scheme: Scheme) -> list[str]:
    """Grades that a sanction is triggered by; if none is, the grades wholly below the base."""
    by_grade = {g for c in scheme.sanctions if c.trigger.layer is None for g in c.trigger.grades}
    if by_grade:
        return [g.id for g in scheme.grades_high_to_low() if g.id in by_grade]
    return [g.id for g in scheme.grades if g.max < scheme.score.base]


def ever_masks(scheme: Scheme, layout: SchemeLayout) -> tuple[np.ndarray, np.ndarray]:
    """uint8[256]: 1 for each grade index that is low; uint8[groups]: 1 for each reward group."""
    low = np.zeros(256, np.uint8)
    wanted = set(low_grades(scheme))
    for k, g in enumerate(layout.grades):
        low[k] = g in wanted
    rewards = np.array(
        [int(all(c in scheme.rewards for c in members)) for members in layout.groups], np.uint8
    )
    return low, rewards


@njit(cache=True, parallel=True)
def mark_ever(
    flags: np.ndarray,
    list_since: np.ndarray,
    grp_until: np.ndarray,
    grade: np.ndarray,
    low: np.ndarray,
    reward_group: np.ndarray,
    ever: np.ndarray,
    months: np.ndarray,
) -> None:
    """Add this month's state to ``ever`` (bits) and ``months`` (months under a sanction).

    Each person's row is their own, so the result is the same on any number of threads; the
    consequence groups are read only for people with one running (``FLAG_ACTIVE``)."""
    n = len(ever)
    L = list_since.shape[1]
    Q = grp_until.shape[1]
    for i in prange(n):
        f = flags[i]
        bits = ever[i]
        new = bits
        if f & FLAG_SANCTIONED:
            new |= EVER_SANCTIONED
            months[i] += 1
        if f & FLAG_ACTIVE and not new & EVER_REWARDED:
            for q in range(Q):
                if reward_group[q] and grp_until[i, q] >= 0:
                    new |= EVER_REWARDED
                    break
        if not new & EVER_LISTED:
            for li in range(L):
                if list_since[i, li] >= 0:
                    new |= EVER_LISTED
                    break
        if low[grade[i]]:
            new |= EVER_LOW_GRADE
        if new != bits:
            ever[i] = new


@njit(cache=True, parallel=True)
def mark_moves(cell: np.ndarray, bands: int, band: np.ndarray, ever: np.ndarray) -> None:
    """Who moved down or up an income band this month (income is the cell's last trait, of
    ``bands`` levels): :data:`EVER_INCOME_DOWN` and :data:`EVER_INCOME_UP` against ``band``,
    last month's band, which takes this month's. The run's counts of moves (``steps``) count a
    person each month they move; these bits count people."""
    for i in prange(len(ever)):
        now = np.uint8(cell[i] % bands)
        if now < band[i]:
            ever[i] |= EVER_INCOME_DOWN
        elif now > band[i]:
            ever[i] |= EVER_INCOME_UP
        band[i] = now
