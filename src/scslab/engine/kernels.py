"""The compiled step: acts, records, points, grades, lists, sanctions and rewards, per person.

One call of :func:`step` advances every person by one month. People are split into fixed blocks
of :data:`BLOCK` rows; blocks run in parallel and each writes only its own rows of the state and its
own slice of the per-step tallies, so results do not depend on the number of threads. Tallies are
integers and are summed over blocks afterwards.

Per person and month the work is: one uniform draw looked up in a precomputed Poisson table for
the person's cell and class (:func:`poisson_cdf`); for the few with events, the kind of each event
(from a guide table, :func:`guide_table`), whether it is recorded, and its points; then decay,
repair, grade, lists and consequence groups, each a handful of comparisons. Consequences that go
on from last month cost nothing: the step counts starts and ends, and :func:`carry_running` the
rest. That is O(agents + events) per step. The tables are built so that every draw gives what a
plain computation gives, bit for bit (``tests/engine/test_tables.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit, prange

from scslab.engine.compiled import (
    ALL_CAUSES,
    AP_DUE,
    AP_EVENT,
    AP_FALSE,
    AP_LISTS,
    AP_MONTH,
    AP_POINTS,
    AP_PREV,
    BY_SEVERITY,
    EFFECT_POINTS,
    EFFECT_SHIFT,
    FLAG_ACTIVE,
    FLAG_PANEL,
    FLAG_SANCTIONED,
    HIST_BINS,
    MARK_BELOW,
    MARK_LISTED,
    MARKS,
    N_DOMAINS,
    NEVER,
    NO_CAUSE,
    OPEN,
    REVERSAL,
    RIGHTS,
    TAINT,
    SchemeArrays,
    State,
)
from scslab.population.individuals import INCOME_BANDS
from scslab.rng import (
    SLOT_SEVERITY,
    STREAM_APPEALS,
    STREAM_ATTEMPT_COUNTS,
    STREAM_ATTEMPTS,
    STREAM_COUNTS,
    STREAM_EVENTS,
    STREAM_FALSE,
    STREAM_FULFIL,
    STREAM_LIVES,
    STREAM_NETWORK,
    STREAM_OBSERVE,
    STREAM_REPAIR,
    STREAM_SHAME,
    step_key,
    uniform,
    uniform_pair,
)
from scslab.schemes.model import DOMAINS

BLOCK = 1 << 16
RELATIONSHIPS = DOMAINS.index("relationships")
MAX_EVENTS = 30  # events per person and month (at least 3); the Poisson tail beyond it is cut
NEVER_NEEDED = 65535  # friend_needs of someone without friends: no count of low friends reaches it
PANEL_FIELDS = 6  # person, act, event kind (0 true, 1 false), recorded, points applied, event
#: list flows by way, the last axis of ``Tally.lflow``: an entry, then exits by reason
LIST_WAYS = 4
ENTRY, EXPIRY, REPAIR, FULFILMENT = 0, 1, 2, 3
EXIT_REASONS = ("expiry", "repair", "fulfilment")
#: effects on lives, the last axis of ``Tally.lives``: person-months under an effect on income,
#: people moved down and the bands they lost, people moved up and the bands they gained (by the
#: cell they left), person-months under public shaming (ties) and under refusal (contracts), and
#: each cell's net gain of people from income moves this month, and its people this month
LIVES_SLOTS = 9
IN_INCOME, MOVED_DOWN, BANDS_DOWN, MOVED_UP, BANDS_UP, SHAMED, REFUSED, NET, PRESENT = range(
    LIVES_SLOTS
)
LIVES_NAMES = (
    "income_exposed",
    "income_moved_down",
    "income_bands_lost",
    "income_moved_up",
    "income_bands_gained",
    "shamed",
    "refused_by_partners",
)
N_INCOME = len(INCOME_BANDS)  # income is a person's last trait: cell % N_INCOME is the band


def exit_reasons(appeals: bool) -> tuple[str, ...]:
    """The reasons list exits are counted by: :data:`EXIT_REASONS`, and ``appeal`` with appeals."""
    return EXIT_REASONS + (("appeal",) if appeals else ())


#: the way of an exit on appeal: only a scheme with appeals has it (its lflow has LIST_WAYS + 1)
APPEAL = 4
#: appeal counts by cell, the last axis of ``Tally.appeals`` (empty without appeals): appeals
#: lodged; decided, won or lost, of false and true records; listings removed on appeal, of false
#: and true records, and the months they had lasted; consequences ended on appeal
APPEAL_COUNTS = (
    "lodged",
    "won_false",
    "won_true",
    "lost_false",
    "lost_true",
    "corrected_false",
    "months_false",
    "corrected_true",
    "months_true",
    "consequences_ended",
)
LODGED, WON_FALSE, WON_TRUE, LOST_FALSE, LOST_TRUE = 0, 1, 2, 3, 4
CORRECTED_FALSE, MONTHS_FALSE, CORRECTED_TRUE, MONTHS_TRUE, CONSEQUENCES_ENDED = 5, 6, 7, 8, 9

#: bit indices by de Bruijn hashing (Leiserson, Prokop & Randall 1998), see :func:`_bit_index`
_DE_BRUIJN = 0x03F79D71B4CB0A89
_BIT_OF = np.zeros(64, np.int64)
for _d in range(64):
    _BIT_OF[(((1 << _d) * _DE_BRUIJN) % 2**64) >> 58] = _d


class Draws(NamedTuple):
    """Rate tables for the step (see :mod:`scslab.behaviour.rates`), made by :func:`draws`."""

    cdf: np.ndarray  # float64[cells, classes, MAX_EVENTS]: P(at most k scored acts this month)
    cum: np.ndarray  # float64[cells, classes, S]: which scored act
    guide: np.ndarray  # uint8 (or uint16)[cells, classes, G]: where :func:`_pick` starts in ``cum``
    act: np.ndarray  # int32[S]: catalogue index of each scored act
    fcdf: np.ndarray  # float64[cells, 1, MAX_EVENTS]: P(at most k false records this month)
    fcum: np.ndarray  # float64[cells, 1, F]
    fguide: np.ndarray  # uint8 (or uint16)[cells, 1, G]
    fact: np.ndarray  # int32[F]: catalogue index of each false-record kind
    p_detect: np.ndarray  # float64[acts, regions]
    unscored: np.ndarray  # int32[U]
    u_rate: np.ndarray  # float64[cells, U]
    u_false: np.ndarray  # float64[cells, U]
    attempt: np.ndarray  # int32[V]: catalogue index of each attempt act
    a_rate: np.ndarray  # float64[cells, V]: attempts per person-month
    a_false: np.ndarray  # float64[cells, V]: false records per person-month
    a_cdf: np.ndarray  # float64[cells, V, MAX_EVENTS]: P(at most k attempts this month)
    #: float64[2, acts, regions]: P(recorded) of a personal act, by sanctioned or not (avoidance)
    p_seen: np.ndarray
    #: points by channel: float64[K, regions], compiled.first_channel; float64[0, 0] if unused
    ch_first: np.ndarray
    fchan: np.ndarray  # int32[F]: the channel (index in CHANNELS) of each false-record kind
    #: uint8[F]: 1 for each false-record kind of a channel the scheme takes (a layer's
    #: ``channels:``), 0 for one it does not receive; uint8[0]: it takes every channel
    fseen: np.ndarray


def draws(
    lam: np.ndarray,
    cum: np.ndarray,
    act: np.ndarray,
    flam: np.ndarray,
    fcum: np.ndarray,
    fact: np.ndarray,
    p_detect: np.ndarray,
    unscored: np.ndarray,
    u_rate: np.ndarray,
    u_false: np.ndarray,
    attempt: np.ndarray | None = None,
    a_rate: np.ndarray | None = None,
    a_false: np.ndarray | None = None,
    p_avoid: np.ndarray | None = None,
    ch_first: np.ndarray | None = None,
    fchan: np.ndarray | None = None,
    fseen: np.ndarray | None = None,
) -> Draws:
    """The step's tables from monthly rates: ``lam[cells, classes]`` scored acts per person and
    ``cum`` their kinds' running sums; ``flam[cells]`` and ``fcum[cells, F]`` for false records;
    ``a_rate[cells, V]`` attempts (:class:`scslab.behaviour.rates.RateTables`)."""
    if attempt is None or a_rate is None or a_false is None:
        attempt = np.zeros(0, np.int32)
        a_rate = a_false = np.zeros((u_rate.shape[0], 0))
    fcum = fcum[:, None, :]
    for c in (cum, fcum):  # the last kind ends the search of _pick
        if c.shape[-1] and not np.all(c[..., -1] == 1.0):
            raise ValueError("a running sum of kinds must end at exactly 1")
    return Draws(
        cdf=poisson_cdf(lam),
        cum=np.ascontiguousarray(cum),
        guide=guide_table(cum),
        act=act,
        fcdf=poisson_cdf(flam[:, None]),
        fcum=np.ascontiguousarray(fcum),
        fguide=guide_table(fcum),
        fact=fact,
        p_detect=np.ascontiguousarray(p_detect),
        unscored=unscored,
        # C order whatever the rate tables' (a column pick can leave them in F order): the step
        # and count_unscored are then compiled for one layout, not one per layout
        u_rate=np.ascontiguousarray(u_rate),
        u_false=np.ascontiguousarray(u_false),
        attempt=attempt,
        a_rate=np.ascontiguousarray(a_rate),
        a_false=np.ascontiguousarray(a_false),
        a_cdf=poisson_cdf(a_rate),
        p_seen=np.ascontiguousarray(
            np.stack([p_detect, p_detect if p_avoid is None else p_avoid]), np.float64
        ),
        ch_first=np.zeros((0, 0)) if ch_first is None else np.ascontiguousarray(ch_first),
        fchan=np.full(len(fact), -1, np.int32) if fchan is None else fchan.astype(np.int32),
        fseen=np.zeros(0, np.uint8) if fseen is None else fseen.astype(np.uint8),
    )


def poisson_cdf(lam: np.ndarray) -> np.ndarray:
    """``out[..., k]``: P(at most k events) of a Poisson(``lam``) count, for k < MAX_EVENTS.

    Summed term by term exactly as :func:`_poisson_count` sums it, so that looking a count up in
    the table (:func:`_count_below`) gives the same count, bit for bit, without a division per
    event in the step. ``k`` comes last, so that the entries one person reads share a cache line.
    """
    p = np.exp(-lam)
    cdf = p.copy()
    out = np.empty((*lam.shape, MAX_EVENTS))
    out[..., 0] = cdf
    for k in range(1, MAX_EVENTS):
        p *= lam / k
        cdf += p
        out[..., k] = cdf
    return out


def guide_table(cum: np.ndarray) -> np.ndarray:
    """``out[..., m]``: the first kind ``k`` with ``cum[..., k] > m / G`` (at most the last kind),
    for ``G`` a power of two at least four times the number of kinds: where :func:`_pick` starts.

    An indexed search (Chen & Asau 1974): a draw ``u`` starts at ``out[..., floor(u G)]`` and
    moves on past the kinds whose cumulative share is at most ``u``: none for most draws, since
    at most one bucket in four holds the end of a kind.
    """
    kinds = cum.shape[-1]
    if kinds > 2**16:
        raise ValueError(f"{kinds} kinds of act; at most {2**16} can be drawn")
    G = 1 << (4 * kinds - 1).bit_length() if kinds > 0 else 1
    edges = np.arange(G) / G
    first = np.clip((cum[..., None, :] <= edges[:, None]).sum(axis=-1), 0, max(kinds - 1, 0))
    # the smallest type that holds a kind: the table is read once per act, and should stay in L1
    return np.ascontiguousarray(first, dtype=np.uint8 if kinds <= 2**8 else np.uint16)


class Traits(NamedTuple):
    cell: np.ndarray  # uint16[N]
    region: np.ndarray  # uint8[N]
    indptr: np.ndarray  # int64[N+1] of the friendship network, or int64[0]
    friends: np.ndarray  # int32[edges]
    low: np.ndarray  # uint8[rules, ceil(N/8)]: whom each rule marked last month (mark_rules)
    low_friends: np.ndarray  # uint16[rules, N]: low-scoring friends, kept up to date; or [0, 0]
    need: np.ndarray  # uint16[rules, N]: low friends that trigger rule r (friend_needs); or [0, 0]
    household: np.ndarray  # int32[N]
    hh_trig: np.ndarray  # int64[H]: household-triggered groups due, from last month; or int64[0]
    hh_cause: np.ndarray  # uint32[H]: the causes behind them
    offended: np.ndarray  # uint8[2, groups]: [household, neighbourhood] with a negative record
    neighbourhood: int  # households per neighbourhood group
    #: acts decided outside the kernel this month (a broken contract, scslab.engine.contracts):
    #: how many each person commits, uint8[N] or uint8[0]; and which act (catalogue index)
    injected: np.ndarray = np.zeros(0, np.uint8)
    injected_act: int = -1
    #: uint8[cells]: 1 for a cell of children (age 0-17), who are not scored; or uint8[0]
    minor: np.ndarray = np.zeros(0, np.uint8)
    #: int64[H]: household groups that two or more members set off (for ``reaches: spouse``)
    hh_two: np.ndarray = np.zeros(0, np.int64)
    #: leaves on other layers' lists and grades (``layer:``), filled before the step by
    #: scslab.engine.links: uint16[N] the leaf bits that hold (SchemeLayout.external; a scheme
    #: has at most MAX_LEAVES), and uint32[N] the causes behind them; [0] in a run without them
    ext: np.ndarray = np.zeros(0, np.uint16)
    ext_why: np.ndarray = np.zeros(0, np.uint32)
    #: uint8[N]: each person's rate class, given from outside the step (a layered run's shared
    #: acts, scslab.engine.world: sanctioned by any layer in force over them); uint8[0]: the
    #: class is the run's own (sanctioned or not, and its act effects running)
    cls: np.ndarray = np.zeros(0, np.uint8)


class Tally(NamedTuple):
    """Per-block counts for one step; axis 0 is the block."""

    ev_true: np.ndarray  # int32[B, cells, acts]
    ev_rec: np.ndarray  # int32[B, cells, acts]: all records, false ones included
    ev_false: np.ndarray  # int32[B, cells, acts]
    grade: np.ndarray  # int32[B, cells, G]
    score_sum: np.ndarray  # int64[B, cells]
    listed: np.ndarray  # int32[B, cells, L]
    dom_s: np.ndarray  # int32[B, cells, domains]: people under a sanction in each domain
    dom_r: np.ndarray  # int32[B, cells, domains]: people with a reward in each domain
    grp_active: np.ndarray  # int32[B, cells, Q]
    #: int32[B, 3, L+Q, domains+2, MARKS]: [start, end, running], item, cause, marks; the step
    #: counts starts and ends, and :func:`carry_running` the consequences running
    flow: np.ndarray
    anyc: np.ndarray  # int32[B, cells, 2]: people under at least one sanction, one reward
    hist: np.ndarray  # int32[B, HIST_BINS]: people by score, in equal bins over min..max
    #: int32[B, cells, L, 4]: list entries, and exits by expiry, repair and fulfilment
    lflow: np.ndarray
    blocked: np.ndarray  # int32[B, cells, V]: attempts refused by a running sanction
    banned: np.ndarray  # int32[B, cells, V]: people refused each attempt act this month
    appeals: np.ndarray  # int32[B, cells, APPEAL_COUNTS], or [B, cells, 0] without appeals
    lives: np.ndarray  # int32[B, cells, LIVES_SLOTS] (or [B, 0, 0]): effects on lives
    #: int64[B, cells, Q] (or [B, 0, 0] where no consequence has one): the points that groups'
    #: ``points:`` effects moved scores by as they started, in engine integers
    effpts: np.ndarray
    pev: np.ndarray  # int32[B, cap, PANEL_FIELDS]: events of panel members
    pev_n: np.ndarray  # int32[B]


@njit(cache=True)
def n_blocks(n: int) -> int:
    return (n + BLOCK - 1) // BLOCK


def allocate_tally(
    n: int,
    cells: int,
    acts: int,
    grades: int,
    lists: int,
    groups: int,
    panel_per_block: int,
    attempts: int = 0,
    appeals: bool = False,
    lives: bool = False,
    points: int = 0,
) -> Tally:
    """Zeroed tallies; with ``appeals``, list exits on appeal and the appeal counts too;
    ``points``: how many groups have a ``points:`` effect (their starts are counted and logged)."""
    B = n_blocks(n)
    D = N_DOMAINS
    i32 = np.int32
    return Tally(
        ev_true=np.zeros((B, cells, acts), i32),
        ev_rec=np.zeros((B, cells, acts), i32),
        ev_false=np.zeros((B, cells, acts), i32),
        grade=np.zeros((B, cells, grades), i32),
        score_sum=np.zeros((B, cells), np.int64),
        listed=np.zeros((B, cells, lists), i32),
        dom_s=np.zeros((B, cells, D), i32),
        dom_r=np.zeros((B, cells, D), i32),
        grp_active=np.zeros((B, cells, groups), i32),
        flow=np.zeros((B, 3, lists + groups, D + 2, MARKS), i32),
        anyc=np.zeros((B, cells, 2), i32),
        hist=np.zeros((B, HIST_BINS), i32),
        lflow=np.zeros((B, cells, lists, LIST_WAYS + int(appeals)), i32),
        blocked=np.zeros((B, cells, attempts), i32),
        banned=np.zeros((B, cells, attempts), i32),
        appeals=np.zeros((B, cells, len(APPEAL_COUNTS) if appeals else 0), i32),
        lives=np.zeros((B, cells, LIVES_SLOTS) if lives else (B, 0, 0), i32),
        effpts=np.zeros((B, cells, groups) if points else (B, 0, 0), np.int64),
        # per panel person and month: acts, false records, network (8) and collective (4)
        # rules, a record reversed on appeal, and the points effects of consequences started
        pev=np.zeros((B, panel_per_block * (2 * MAX_EVENTS + 13 + points) + 1, PANEL_FIELDS), i32),
        pev_n=np.zeros(B, i32),
    )


@njit(cache=True, inline="always")
def _bit_index(low: int) -> int:
    """The index of the one set bit of ``low`` (a mask ``m & -m``), in a multiply and a lookup.

    Loops over the set bits of a mask use it: ``low = m & -m; d = _bit_index(low); m ^= low``.
    """
    return _BIT_OF[(np.uint64(low) * np.uint64(_DE_BRUIJN)) >> np.uint64(58)]


def clear_tally(A: Tally) -> None:
    """Zero the tallies for a new step. Of the panel's event buffer only the counts: rows past
    them are never read."""
    for name, counts in zip(A._fields, A, strict=True):
        if name != "pev":
            counts.fill(0)


@njit(cache=True, inline="always")
def _count_causes(flow: np.ndarray, b: int, way: int, item: int, cause: np.uint32) -> None:
    """Count one flow: once in the ALL slot, and once per cause domain (NO_CAUSE if none).

    Indices, not a view: taking views in the hot loop costs reference counting shared by threads.
    """
    mark = (1 if cause & TAINT else 0) + (2 if cause & RIGHTS else 0)
    flow[b, way, item, ALL_CAUSES, mark] += 1
    m = np.int64(cause & ~(TAINT | RIGHTS))
    if m == 0:
        flow[b, way, item, NO_CAUSE, mark] += 1
    while m:  # set bits only: a late domain would otherwise cost a pass over every earlier one
        low = m & -m
        flow[b, way, item, _bit_index(low), mark] += 1
        m ^= low


@njit(cache=True, inline="always")
def _is_low(bits: np.ndarray, j: int) -> int:
    """Bit ``j`` of a packed row of :func:`mark_rules`."""
    return (bits[j >> 3] >> (j & 7)) & 1


@njit(cache=True, inline="always")
def _status_mark(kind: int, arg: int, grade: np.ndarray, list_since: np.ndarray, j: int) -> int:
    """Person ``j``'s mark under a list rule (on list ``arg``) or a grade rule (in a grade of
    the bit mask ``arg``), from their own state."""
    if kind == MARK_LISTED:
        return 1 if list_since[j, arg] >= 0 else 0
    g = np.int64(grade[j])
    return np.int64((arg >> g) & 1) if g < 63 else 0


@njit(cache=True, parallel=True)
def mark_rules(
    score: np.ndarray,
    grade: np.ndarray,
    list_since: np.ndarray,
    kind: np.ndarray,
    arg: np.ndarray,
    ghost: np.ndarray,
    base: int,
    out: np.ndarray,
) -> None:
    """``out[r]``: bit ``j`` set if person ``j`` is marked by rule ``r`` (8 people a byte): scores
    below ``arg[r]`` (``kind[r]`` :data:`MARK_BELOW`), is on list ``arg[r]`` (``MARK_LISTED``) or
    in a grade of the mask ``arg[r]`` (``MARK_GRADES``), all as the state stands.

    Rows below ``len(grade)`` are one's own people; from row ``base`` on come a shard's ghosts,
    whose scores are in ``score`` and whose list and grade marks in ``ghost`` (bit ``r`` of a
    byte each, made by their own shard with :func:`status_marks`). Friends are read through
    these bits: an eighth of a byte per person keeps a whole county's, or a country's, marked
    people in cache while the friends are scanned.
    """
    n = score.shape[0]
    own = grade.shape[0]
    for k in prange((n + 7) // 8):
        for r in range(kind.shape[0]):
            kr, ar = kind[r], arg[r]
            byte = 0
            for j in range(8 * k, min(n, 8 * k + 8)):
                if kr == MARK_BELOW:
                    hit = 1 if score[j] < ar else 0
                elif j < own:
                    hit = _status_mark(kr, ar, grade, list_since, j)
                elif j >= base:
                    hit = (np.int64(ghost[j - base]) >> r) & 1
                else:
                    hit = 0
                byte |= hit << (j - 8 * k)
            out[r, k] = byte


@njit(cache=True)
def status_marks(
    grade: np.ndarray, list_since: np.ndarray, kind: np.ndarray, arg: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """For each of ``rows``: bit ``r`` set if the person is marked by list or grade rule ``r``
    (see :func:`mark_rules`): what a shard sends with its people's scores to the shards where
    their friends live."""
    out = np.zeros(rows.shape[0], np.uint8)
    for k in range(rows.shape[0]):
        byte = 0
        for r in range(kind.shape[0]):
            if kind[r] != MARK_BELOW:
                byte |= _status_mark(kind[r], arg[r], grade, list_since, rows[k]) << r
        out[k] = byte
    return out


@njit(cache=True, _nrt=False)
def mark_households(S: SchemeArrays, st: State, T: Traits) -> None:
    """For each household, the household-triggered groups its members' state sets, and why
    (``T.hh_trig``, ``T.hh_cause``; with ``T.hh_two``, those two members or more set).

    Run before a step, so that a member's grade or listing reaches the others the month after.
    Children (``T.minor``) are not scored and set nothing off.
    """
    household, hh_trig, hh_cause, hh_two = T.household, T.hh_trig, T.hh_cause, T.hh_two
    hh_trig[:] = 0
    hh_cause[:] = 0
    hh_two[:] = 0
    minors = T.minor.shape[0] > 0
    for i in range(household.shape[0]):
        if minors and T.minor[T.cell[i]] != 0:
            continue
        h = household[i]
        due = S.hh_score_groups[np.int64(st.score[i]) - S.score_min]
        why = st.cause[i] if due != 0 else np.uint32(0)
        for li in range(st.list_since.shape[1]):
            if st.list_since[i, li] >= 0 and S.hh_list_groups[li] != 0:
                due |= S.hh_list_groups[li]
                why |= st.list_cause[i, li]
        if hh_two.shape[0] > 0:
            hh_two[h] |= hh_trig[h] & due
        hh_trig[h] |= due
        hh_cause[h] |= why


@njit(cache=True, inline="always")
def _household_due(S: SchemeArrays, st: State, i: int) -> int:
    """The household groups person ``i``'s score and listings set off."""
    due = S.hh_score_groups[np.int64(st.score[i]) - S.score_min]
    for li in range(st.list_since.shape[1]):
        if st.list_since[i, li] >= 0:
            due |= S.hh_list_groups[li]
    return due


@njit(cache=True)
def move_cells(cell: np.ndarray, people: np.ndarray, rows: np.ndarray, to: np.ndarray) -> None:
    """Move ``rows`` to the cells ``to`` (outside the step), keeping ``people[c]``, the count of
    people in each cell, equal to the count of ``cell``. The one way a person changes cell
    between steps: ageing (children coming of age included)."""
    for k in range(rows.shape[0]):
        i = rows[k]
        people[cell[i]] -= 1
        cell[i] = to[k]
        people[to[k]] += 1


@njit(cache=True)
def mark_offenders(
    last_neg: np.ndarray, household: np.ndarray, per_neighbourhood: int, t: int, out: np.ndarray
) -> None:
    """``out[0, h]`` and ``out[1, g]``: household ``h`` and neighbourhood ``g`` had a member with a
    negative record in month ``t - 1``."""
    out[:] = 0
    for i in range(household.shape[0]):
        if last_neg[i] == t - 1:
            h = household[i]
            out[0, h] = 1
            out[1, h // per_neighbourhood] = 1


@njit(cache=True, parallel=True)
def count_low_friends(
    indptr: np.ndarray, friends: np.ndarray, low: np.ndarray, out: np.ndarray
) -> None:
    """``out[r, i]``: how many of ``i``'s friends are marked in ``low[r]``. O(ties)."""
    n = indptr.shape[0] - 1
    for i in prange(n):
        for r in range(out.shape[0]):
            k = 0
            for f in range(indptr[i], indptr[i + 1]):
                k += _is_low(low[r], friends[f])
            out[r, i] = k


def friend_needs(indptr: np.ndarray, share: np.ndarray) -> np.ndarray:
    """``out[r, i]``: how many low-scoring friends set off network rule ``r`` for person ``i``,
    the least whole number at or above ``share[r]`` times their friends (never, with none)."""
    degree = np.diff(indptr)
    if degree.size and degree.max() > NEVER_NEEDED:  # the network's generator caps degrees there
        raise ValueError(f"a person has {degree.max()} friends; low friends are counted in uint16")
    need = np.ceil(share[:, None] * degree[None, :])
    need[:, degree == 0] = NEVER_NEEDED
    return need.astype(np.uint16)


@njit(cache=True)
def update_low_friends(
    indptr: np.ndarray, friends: np.ndarray, before: np.ndarray, after: np.ndarray, out: np.ndarray
) -> int:
    """Bring ``out`` (see :func:`count_low_friends`) from marks ``before`` to marks ``after``.

    Only people who crossed a threshold are visited, and through their own friends: on a
    symmetric network those are exactly the people who count them. O(crossers' ties). Returns
    the number of crossings.
    """
    crossed = 0
    for r in range(out.shape[0]):
        for k in range(before.shape[1]):
            change = np.int64(before[r, k]) ^ np.int64(after[r, k])
            if change == 0:
                continue
            for bit in range(8):
                if (change >> bit) & 1:
                    j = 8 * k + bit
                    delta = 1 if (np.int64(after[r, k]) >> bit) & 1 else -1
                    for f in range(indptr[j], indptr[j + 1]):
                        out[r, friends[f]] += delta
                    crossed += 1
    return crossed


@njit(cache=True, inline="always")
def _poisson_count(u: float, p0: float, lam: float) -> int:
    """The Poisson(lam) count whose CDF interval holds ``u`` (inversion; ``p0 = exp(-lam)``)."""
    if u < p0:
        return 0
    p = p0
    cdf = p0
    k = 0
    while u >= cdf and k < MAX_EVENTS:
        k += 1
        p *= lam / k
        cdf += p
    return k


@njit(cache=True, inline="always")
def _count_below(cdf: np.ndarray, row: int, col: int, u: float) -> int:
    """The count whose interval of ``cdf[row, col]`` (:func:`poisson_cdf`) holds ``u``: what
    :func:`_poisson_count` returns for the same ``u``.

    Past zero, the next two comparisons are added up rather than branched on: a random count is a
    branch the processor cannot predict, and most counts are below three.
    """
    if u < cdf[row, col, 0]:
        return 0
    k = 1 + np.int64(u >= cdf[row, col, 1]) + np.int64(u >= cdf[row, col, 2])
    if k == 3:
        while k < MAX_EVENTS and u >= cdf[row, col, k]:
            k += 1
    return k


@njit(cache=True, inline="always")
def _pick(cum: np.ndarray, guide: np.ndarray, row: int, col: int, u: float) -> int:
    """The kind ``k`` with ``cum[row, col, k-1] <= u < cum[row, col, k]``, found from the guide
    table ``guide`` (:func:`guide_table`). The last entry of ``cum`` is 1 and ``u < 1``.

    The first two steps are added rather than branched on (see :func:`_count_below`).
    """
    k = np.int64(guide[row, col, np.int64(u * guide.shape[2])])
    while cum[row, col, k] <= u:
        k += 1
    return k


@njit(cache=True, inline="always")
def _apply_points(S: SchemeArrays, st: State, i: int, points: int, cat: int) -> int:
    """Move person ``i``'s score by ``points`` within the category cap; return the change made.

    Written with selects rather than early returns: which act comes next is random, and so is
    whether a cap is reached, so branches on them are mispredicted.
    """
    mag = abs(points)
    if cat >= 0:
        mag = min(mag, max(S.cat_cap[cat] - np.int64(st.cat_used[i, cat]), 0))
        st.cat_used[i, cat] += mag
    old = np.int64(st.score[i])
    new = min(max(old + (mag if points > 0 else -mag), S.score_min), S.score_max)
    st.score[i] = new
    return new - old


@njit(cache=True, inline="always")
def _factor_score(S: SchemeArrays, st: State, i: int) -> int:
    """A weighted-factor score: base plus the weighted sum of the factors' distances from base,
    rounded half up, within min..max."""
    x = 0.0
    for f in range(S.fac_weight.shape[0]):
        x += S.fac_weight[f] * (np.int64(st.factor[i, f]) - S.base)
    return min(max(S.base + np.int64(np.floor(x + 0.5)), S.score_min), S.score_max)


@njit(cache=True, inline="always")
def _apply_factor(S: SchemeArrays, st: State, i: int, points: int, cat: int, fac: int) -> int:
    """:func:`_apply_points` on factor ``fac``'s score; the score is recomputed from the factors.
    Returns the change of the score."""
    mag = abs(points)
    if cat >= 0:
        mag = min(mag, max(S.cat_cap[cat] - np.int64(st.cat_used[i, cat]), 0))
        st.cat_used[i, cat] += mag
    had = np.int64(st.factor[i, fac])
    st.factor[i, fac] = min(max(had + (mag if points > 0 else -mag), S.score_min), S.score_max)
    old = np.int64(st.score[i])
    new = _factor_score(S, st, i)
    st.score[i] = new
    return new - old


@njit(cache=True, inline="always")
def _points_of(
    S: SchemeArrays,
    D: Draws,
    e: int,
    false: bool,
    fk: int,
    u: float,
    ru: int,
    kob: int,
    gi: int,
    j: int,
) -> int:
    """The points of a record of event ``e`` scored by channel or severity: a true record is the
    first listed channel's that saw it (``u`` drew whether any did), a false one its own
    channel's; a severity is drawn on its own slot of the observation stream."""
    lo = S.ev_alt[e]
    hi = S.ev_alt[e + 1]
    if S.ev_by[e] == BY_SEVERITY:
        v = uniform(kob, gi, SLOT_SEVERITY + j)
        k = lo
        while k < hi - 1 and S.alt_cum[k] <= v:
            k += 1
        return S.alt_points[k]
    for k in range(lo, hi):
        if (D.fchan[fk] == S.alt_channel[k]) if false else (u < D.ch_first[k, ru]):
            return S.alt_points[k]
    return S.ev_points[e]


@njit(cache=True, inline="always")
def _log(
    A: Tally, b: int, i: int, act: int, false: int, recorded: int, applied: int, event: int
) -> None:
    """One row of a panel person's events, if the block's buffer has room."""
    w = A.pev_n[b]
    if w < A.pev.shape[1]:
        A.pev[b, w, 0] = i
        A.pev[b, w, 1] = act
        A.pev[b, w, 2] = false
        A.pev[b, w, 3] = recorded
        A.pev[b, w, 4] = applied
        A.pev[b, w, 5] = event
        A.pev_n[b] = w + 1


@njit(cache=True, inline="always")
def _rule_points(
    S: SchemeArrays,
    st: State,
    A: Tally,
    b: int,
    i: int,
    gi: int,
    pts: int,
    cat: int,
    code: int,
    panel: bool,
    fac: int = -1,
) -> None:
    """Points a rule (network or collective) charges; its cause is the relationships domain.

    ``i`` is the person's row, ``gi`` their index in the whole population (logged); ``fac`` the
    factor it moves in a weighted-factor score."""
    if fac < 0:
        applied = _apply_points(S, st, i, pts, cat)
    else:
        applied = _apply_factor(S, st, i, pts, cat, fac)
    if pts < 0 and applied != 0:
        st.cause[i] |= np.uint32(1 << RELATIONSHIPS)
    if panel and applied != 0:
        _log(A, b, gi, code, 0, 1, applied, -1)


@njit(cache=True)
def _start_points(
    S: SchemeArrays,
    st: State,
    A: Tally,
    b: int,
    c: int,
    i: int,
    gi: int,
    q: int,
    why: np.uint32,
    panel: bool,
) -> None:
    """Group ``q``'s ``points:`` effect as it starts for person ``i``: the score (a factor's, in
    a weighted-factor score) moves once, within the category's cap and the range; a deduction
    carries the consequence's causes ``why`` into the score's. Counted by group and cell, and
    logged for a panel person as act ``EFFECT_POINTS - q`` with the points it moved.

    The month's grade was taken before (step 5): the person's grade, and the month's grade
    counts, score sum and histogram, follow the new score; lists and triggers read it from the
    next month."""
    was = np.int64(st.score[i])
    pts = np.int64(S.grp_points[q])
    if S.grp_points_fac[q] < 0:
        applied = _apply_points(S, st, i, pts, S.grp_points_cat[q])
    else:
        applied = _apply_factor(S, st, i, pts, S.grp_points_cat[q], S.grp_points_fac[q])
    if applied == 0:
        return
    A.effpts[b, c, q] += applied
    if pts < 0:
        st.cause[i] |= why
    if panel:
        _log(A, b, gi, EFFECT_POINTS - q, 0, 1, applied, -1)
    now = np.int64(st.score[i])
    A.score_sum[b, c] += now - was
    A.hist[b, S.hist_of[was - S.score_min]] -= 1
    A.hist[b, S.hist_of[now - S.score_min]] += 1
    if S.grade_of.shape[0] > 0:
        g = np.int64(S.grade_of[now - S.score_min])
        A.grade[b, c, np.int64(st.grade[i])] -= 1
        A.grade[b, c, g] += 1
        st.grade[i] = g


@njit(cache=True, inline="always")
def _sets_off(S: SchemeArrays, st: State, i: int, e: int, t: int) -> bool:
    """Whether a record of event ``e`` in month ``t`` starts a sanction that its event triggers
    (one not running, or ending this month): such a record may be objected to."""
    evq = S.ev_groups[e]
    while evq:
        low = evq & -evq
        evq ^= low
        q = _bit_index(low)
        until = np.int64(st.grp_until[i, q])
        if S.grp_sanction[q] == 1 and (until < 0 or (S.grp_duration[q] > 0 and t >= until)):
            return True
    return False


@njit(cache=True)
def _lodge_appeal(
    S: SchemeArrays,
    st: State,
    A: Tally,
    b: int,
    c: int,
    i: int,
    t: int,
    e: int,
    applied: int,
    prev: int,
    entered: int,
    false: bool,
    u: float,
) -> None:
    """A negative record made in month ``t`` that moved points or entered a list (one that changed
    nothing is not worth an objection): objected to with ``S.app_object`` (draw ``u``)
    while no appeal of the person's is pending; decided ``S.app_delay`` months later.

    ``prev`` is the person's last negative month before the record, ``entered`` the lists it
    put them on. A later negative record in the same month as a pending one's keeps that month
    as the last negative one, whatever the appeal's outcome."""
    ap = st.appeal
    if ap[i, AP_DUE] >= 0:
        if ap[i, AP_MONTH] == t:
            ap[i, AP_PREV] = t
        return
    if u >= S.app_object:
        return
    ap[i, AP_DUE] = t + S.app_delay
    ap[i, AP_EVENT] = e
    ap[i, AP_POINTS] = applied
    ap[i, AP_MONTH] = t
    ap[i, AP_PREV] = prev
    ap[i, AP_LISTS] = entered
    ap[i, AP_FALSE] = 1 if false else 0
    A.appeals[b, c, LODGED] += 1


@njit(cache=True)
def _decide_appeal(
    S: SchemeArrays,
    st: State,
    A: Tally,
    b: int,
    c: int,
    i: int,
    t: int,
    u: float,
    gi: int,
    panel: bool,
) -> None:
    """Person ``i``'s pending appeal, due in month ``t``, decided before the month's records.

    Won (draw ``u`` below the success chance for a false or a true record): the record's points
    are reversed, exactly what it applied, within the score range, and given back to its
    category's cap if the cap window is the same; the month of the last negative record goes back
    to what it was before, unless a later one came; a listing the record entered that is still
    the same listing (entered in the record's month) ends, counted as an exit on appeal, with the
    consequence groups that it started and that have a duration (those that last while the listing
    does end in this month's step, as the list no longer holds); the consequence groups that the
    record's event set off (their trigger needs it) and that started in the record's month end; the
    record leaves the latest records a count in a window keeps. Consequences triggered by grade,
    score or a count follow the corrected state by the normal rules. A panel person's reversal is
    logged as act :data:`REVERSAL` with the points given back."""
    ap = st.appeal
    false = ap[i, AP_FALSE] == 1
    ap[i, AP_DUE] = -1
    if u >= (S.app_false if false else S.app_true):
        A.appeals[b, c, LOST_FALSE if false else LOST_TRUE] += 1
        return
    A.appeals[b, c, WON_FALSE if false else WON_TRUE] += 1
    month = np.int64(ap[i, AP_MONTH])
    applied = np.int64(ap[i, AP_POINTS])
    e = np.int64(ap[i, AP_EVENT])
    back = np.int64(0)  # the change of the score the reversal makes
    if applied != 0:
        before = np.int64(st.score[i])
        f = S.ev_factor[e]
        if f >= 0:  # a weighted-factor score: the record's factor, then the score again
            had = np.int64(st.factor[i, f])
            st.factor[i, f] = min(max(had - applied, S.score_min), S.score_max)
            score = _factor_score(S, st, i)
        else:
            score = min(max(np.int64(st.score[i]) - applied, S.score_min), S.score_max)
        st.score[i] = score
        cat = S.ev_cat[ap[i, AP_EVENT]]
        W = S.cap_window
        if W == 0 or month // W == t // W:
            st.cat_used[i, cat] -= min(abs(applied), np.int64(st.cat_used[i, cat]))
        if score >= S.base:
            st.cause[i] = 0
        back = score - before
    if st.last_neg[i] == month:
        st.last_neg[i] = ap[i, AP_PREV]
    off = S.ev_ring_off[e]
    if off >= 0:  # out of the latest records kept for counts: the older ones move up
        _ring_drop(st.ev_ring, i, off, S.ev_ring_len[e], month)
    n_lists = st.list_since.shape[1]
    evq = S.ev_groups[e]
    while evq:  # consequences the record set off: those that started in its month end
        low = evq & -evq
        evq ^= low
        q = _bit_index(low)
        until = np.int64(st.grp_until[i, q])
        dur = S.grp_duration[q]
        if dur > 0 and until >= 0 and until - dur == month:
            _count_causes(A.flow, b, 1, n_lists + q, st.grp_cause[i, q])
            A.appeals[b, c, CONSEQUENCES_ENDED] += 1
            st.grp_until[i, q] = -1
    if panel:
        _log(A, b, gi, REVERSAL, 1 if false else 0, 1, back, e)
    lm = np.int64(ap[i, AP_LISTS])
    li = 0
    while lm:
        if lm & 1 and st.list_since[i, li] == month:
            _count_causes(A.flow, b, 1, li, st.list_cause[i, li])
            A.lflow[b, c, li, APPEAL] += 1
            A.appeals[b, c, CORRECTED_FALSE if false else CORRECTED_TRUE] += 1
            A.appeals[b, c, MONTHS_FALSE if false else MONTHS_TRUE] += t - month
            st.list_since[i, li] = -1
            for q in range(st.grp_until.shape[1]):
                until = np.int64(st.grp_until[i, q])
                dur = S.grp_duration[q]
                # a group of this list's, with a duration, that started while it held
                if S.grp_list[q] == li and dur > 0 and until >= 0 and until - dur >= month:
                    _count_causes(A.flow, b, 1, n_lists + q, st.grp_cause[i, q])
                    A.appeals[b, c, CONSEQUENCES_ENDED] += 1
                    st.grp_until[i, q] = -1
        lm >>= 1
        li += 1


@njit(cache=True, inline="always")
def _ring_drop(ring: np.ndarray, i: int, off: int, n: int, month: int) -> None:
    """Take one record of step ``month`` out of person ``i``'s latest ``n`` at
    ``ring[i, off:off+n]`` (if still kept): the older ones move up, the last slot is empty."""
    k = 0
    while k < n and ring[i, off + k] != month:
        k += 1
    if k < n:
        for m in range(k, n - 1):
            ring[i, off + m] = ring[i, off + m + 1]
        ring[i, off + n - 1] = NEVER


@njit(cache=True, inline="always")
def _ring_push(ring: np.ndarray, i: int, off: int, n: int, t: int) -> None:
    """Put step ``t`` first among person ``i``'s latest ``n`` records at ``ring[i, off:off+n]``,
    dropping the oldest."""
    for k in range(n - 1, 0, -1):
        ring[i, off + k] = ring[i, off + k - 1]
    ring[i, off] = t


@njit(cache=True, inline="always")
def _lives(
    S: SchemeArrays,
    T: Traits,
    st: State,
    A: Tally,
    bu: np.uint64,
    i: int,
    c: int,
    gi: int,
    due: int,
    key: int,
) -> None:
    """The effects on lives of the groups ``due`` (running since before this month): income band
    moves (drawn per group, slot ``q``, and added up), and the chances that each friend cuts a tie
    to the person and that a partner refuses them, for the month's ties and contracts.

    A move changes the person's cell (:data:`N_INCOME` bands, income last): from next month their
    rates and tallies are those of the new cell."""
    keep_ties = 1.0
    keep_contracts = 1.0
    income = False
    move = np.int64(0)
    while due:
        low = due & -due
        q = _bit_index(low)
        due ^= low
        p = S.grp_income_p[q]
        if p > 0.0:
            income = True
            if uniform(key, gi, q) < p:
                move += S.grp_income_bands[q]
        keep_ties *= 1.0 - S.grp_ties_p[q]
        keep_contracts *= 1.0 - S.grp_refused[q]
    cu = np.uint64(c)
    A.lives[bu, cu, PRESENT] += 1
    if st.shame.shape[0] > 0:
        st.shame[i] = 1.0 - keep_ties
        if keep_ties < 1.0:
            A.lives[bu, cu, SHAMED] += 1
    if st.refuse.shape[0] > 0:
        st.refuse[i] = 1.0 - keep_contracts
        if keep_contracts < 1.0:
            A.lives[bu, cu, REFUSED] += 1
    if income:
        A.lives[bu, cu, IN_INCOME] += 1
    if move != 0:
        band = c % N_INCOME
        new = min(max(band + move, 0), N_INCOME - 1)
        if new != band:
            T.cell[i] = c - band + new
            if new < band:
                A.lives[bu, cu, MOVED_DOWN] += 1
                A.lives[bu, cu, BANDS_DOWN] += band - new
            else:
                A.lives[bu, cu, MOVED_UP] += 1
                A.lives[bu, cu, BANDS_UP] += new - band
            A.lives[bu, cu, NET] -= 1
            A.lives[bu, np.uint64(c - band + new), NET] += 1


@njit(cache=True, inline="always")
def _factor_decay(S: SchemeArrays, st: State, i: int, clean: int, krep: int, gi: int) -> int:
    """Decay of a weighted-factor score: each factor's score moves toward base as a plain score
    would (one rounding draw for all of them), then the score is recomputed; returned."""
    if (S.decay_points > 0 or S.decay_share > 0.0) and clean >= S.decay_after:
        u = uniform(krep, gi, 1) if S.decay_share > 0.0 else 0.0
        for f in range(S.fac_weight.shape[0]):
            fs = np.int64(st.factor[i, f])
            move = np.int64(S.decay_points)
            if S.decay_share > 0.0:
                move = np.int64(abs(fs - S.base) * S.decay_share + u)
            if fs < S.base and S.decay_up:
                st.factor[i, f] = min(fs + move, S.base)
            elif fs > S.base and S.decay_down:
                st.factor[i, f] = max(fs - move, S.base)
        score = _factor_score(S, st, i)
        st.score[i] = score
        if score == S.base:
            st.cause[i] = 0
    return np.int64(st.score[i])


@njit(cache=True, inline="always")
def _person(
    S: SchemeArrays,
    D: Draws,
    T: Traits,
    st: State,
    A: Tally,
    b: int,
    i: int,
    t: int,
    kev: int,
    kfa: int,
    kob: int,
    krep: int,
    katt: int,
    kful: int,
    kapp: int,
    kliv: int,
    gi: int,
) -> None:
    """Person ``i`` (row of the columns), ``gi`` in the whole population: draws are keyed by
    ``gi``, so that a shard holding rows ``offset ..`` draws what the whole run draws."""
    c = np.int64(T.cell[i])
    # the rate class: sanctioned or not, and which act effects run (since last month's step 7);
    # or given from outside (the acts a layered run's layers share)
    if T.cls.shape[0] > 0:
        cls = np.int64(T.cls[i])
    else:
        flags = np.int64(st.flags[i])
        cls = (flags & FLAG_SANCTIONED) + S.eff_cls[flags >> EFFECT_SHIFT]
    panel = (st.flags[i] & FLAG_PANEL) != 0
    # a child (with children in the population): no acts, no rules, no grade, no lists; only
    # the household consequences that reach children
    minor = T.minor.shape[0] > 0 and T.minor[np.uint64(c)] != 0
    # ``reaches: spouse``: what one's own state of last month sets off does not reach oneself
    own_due = 0
    if S.hh_spouse != 0 and not minor:
        own_due = _household_due(S, st, i) & S.hh_spouse
    # the hottest indices as unsigned integers (as ``i`` is): numba then skips its fix-up for
    # negative ones
    bu = np.uint64(b)
    cu = np.uint64(T.cell[i])
    ru = np.uint64(T.region[i])
    appeals = st.appeal.shape[1] > 0

    # 0. an appeal due this month is decided before the month's records (draw 0 of its stream)
    if appeals and st.appeal[i, AP_DUE] >= 0 and t >= st.appeal[i, AP_DUE]:
        _decide_appeal(S, st, A, b, c, i, t, uniform(kapp, gi, 0), gi, panel)

    # 1. scored acts and their records, then false records from their own stream
    # one mix gives both counts: its high half for true acts, its low half for false records
    u_true, u_false = uniform_pair(kev, gi, 0)
    n_true = _count_below(D.cdf, c, cls, u_true)
    n_false = _count_below(D.fcdf, c, 0, u_false)
    n_drawn = n_true + n_false
    # then the acts decided outside the kernel this month, observed like any true act
    n_injected = np.int64(T.injected[i]) if T.injected.shape[0] > 0 else 0
    evword = np.int64(0)  # leaf bits set by this month's records, and their causes
    evwhy = np.uint32(0)
    for j in range(1, n_drawn + n_injected + 1):
        false = n_true < j <= n_drawn
        fk = 0
        u_obs = 0.0
        if false:
            fk = _pick(D.fcum, D.fguide, c, 0, uniform(kfa, gi, j - n_true))
            a = D.fact[fk]
            # a false record of a channel the scheme does not take does not reach it
            recorded = D.fseen.shape[0] == 0 or D.fseen[fk] != 0
            if recorded:
                A.ev_false[bu, cu, np.uint64(a)] += 1
        else:
            if j <= n_true:
                a = D.act[_pick(D.cum, D.guide, c, cls, uniform(kev, gi, j))]
            else:
                a = np.int64(T.injected_act)
            A.ev_true[bu, cu, np.uint64(a)] += 1
            u_obs = uniform(kob, gi, j)
            recorded = u_obs < D.p_seen[np.uint64(cls & 1), np.uint64(a), ru]
        applied = 0
        # -1 for an act drawn for comparison that this scheme does not score
        e = S.act_event[np.uint64(a)]
        if recorded and e < 0:
            A.ev_rec[bu, cu, np.uint64(a)] += 1
        elif recorded:
            A.ev_rec[bu, cu, np.uint64(a)] += 1
            pts = S.ev_points[e]
            if S.ev_by[e] != 0:
                pts = _points_of(S, D, e, false, fk, u_obs, ru, kob, gi, j)
            if S.ev_factor[e] < 0:
                applied = _apply_points(S, st, i, pts, S.ev_cat[e])
                moved = applied
            else:  # an appeal reverses what the record did to its factor
                had = np.int64(st.factor[i, S.ev_factor[e]])
                applied = _apply_factor(S, st, i, pts, S.ev_cat[e], S.ev_factor[e])
                moved = np.int64(st.factor[i, S.ev_factor[e]]) - had
            why = np.uint32(1 << S.ev_domain[e])
            if false:
                why |= TAINT
            if S.ev_rights[e] == 1:
                why |= RIGHTS
            lm = S.ev_lists[e] & ~S.lists_off  # lists in force only
            negative = pts < 0 or lm != 0  # a deduction or a listing: a negative record
            prev = np.int64(st.last_neg[i])
            if negative:
                st.last_neg[i] = t
            if pts < 0 and applied != 0:
                st.cause[i] |= why
            if S.ev_leaves[e] != 0:
                evword |= S.ev_leaves[e]
                evwhy |= why
            if S.ev_ring_off[e] >= 0:  # kept for a count in a window: newest first
                _ring_push(st.ev_ring, i, S.ev_ring_off[e], S.ev_ring_len[e], t)
            li = 0
            entered = 0
            while lm:
                if lm & 1 and st.list_since[i, li] < 0:
                    st.list_since[i, li] = t
                    st.list_cause[i, li] = why
                    _count_causes(A.flow, b, 0, li, why)
                    A.lflow[bu, cu, li, ENTRY] += 1
                    entered |= 1 << li
                lm >>= 1
                li += 1
            # a negative record that changed something, or one that sets off a sanction, may be
            # objected to (draw j of its stream)
            if appeals and (
                (negative and (applied != 0 or entered != 0)) or _sets_off(S, st, i, e, t)
            ):
                _lodge_appeal(
                    S, st, A, b, c, i, t, e, moved, prev, entered, false, uniform(kapp, gi, j)
                )
        if panel and (recorded or not false):  # event -1 when not recorded or not scored
            _log(
                A, b, gi, a, 1 if false else 0, 1 if recorded else 0, applied, e if recorded else -1
            )

    # 2. network rules: the share of friends below a threshold, on last month's scores; from
    # the counts kept up to date, or else by scanning, stopping as soon as the answer is known
    if T.low_friends.shape[1] > 0:
        for q in range(S.net_points.shape[0]):
            if (S.net_off >> q) & 1 == 1:  # out of force this month
                continue
            if T.low_friends[q, i] >= T.need[q, i]:  # logged as act -1 - q: network rule q
                _rule_points(
                    S,
                    st,
                    A,
                    b,
                    i,
                    gi,
                    S.net_points[q],
                    S.net_cat[q],
                    -1 - q,
                    panel,
                    S.net_factor[q],
                )
    elif T.indptr.shape[0] > 0 and S.net_points.shape[0] > 0:
        lo_f = T.indptr[i]
        hi_f = T.indptr[i + np.uint64(1)]  # i is unsigned: an int64 1 would make a float
        if hi_f > lo_f:
            for q in range(S.net_points.shape[0]):
                if (S.net_off >> q) & 1 == 1:  # out of force this month
                    continue
                # stop as soon as the answer is known: enough low friends, or too few left
                need = S.net_share[q] * (hi_f - lo_f)
                low = 0
                f = lo_f
                while f < hi_f and low < need and low + (hi_f - f) >= need:
                    low += _is_low(T.low[q], T.friends[f])
                    f += 1
                if low >= need:  # logged as act -1 - q: network rule q
                    _rule_points(
                        S,
                        st,
                        A,
                        b,
                        i,
                        gi,
                        S.net_points[q],
                        S.net_cat[q],
                        -1 - q,
                        panel,
                        S.net_factor[q],
                    )
    # 2b. collective responsibility: a member's negative record last month costs everyone
    for q in range(0 if minor else S.coll_points.shape[0]):
        by = np.int64(S.coll_neighbourhood[q])
        g = T.household[i] // T.neighbourhood if by == 1 else T.household[i]
        if T.offended[by, g] == 1 and (S.coll_off >> q) & 1 == 0:  # logged as act -9 - q
            _rule_points(
                S, st, A, b, i, gi, S.coll_points[q], S.coll_cat[q], -9 - q, panel, S.coll_factor[q]
            )
    # 3. decay toward base once clean long enough: a fixed step, or a share of the distance
    # rounded up or down at random so that the expected move is the exact share
    clean = np.int64(t) - np.int64(st.last_neg[i])
    score = np.int64(st.score[i])
    if S.fac_weight.shape[0] > 0:
        score = _factor_decay(S, st, i, clean, krep, gi)
    elif (S.decay_points > 0 or S.decay_share > 0.0) and clean >= S.decay_after:
        move = np.int64(S.decay_points)
        if S.decay_share > 0.0:
            move = np.int64(abs(score - S.base) * S.decay_share + uniform(krep, gi, 1))
        if score < S.base and S.decay_up:
            score = min(score + move, S.base)
            st.score[i] = score
            if score == S.base:
                st.cause[i] = 0
        elif score > S.base and S.decay_down:
            score = max(score - move, S.base)
            st.score[i] = score

    # 4. credit repair
    if S.repair_p > 0 and clean >= S.repair_clean:
        listed_mask = 0
        for li in range(st.list_since.shape[1]):
            if (S.repair_lists >> li) & 1 and st.list_since[i, li] >= 0:
                listed_mask |= 1 << li
        listed_mask &= ~S.lists_off  # a list out of force ends its entries in step 6
        if (score < S.repair_restore or listed_mask) and uniform(krep, gi, 0) < S.repair_p:
            if score < S.repair_restore and S.fac_weight.shape[0] > 0:
                for f in range(S.fac_weight.shape[0]):  # every factor restored, then the score
                    st.factor[i, f] = max(np.int64(st.factor[i, f]), S.repair_restore)
                score = _factor_score(S, st, i)
                st.score[i] = score
            elif score < S.repair_restore:
                score = S.repair_restore
                st.score[i] = score
            for li in range(st.list_since.shape[1]):
                if (listed_mask >> li) & 1:
                    _count_causes(A.flow, b, 1, li, st.list_cause[i, li])
                    A.lflow[bu, cu, li, REPAIR] += 1
                    st.list_since[i, li] = -1
            if score >= S.base:
                st.cause[i] = 0

    # 5. grade
    grade = 255
    at = np.uint64(score - S.score_min)
    if S.grade_of.shape[0] > 0:
        grade = np.int64(S.grade_of[at])
        if not minor:
            A.grade[bu, cu, np.uint64(grade)] += 1
    st.grade[i] = grade
    if not minor:
        A.score_sum[bu, cu] += score
        A.hist[bu, S.hist_of[at]] += 1

    # 6. lists: entries on grade or score, exits by rule
    on_score = S.score_lists[score - S.score_min]
    triggered = S.score_groups[score - S.score_min]
    word = np.int64(0)  # composed conditions: the leaves that hold, one bit each
    lwhy = np.uint32(0)
    xwhy = np.uint32(0)  # the causes behind the leaves on other layers that hold
    if S.leaf_groups.shape[0] > 0:
        word = S.leaf_score[score - S.score_min] | evword
        if T.ext.shape[0] > 0:  # other layers' lists and grades, this month (engine.links)
            word |= T.ext[i]
            xwhy = T.ext_why[i]
            lwhy = xwhy
        for k in range(S.cnt_col.shape[0]):
            if np.int64(t) - np.int64(st.ev_ring[i, S.cnt_col[k]]) < S.cnt_window[k]:
                word |= S.cnt_bit[k]
        on_score |= S.leaf_lists[word]
    reach = S.hh_adults
    if minor:
        on_score = 0
        triggered = 0
        reach = S.hh_minors
    h = -1
    if T.hh_trig.shape[0] > 0:
        h = T.household[i]
        hh = T.hh_trig[h] & reach
        if own_due != 0:  # set off by oneself alone: it reaches the others only
            hh &= ~(own_due & ~T.hh_two[h])
        triggered |= hh
    on_score &= ~S.lists_off  # a list out of force admits nobody
    # lists whose exit condition (exit.when) holds this month, on the leaves read above
    exits = S.leaf_exits[word] if S.leaf_exits.shape[0] > 0 else np.int64(0)
    for li in range(st.list_since.shape[1]):
        cond = (on_score >> li) & 1 == 1
        since = np.int64(st.list_since[i, li])
        if since >= 0:
            ok = True
            if S.list_after[li] > 0 and t - since < S.list_after[li]:
                ok = False
            if S.list_clean[li] > 0 and clean < S.list_clean[li]:
                ok = False
            if S.list_ends[li] == 1 and cond:
                ok = False
            if S.list_when[li] == 1 and (exits >> li) & 1 == 0:
                ok = False
            if (S.lists_off >> li) & 1 == 1:  # gone out of force: its entries end now
                ok = True
            if ok:
                _count_causes(A.flow, b, 1, li, st.list_cause[i, li])
                A.lflow[bu, cu, li, EXPIRY] += 1
                st.list_since[i, li] = -1
                since = -1
            elif (
                S.list_fulfil[li] > 0.0 and t > since and uniform(kful, gi, li) < S.list_fulfil[li]
            ):
                # the obligation performed: one leaves early, from the second month listed
                _count_causes(A.flow, b, 1, li, st.list_cause[i, li])
                A.lflow[bu, cu, li, FULFILMENT] += 1
                st.list_since[i, li] = -1
                since = -1
        elif cond:
            st.list_since[i, li] = t
            why = st.cause[i]
            if S.list_ext[li] != 0:  # on another layer's list or grades: that layer's cause
                why = xwhy if S.list_ext[li] == 2 else why | xwhy
            st.list_cause[i, li] = why
            _count_causes(A.flow, b, 0, li, why)
            A.lflow[bu, cu, li, ENTRY] += 1
            since = t
        if since >= 0:
            A.listed[b, c, li] += 1
            triggered |= S.list_groups[li]
            if S.leaf_list[li] != 0:
                word |= S.leaf_list[li]
                lwhy |= st.list_cause[i, li]
    if S.leaf_groups.shape[0] > 0 and not minor:  # children: household consequences only
        triggered |= S.leaf_groups[word]
    triggered &= ~S.groups_off  # groups out of force start for nobody, and end below

    # 7. sanctions and rewards, by group; skipped for people with none running and none due
    n_lists = st.list_since.shape[1]
    sanctioned = False
    active = False
    dom_s = np.int64(0)
    dom_r = np.int64(0)
    eff = np.int64(0)  # the act effects running: bits of S.grp_effbit
    running = np.int64(0)  # groups running after this month's starts and ends
    fresh = np.int64(0)  # those that started this month: their effects begin next month
    if triggered != 0 or (st.flags[i] & FLAG_ACTIVE) != 0:
        # only the groups running or due: the others stay as they are
        todo = triggered
        for q in range(st.grp_until.shape[1]):
            todo |= np.int64(st.grp_until[i, q] >= 0) << q
        while todo:
            bit = todo & -todo
            todo ^= bit
            q = _bit_index(bit)
            cond = (triggered & bit) != 0
            until = np.int64(st.grp_until[i, q])
            dur = S.grp_duration[q]
            # a household consequence that no longer reaches one (a child come of age) ends
            gone = (S.grp_household[q] == 1 and (reach & bit) == 0) or (S.groups_off & bit) != 0
            if until >= 0 and ((dur > 0 and t >= until) or (dur == 0 and not cond) or gone):
                _count_causes(A.flow, b, 1, n_lists + q, st.grp_cause[i, q])
                until = -1
            if until < 0 and cond:
                until = t + dur if dur > 0 else OPEN
                lq = S.grp_list[q]
                if S.grp_household[q] == 1:
                    why = T.hh_cause[h]
                elif lq >= 0:
                    why = st.list_cause[i, lq]
                elif S.grp_leafy[q] == 2:  # a lone leaf on another layer: that layer's cause
                    why = xwhy
                elif S.grp_leafy[q] == 1:  # the score's, this month's records', the lists'
                    why = st.cause[i] | evwhy | lwhy
                else:
                    why = st.cause[i]
                st.grp_cause[i, q] = why
                _count_causes(A.flow, b, 0, n_lists + q, why)
                fresh |= bit
                if (S.points_groups & bit) != 0 and not minor:  # points, once, as it starts
                    _start_points(S, st, A, b, c, i, gi, q, why, panel)
            st.grp_until[i, q] = until
            if until >= 0:
                running |= bit
                active = True
                A.grp_active[b, c, q] += 1
                eff |= S.grp_effbit[q]
                if S.grp_sanction[q] == 1:
                    sanctioned = True
                    dom_s |= S.grp_domains[q]
                else:
                    dom_r |= S.grp_domains[q]
    # 8. attempts at what running act effects refuse: drawn for the people refused only; a share
    # eff_let of them goes through (a draw each), the rest are blocked
    blocks = S.eff_blocks[eff]
    while blocks:
        low = blocks & -blocks
        v = _bit_index(low)
        blocks ^= low
        tries = _count_below(D.a_cdf, c, v, uniform(katt, gi, v))
        let = S.eff_let[eff, v]
        through = 0
        if let > 0.0:
            a = np.uint64(D.attempt[v])
            for j in range(tries):
                slot = 64 + 2 * (v * MAX_EVENTS + j)
                if uniform(katt, gi, slot) < let:
                    through += 1
                    A.ev_true[bu, cu, a] += 1
                    if uniform(katt, gi, slot + 1) < D.p_detect[a, ru]:
                        A.ev_rec[bu, cu, a] += 1
        A.blocked[bu, cu, v] += tries - through
        A.banned[bu, cu, v] += 1
    if S.life_groups != 0:  # effects on lives, from the month after a consequence starts
        _lives(S, T, st, A, bu, i, c, gi, running & ~fresh & S.life_groups, kliv)
    if sanctioned:
        A.anyc[b, c, 0] += 1
    if dom_r != 0:
        A.anyc[b, c, 1] += 1
    st.flags[i] = (
        (st.flags[i] & FLAG_PANEL)
        | (FLAG_SANCTIONED if sanctioned else 0)
        | (FLAG_ACTIVE if active else 0)
        | (eff << EFFECT_SHIFT)
    )
    while dom_s:
        low = dom_s & -dom_s
        A.dom_s[b, c, _bit_index(low)] += 1
        dom_s ^= low
    while dom_r:
        low = dom_r & -dom_r
        A.dom_r[b, c, _bit_index(low)] += 1
        dom_r ^= low


@njit(cache=True, _nrt=False)
def _block(
    S: SchemeArrays,
    D: Draws,
    T: Traits,
    st: State,
    A: Tally,
    b: int,
    t: int,
    kev: int,
    kfa: int,
    kob: int,
    krep: int,
    katt: int,
    kful: int,
    kapp: int,
    kliv: int,
    offset: int,
) -> None:
    """One block of people, in order. Compiled on its own so that the parallel loop stays simple."""
    n = st.score.shape[0]
    lo = b * BLOCK
    hi = min(n, lo + BLOCK)
    if S.cap_window > 0 and t > 0 and t % S.cap_window == 0:
        st.cat_used[lo:hi] = 0
    for i in range(lo, hi):
        # the row as an unsigned integer: numba leaves out its fix-up for negative indices
        _person(
            S,
            D,
            T,
            st,
            A,
            b,
            np.uint64(i),
            t,
            kev,
            kfa,
            kob,
            krep,
            katt,
            kful,
            kapp,
            kliv,
            i + offset,
        )


@njit(cache=True, parallel=True)
def step(
    S: SchemeArrays,
    D: Draws,
    T: Traits,
    st: State,
    A: Tally,
    seed: int,
    t: int,
    offset: int = 0,
    kt: int = -1,
) -> None:
    """Advance everyone by one month (step ``t``), adding to the tallies ``A`` (zero them first).

    Row ``i`` is person ``offset + i`` of the whole population (a shard's rows start at its
    ``offset``): draws and panel events use that index. ``kt``: the step the draws are keyed
    by, when not ``t`` (a layer of a layered run draws on the run's month, so that its layers
    share its acts: :mod:`scslab.engine.world`)."""
    n = st.score.shape[0]
    k = t if kt < 0 else kt
    kev = step_key(seed, STREAM_EVENTS, k)
    kfa = step_key(seed, STREAM_FALSE, k)
    kob = step_key(seed, STREAM_OBSERVE, k)
    krep = step_key(seed, STREAM_REPAIR, k)
    katt = step_key(seed, STREAM_ATTEMPTS, k)
    kful = step_key(seed, STREAM_FULFIL, k)
    kapp = step_key(seed, STREAM_APPEALS, k)
    kliv = step_key(seed, STREAM_LIVES, k)
    for b in prange(n_blocks(n)):
        # int64(b): numba types the loop index int64 when it types this function and uint64 when
        # it lowers the parallel loop; one type compiles the block kernel once instead of twice
        _block(S, D, T, st, A, np.int64(b), t, kev, kfa, kob, krep, katt, kful, kapp, kliv, offset)


@njit(cache=True)
def running_consequences(grp_until: np.ndarray, grp_cause: np.ndarray) -> np.ndarray:
    """Consequences running now, by group, cause and mark: ``int64[Q, domains + 2, MARKS]``,
    counted as :func:`_count_causes` counts flows. O(people x groups)."""
    Q = grp_until.shape[1]
    out = np.zeros((1, 1, Q, N_DOMAINS + 2, MARKS), np.int64)
    for i in range(grp_until.shape[0]):
        for q in range(Q):
            if grp_until[i, q] >= 0:
                _count_causes(out, 0, 0, q, grp_cause[i, q])
    return out[0, 0]


def carry_running(A: Tally, running: np.ndarray, lists: int) -> None:
    """Bring ``running`` (:func:`running_consequences`) to the end of the step that filled ``A``,
    and put it where the step's flows keep it (``A.flow[:, 2]``).

    A consequence runs this month if it ran last month and did not end, or if it started: the
    step counts only starts and ends, so that a consequence that goes on costs nothing.
    """
    flow = A.flow[:, :, lists:]
    running += flow[:, 0].sum(axis=0) - flow[:, 1].sum(axis=0)
    flow[:, 2] = 0
    flow[0, 2] = running


@njit(cache=True, inline="always")
def _normal(u: float, v: float) -> float:
    """A standard normal draw from two uniforms (Box-Muller)."""
    return np.sqrt(-2.0 * np.log(1.0 - u)) * np.cos(2.0 * np.pi * v)


@njit(cache=True, inline="always")
def _count(mean: float, key: int, slot: int) -> int:
    """A Poisson(mean) count: exact inversion below 30, a normal approximation above."""
    u = uniform(key, slot, 0)
    if mean < 30.0:
        return _poisson_count(u, np.exp(-mean), mean)
    return max(0, round(mean + np.sqrt(mean) * _normal(u, uniform(key, slot, 1))))


@njit(cache=True, inline="always")
def _thin(n: int, p: float, key: int, slot: int) -> int:
    """A Binomial(n, p) count: exact below 30 trials, a normal approximation above."""
    if n < 30:
        k = 0
        for j in range(n):
            if uniform(key, slot, 2 + j) < p:
                k += 1
        return k
    z = _normal(uniform(key, slot, 2), uniform(key, slot, 3))
    sd = np.sqrt(n * p * (1.0 - p))
    return min(n, max(0, round(n * p + sd * z)))


@njit(cache=True)
def count_unscored(
    D: Draws, people: np.ndarray, regions: np.ndarray, A: Tally, seed: int, t: int
) -> None:
    """Acts the scheme does not score change nobody's state: draw them as counts per cell.

    ``people[c]`` is the number of people in cell ``c`` and ``regions[c]`` its region; counts go to
    block 0 of the tallies. ``t``: the step the draws are keyed by (:func:`step`'s ``kt``).
    """
    key = step_key(seed, STREAM_COUNTS, t)
    U = D.unscored.shape[0]
    for c in range(people.shape[0]):
        if people[c] == 0:
            continue
        for k in range(U):
            a = D.unscored[k]
            slot = (c * U + k) * 2
            true = _count(people[c] * D.u_rate[c, k], key, slot)
            false = _count(people[c] * D.u_false[c, k], key, slot + 1)
            rec = _thin(true, D.p_detect[a, regions[c]], key, slot)
            A.ev_true[0, c, a] += true
            A.ev_false[0, c, a] += false
            A.ev_rec[0, c, a] += rec + false
    # attempts by those free to act, from a stream of their own: an attempt act added to a
    # catalogue leaves every other count as it was; the refused were drawn in the step
    key = step_key(seed, STREAM_ATTEMPT_COUNTS, t)
    V = D.attempt.shape[0]
    for c in range(people.shape[0]):
        if people[c] == 0:
            continue
        for v in range(V):
            a = D.attempt[v]
            free = people[c]
            for b in range(A.banned.shape[0]):
                free -= A.banned[b, c, v]
            slot = (c * V + v) * 2
            true = _count(free * D.a_rate[c, v], key, slot)
            false = _count(people[c] * D.a_false[c, v], key, slot + 1)
            rec = _thin(true, D.p_detect[a, regions[c]], key, slot)
            A.ev_true[0, c, a] += true
            A.ev_false[0, c, a] += false
            A.ev_rec[0, c, a] += rec + false


@njit(cache=True, _nrt=False)
def _cut_block(
    indptr: np.ndarray,
    friends: np.ndarray,
    low: np.ndarray,
    p: float,
    group: np.ndarray,
    members: np.ndarray,
    start: np.ndarray,
    key: int,
    lo: int,
    hi: int,
    offset: int,
) -> int:
    cut = 0
    for i in range(lo, hi):
        g = group[i]
        size = start[g + 1] - start[g]
        for f in range(indptr[i], indptr[i + 1]):
            k = 2 * (f - indptr[i])
            if _is_low(low, friends[f]) == 1 and uniform(key, i + offset, k) < p:
                pick = members[start[g] + int(uniform(key, i + offset, k + 1) * size)]
                if pick != i:
                    friends[f] = pick
                    cut += 1
    return cut


@njit(cache=True, parallel=True)
def cut_ties(
    indptr: np.ndarray,
    friends: np.ndarray,
    low: np.ndarray,
    p: float,
    group: np.ndarray,
    members: np.ndarray,
    start: np.ndarray,
    seed: int,
    t: int,
    offset: int = 0,
) -> int:
    """Each tie to a friend marked in ``low`` (a row of :func:`mark_rules`) is cut with probability
    ``p`` and given to a random person of one's own group (``members[start[g]:start[g + 1]]``).

    Returns the number of ties cut. A draw that picks oneself keeps the old tie. Row ``i`` is
    person ``offset + i`` of the whole population, as in :func:`step`.
    """
    n = indptr.shape[0] - 1
    key = step_key(seed, STREAM_NETWORK, t)
    nb = n_blocks(n)
    cuts = np.zeros(nb, np.int64)
    for b in prange(nb):
        cuts[b] = _cut_block(
            indptr,
            friends,
            low,
            p,
            group,
            members,
            start,
            key,
            b * BLOCK,
            min(n, (b + 1) * BLOCK),
            offset,
        )
    return cuts.sum()


@njit(cache=True, _nrt=False)
def _shun_block(
    indptr: np.ndarray,
    friends: np.ndarray,
    shame: np.ndarray,
    cell: np.ndarray,
    group: np.ndarray,
    members: np.ndarray,
    start: np.ndarray,
    key: int,
    lo: int,
    hi: int,
    offset: int,
    out: np.ndarray,
) -> None:
    for i in range(lo, hi):
        g = group[i]
        size = start[g + 1] - start[g]
        for f in range(indptr[i], indptr[i + 1]):
            j = friends[f]
            k = 2 * (f - indptr[i])
            if shame[j] > 0.0 and uniform(key, i + offset, k) < shame[j]:
                pick = members[start[g] + int(uniform(key, i + offset, k + 1) * size)]
                if pick != i and pick != j:
                    friends[f] = pick
                    out[cell[j]] += 1


@njit(cache=True, parallel=True)
def cut_shamed_ties(
    indptr: np.ndarray,
    friends: np.ndarray,
    shame: np.ndarray,
    cell: np.ndarray,
    cells: int,
    group: np.ndarray,
    members: np.ndarray,
    start: np.ndarray,
    seed: int,
    t: int,
    offset: int = 0,
) -> np.ndarray:
    """Public shaming: each tie to a friend ``j`` is cut with probability ``shame[j]`` (an effect
    on ties of a consequence ``j`` is under, :func:`_lives`) and given to a random person of
    one's own group, as :func:`cut_ties` does; from a stream of its own.

    Returns the ties cut, by the cell of the person shamed. O(ties)."""
    n = indptr.shape[0] - 1
    key = step_key(seed, STREAM_SHAME, t)
    nb = n_blocks(n)
    cuts = np.zeros((nb, cells), np.int64)
    for b in prange(nb):
        _shun_block(
            indptr,
            friends,
            shame,
            cell,
            group,
            members,
            start,
            key,
            b * BLOCK,
            min(n, (b + 1) * BLOCK),
            offset,
            cuts[b],
        )
    return cuts.sum(axis=0)
