"""Generations: people age month by month, and children come of age into scored adults.

Only a population with children (``population.children``) ages; then every person has a month of
birth (:attr:`~scslab.population.individuals.Population.birth`, counted from month 0) and an age
of ``t - birth`` months in recorded month ``t``. The ages drawn describe month 0, so the months of
history before it (``history_months``) run on them unchanged.

At the start of each recorded month ``t >= 1`` the people whose age reaches a band's first month
that month move to that band's cells (:func:`~scslab.engine.kernels.move_cells`): a scan of the
birth column, O(agents), and O(movers) after it. A child who reaches 18 years (216 months) leaves
the children's cells and is scored from then on, from the base, or with ``inherit_record`` from
the score of the household's lowest-scoring adult (with its causes and last negative record).
Household consequences that reach only children end for them in that month's step.

:func:`mark_lineage` keeps, per person, what the audit's ``intergenerational`` section compares
(:data:`CAME_OF_AGE`, :data:`PARENT_SANCTIONED`, and the outcomes as an adult).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from scslab.engine.compiled import FLAG_SANCTIONED, State
from scslab.engine.ever import EVER_SANCTIONED
from scslab.engine.kernels import move_cells
from scslab.population.individuals import AGE_BANDS, BAND_START_MONTHS, INCOME_BANDS

#: lineage bits: came of age during the recorded run; a household adult had been sanctioned in
#: a recorded month before that; sanctioned as an adult; in a low grade as an adult
CAME_OF_AGE, PARENT_SANCTIONED, ADULT_SANCTIONED, ADULT_LOW_GRADE = 1, 2, 4, 8
#: the age level of children (last, after the adult bands), and the cell stride of an age level
CHILD = len(AGE_BANDS)
_STRIDE = len(INCOME_BANDS)


@njit(cache=True)
def _movers(birth: np.ndarray, t: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose age in month ``t`` is one of ``edges`` (months), and the edge's index."""
    n = 0
    for i in range(birth.shape[0]):
        age = t - np.int64(birth[i])
        for e in range(edges.shape[0]):
            if age == edges[e]:
                n += 1
    rows = np.empty(n, np.int64)
    which = np.empty(n, np.int64)
    k = 0
    for i in range(birth.shape[0]):
        age = t - np.int64(birth[i])
        for e in range(edges.shape[0]):
            if age == edges[e]:
                rows[k] = i
                which[k] = e
                k += 1
    return rows, which


@njit(cache=True)
def _come_of_age(
    rows: np.ndarray,
    household: np.ndarray,
    cell: np.ndarray,
    minor: np.ndarray,
    st: State,
    ever: np.ndarray,
    lineage: np.ndarray,
    inherit: bool,
) -> None:
    """Children ``rows`` come of age: mark their lineage, and with ``inherit`` give each the
    score of the household's lowest-scoring adult. Households are contiguous rows."""
    n = household.shape[0]
    for k in range(rows.shape[0]):
        i = rows[k]
        h = household[i]
        lo = i
        while lo > 0 and household[lo - 1] == h:
            lo -= 1
        hi = i + 1
        while hi < n and household[hi] == h:
            hi += 1
        parent = -1
        sanctioned = False
        for j in range(lo, hi):
            if minor[cell[j]] != 0:
                continue  # a child (a sibling coming of age this month too)
            if ever.shape[0] > 0 and ever[j] & EVER_SANCTIONED:
                sanctioned = True
            if parent < 0 or st.score[j] < st.score[parent]:
                parent = j
        if lineage.shape[0] > 0:
            lineage[i] = CAME_OF_AGE | (PARENT_SANCTIONED if sanctioned else 0)
        if inherit and parent >= 0:
            st.score[i] = st.score[parent]
            st.cause[i] = st.cause[parent]
            st.last_neg[i] = st.last_neg[parent]
            for f in range(st.factor.shape[1]):  # a weighted-factor score: its factors too
                st.factor[i, f] = st.factor[parent, f]


#: months at which a person moves: to the first adult band (coming of age), then to each next
EDGES = np.array(BAND_START_MONTHS, np.int64)
#: the change of cell code at each edge: the age level goes from CHILD to 0, then k-1 to k
_DELTAS = np.array([-CHILD * _STRIDE] + [_STRIDE] * (len(BAND_START_MONTHS) - 1), np.int64)


def age_month(
    t: int,
    birth: np.ndarray,
    household: np.ndarray,
    cell: np.ndarray,
    people: np.ndarray,
    minor: np.ndarray,
    state: State,
    ever: np.ndarray,
    lineage: np.ndarray,
    inherit: bool,
) -> int:
    """Before recorded month ``t`` (1 or later): move those whose age reaches a band's first
    month; children reaching 18 come of age first (:func:`_come_of_age`). Returns the movers."""
    rows, which = _movers(birth, t, EDGES)
    if len(rows) == 0:
        return 0
    grown = rows[which == 0]
    if len(grown):
        _come_of_age(grown, household, cell, minor, state, ever, lineage, inherit)
    move_cells(
        cell, people, rows, (cell[rows].astype(np.int64) + _DELTAS[which]).astype(cell.dtype)
    )
    return len(rows)


@njit(cache=True, parallel=True)
def mark_lineage(
    lineage: np.ndarray, flags: np.ndarray, grade: np.ndarray, low: np.ndarray
) -> None:
    """After a recorded month: those who came of age and are now sanctioned or in a low grade
    (``low``: 1 for each low grade index) keep it in their lineage bits."""
    for i in prange(lineage.shape[0]):
        if lineage[i] & CAME_OF_AGE:
            if flags[i] & FLAG_SANCTIONED:
                lineage[i] |= ADULT_SANCTIONED
            if low[grade[i]]:
                lineage[i] |= ADULT_LOW_GRADE
