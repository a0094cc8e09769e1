"""A scheme compiled to flat arrays, and the state columns a run keeps per person.

The kernels never see pydantic models: :func:`compile_scheme` turns a :class:`Scheme` into a
:class:`SchemeArrays` tuple of small numpy arrays, and :func:`allocate_state` makes the per-person
columns with the smallest dtypes that fit.

Sanctions and rewards that share a trigger and a duration start and end together, so they are
kept as one *group* with one end-step and one cause column per person; the records of single
sanctions and rewards are recovered from their group when results are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from scslab.errors import SchemeError
from scslab.schemes import units
from scslab.schemes.model import (
    CHANNELS,
    DOMAINS,
    LIFE_EFFECTS,
    Condition,
    Consequence,
    Scheme,
)

N_DOMAINS = len(DOMAINS)
NO_CAUSE = N_DOMAINS  # the cause index used when a cause mask is empty
ALL_CAUSES = N_DOMAINS + 1  # the index that counts every flow once, whatever its causes
TAINT = np.uint32(1 << 31)  # cause-mask bit: a false record contributed
RIGHTS = np.uint32(1 << 30)  # cause-mask bit: a rights-tagged event contributed
MARKS = 4  # flow tallies split by (false record, rights-tagged record): index taint + 2 * rights
HIST_BINS = 40  # bins of the score distribution recorded each month
MAX_BITS = 62  # lists and consequence groups a scheme may have: each is a bit of an int64 mask
assert N_DOMAINS <= 30
OPEN = 32767  # grp_until of a consequence that lasts while its trigger holds
NEVER = -32768  # last_neg of someone with no negative record
MAX_STEP = 30000  # steps plus the longest duration must stay below int16's range

BY_POINTS, BY_CHANNEL, BY_SEVERITY = 0, 1, 2  # how an event's points are set (ev_by)
COND_EVENTS, COND_GRADES, COND_BELOW, COND_AT_LEAST, COND_LIST, COND_MANAGER = 0, 1, 2, 3, 4, 5
COND_LEAF = 6  # composed, or a leaf read from the leaf word (events as a trigger, a count)
MAX_LEAVES = 12  # distinct leaves of a scheme's composed conditions: truth tables of 2**12 words
assert MAX_LEAVES <= 16  # the leaves on other layers are filled into a uint16 column (Traits.ext)
FLAG_SANCTIONED, FLAG_PANEL, FLAG_ACTIVE = np.uint8(1), np.uint8(2), np.uint8(4)
#: The flags' top bits hold which act effects run (bit j: the j-th distinct act effect of the
#: scheme's groups); with the sanctioned bit they pick a person's rate class:
#: ``(flags & FLAG_SANCTIONED) + 2 * (flags >> EFFECT_SHIFT)``
EFFECT_SHIFT = 3
MAX_ACT_EFFECTS = 8 - EFFECT_SHIFT  # distinct act effects of a scheme: 2**5 combinations
#: a pending appeal's fields, State.appeal[i, AP_*]: the month it is decided (-1: none pending),
#: the record's scheme event, the points it applied (after caps), the month it was made, the
#: person's last negative month before it, the lists it entered (bits), 1 if it was false
AP_DUE, AP_EVENT, AP_POINTS, AP_MONTH, AP_PREV, AP_LISTS, AP_FALSE = range(7)
APPEAL_FIELDS = 7
APPEAL_LISTS = 15  # lists a scheme with appeals may have: AP_LISTS holds them in an int16
#: the act of a panel event that is a record reversed on appeal (network rules are -1 - q and
#: collective rules -9 - q): its points are those given back, its event the record's
REVERSAL = -100
#: the act of a panel event that is a consequence's points effect starting: ``EFFECT_POINTS - q``
#: for group ``q`` (whose one consequence with points it is); its points are those it moved
EFFECT_POINTS = -200


class SchemeArrays(NamedTuple):
    """A scheme for the kernels. Every score-valued number is in engine integers: the scheme's
    score units times :attr:`scslab.schemes.units.ScoreUnits.scale` (1 unless the scheme sets a
    ``score.resolution``)."""

    score_min: int
    score_max: int
    base: int
    act_event: np.ndarray  # int32[acts]: the scheme event scoring each act, -1 if none
    ev_points: np.ndarray  # int32[E]
    ev_cat: np.ndarray  # int32[E]
    ev_domain: np.ndarray  # int32[E]
    ev_lists: np.ndarray  # int64[E]: bit l set if the event puts one on list l
    ev_rights: np.ndarray  # uint8[E]: 1 if the event touches a protected right
    cat_cap: np.ndarray  # int32[C]
    grade_of: np.ndarray  # uint8[max-min+1]: grade index of each score; empty if no grades
    hist_of: np.ndarray  # uint8[max-min+1]: the bin of each score, out of HIST_BINS equal bins
    list_after: np.ndarray  # int32[L]: 0 if not used
    list_clean: np.ndarray  # int32[L]: 0 if not used
    list_ends: np.ndarray  # uint8[L]
    grp_list: np.ndarray  # int32[Q]
    grp_duration: np.ndarray  # int32[Q]: 0 = while the trigger holds
    grp_sanction: np.ndarray  # uint8[Q]: 1 sanction, 0 reward
    grp_domains: np.ndarray  # int64[Q]: life-domain bit mask of the group's members
    score_lists: np.ndarray  # int64[max-min+1]: bit l if list l's grade/score entry holds there
    score_groups: np.ndarray  # int64[max-min+1]: bit q if group q's grade/score trigger holds
    list_groups: np.ndarray  # int64[L]: bit q if group q is triggered by list l
    hh_score_groups: np.ndarray  # int64[max-min+1]: household groups a member's score triggers
    hh_list_groups: np.ndarray  # int64[L]: household groups a member's listing triggers
    grp_household: np.ndarray  # uint8[Q]: 1 if the group's trigger is of the household
    #: household groups by whom they reach (bits q): adults (``all``, ``spouse``), children
    #: (``all``, ``children``), and the ``spouse`` ones that skip the member who set them off
    hh_adults: int
    hh_minors: int
    hh_spouse: int
    decay_points: int
    decay_share: float  # share of the distance from base lost each month; 0: fixed steps
    decay_after: int
    decay_up: bool
    decay_down: bool
    repair_clean: int
    repair_p: float
    repair_restore: int
    repair_lists: int  # list bit mask (an int: numba's parallel step turns a 0-d array into one)
    net_threshold: np.ndarray  # int32[R]
    net_share: np.ndarray  # float64[R]
    net_points: np.ndarray  # int32[R]
    net_cat: np.ndarray  # int32[R]: -1 for uncapped
    cap_window: int
    coll_neighbourhood: np.ndarray  # uint8[R]: 1 if collective rule r is by neighbourhood
    coll_points: np.ndarray  # int32[R]
    coll_cat: np.ndarray  # int32[R]: -1 for uncapped
    list_fulfil: np.ndarray  # float64[L]: monthly chance of leaving by fulfilment, 0 if none
    #: act effects (schemes.model.Effect ``acts``): bit j if the group carries the j-th distinct
    #: act effect; a person's running bits index the rows below and the rate classes
    grp_effbit: np.ndarray  # int64[Q]
    eff_blocks: np.ndarray  # int64[K]: bit v if combination k refuses attempt act v at all
    eff_let: np.ndarray  # float64[K, V]: share of attempts at act v let through under k
    #: int64[K]: 2 x the rate-table class of combination k; combinations that change the same
    #: drawn acts alike (a ban on attempts only changes none) share one
    eff_cls: np.ndarray
    app_object: float  # appeals: chance of objecting to a negative record (0: no appeals)
    app_false: float  # chance that an appeal of a false record wins
    app_true: float  # chance that an appeal of a true record wins
    app_delay: int  # months from the record to the decision (0: the scheme has no appeals)
    # conditions composed of leaves (all/any/not, events as triggers, counts in a window): each
    # distinct leaf is a bit of a per-person word, each such condition a truth table over words
    ev_leaves: np.ndarray  # int64[E]: leaf bits a recorded event sets this month
    ev_ring_off: np.ndarray  # int32[E]: first column of the event's records in ev_ring, -1 if none
    ev_ring_len: np.ndarray  # int32[E]: how many of its latest records are kept
    #: int64[E]: bit q if group q's trigger needs event e's record (it holds with the record's
    #: leaf bits and not without them): a won appeal of the record ends the group it started
    ev_groups: np.ndarray
    cnt_col: np.ndarray  # int32[K]: ev_ring column of the record a count leaf k looks at
    cnt_window: np.ndarray  # int32[K]: months of its window
    cnt_bit: np.ndarray  # int64[K]: its leaf bit
    leaf_score: np.ndarray  # int64[max-min+1]: leaf bits that hold at each score; [0] if unused
    leaf_list: np.ndarray  # int64[L]: leaf bit of being on list l
    leaf_lists: np.ndarray  # int64[2**leaves]: lists whose composed entry holds, by leaf word
    leaf_groups: np.ndarray  # int64[2**leaves]: groups whose composed trigger holds, by word
    #: int64[2**leaves]: lists whose exit condition (``exit.when``) holds, by leaf word; [0] if
    #: no list has one
    leaf_exits: np.ndarray
    list_when: np.ndarray  # uint8[L]: 1 if the list's exit has a condition (``exit.when``)
    #: uint8[Q]: 1 if the group's trigger is read from the leaf word, 2 if it is a lone leaf on
    #: another layer (its cause is that layer's: Traits.ext_why)
    grp_leafy: np.ndarray
    #: uint8[L]: 1 if the list's entry is composed with a leaf on another layer (its cause: the
    #: score's and that layer's), 2 if it is such a leaf alone (that layer's cause only)
    list_ext: np.ndarray
    # effects on lives (a consequence's ``effects:``), from the month after a group starts
    life_groups: int  # bit q if group q has an effect on income, ties or contracts
    grp_income_p: np.ndarray  # float64[Q]: monthly chance of an income band move, 0 if none
    grp_income_bands: np.ndarray  # int32[Q]: bands moved (negative: down)
    grp_ties_p: np.ndarray  # float64[Q]: monthly chance that each friend cuts the tie
    grp_refused: np.ndarray  # float64[Q]: share of partners who refuse a contract
    #: a consequence's ``points:`` effect, applied once as its group starts: bit q if group q
    #: has one (a group with one has that consequence alone), its points in engine integers,
    #: the category whose cap they count against (-1: none) and the factor they move (-1: none)
    points_groups: int
    grp_points: np.ndarray  # int32[Q]
    grp_points_cat: np.ndarray  # int32[Q]
    grp_points_fac: np.ndarray  # int32[Q]
    #: points by channel or severity: event e's alternatives are alt_* [ev_alt[e], ev_alt[e + 1])
    ev_by: np.ndarray  # uint8[E]: BY_POINTS (plain), BY_CHANNEL or BY_SEVERITY
    ev_alt: np.ndarray  # int32[E + 1]
    alt_points: np.ndarray  # int32[K]
    alt_cum: np.ndarray  # float64[K]: severity: running sum of the levels' shares, last 1
    alt_channel: np.ndarray  # int32[K]: channel: index in CHANNELS, in order of precedence
    #: a weighted-factor score (none: fac_weight is empty and points move the score itself)
    fac_weight: np.ndarray  # float64[F]
    ev_factor: np.ndarray  # int32[E]: the factor each event moves, -1 without factors
    net_factor: np.ndarray  # int32[R]
    coll_factor: np.ndarray  # int32[R]
    #: rules out of force this month (a scheme's ``in_force:``, :mod:`scslab.engine.schedule`),
    #: as bits: lists (admit nobody; their entries end, as expiries), consequence groups (start
    #: for nobody; running ones end), network and collective rules (charge nobody). 0 in a scheme
    #: without a schedule and in a month with everything in force; an event out of force is
    #: taken out of ``act_event`` instead (its act is recorded, and scored by nothing)
    lists_off: int
    groups_off: int
    net_off: int
    coll_off: int


@dataclass(frozen=True)
class SchemeLayout:
    """Names for the indices used in :class:`SchemeArrays`."""

    grades: tuple[str, ...]
    lists: tuple[str, ...]
    groups: tuple[tuple[Consequence, ...], ...]  # members of each group, in file order
    categories: tuple[str, ...]
    manager_groups: int = 0  # bit q: group q holds while a firm's manager is blacklisted
    representative_groups: tuple[int, ...] = ()  # groups that restrict a firm's representative
    tax_of: np.ndarray | None = None  # uint8[max-min+1]: tax grade index of each score
    tax_grades: tuple[str, ...] = ()  # the tax rating's grades, the unrated one last
    unrated_months: int = 0
    attempts: tuple[str, ...] = ()  # the catalogue's attempt acts, in catalogue order
    blocked: tuple[str, ...] = ()  # those that some sanction of the scheme blocks
    #: float64[K, acts]: each act's rate multiplier under each combination k of running act
    #: effects (bit j of k: the j-th distinct act effect); one row of ones without act effects
    act_mult: np.ndarray = field(default_factory=lambda: np.ones((1, 0)))
    #: float64[K', acts]: the distinct rows of ``act_mult`` over acts drawn person by person
    #: (attempts set to 1), one per rate class (``SchemeArrays.eff_cls``)
    class_mult: np.ndarray = field(default_factory=lambda: np.ones((1, 0)))
    #: the distinct act effects, bit j's multipliers by act id
    act_effects: tuple[dict[str, float], ...] = ()
    appeals: bool = False  # the scheme has an objection procedure (State.appeal is allocated)
    #: the leaves on other layers (``layer:``), each ``(bit mask in the leaf word, layer id,
    #: "list" or "grades", names)``: bit ``mask`` of ``Traits.ext`` holds where that layer's
    #: list or grades do (filled by :class:`scslab.engine.links.Linker`)
    external: tuple[tuple[int, str, str, tuple[str, ...]], ...] = ()
    factors: tuple[str, ...] = ()  # the factors of a weighted-factor score
    #: the scheme's score units: engine integers (state, arrays) <-> what users read
    score_units: units.ScoreUnits = units.UNIT

    @property
    def consequences(self) -> tuple[tuple[int, Consequence], ...]:
        """Every sanction and reward with its group index."""
        return tuple((q, c) for q, members in enumerate(self.groups) for c in members)


def _leafy(c: Condition, entry: bool) -> bool:
    """Whether a list entry (``entry``) or trigger is read from the leaf word: a composition, a
    count, or (for a trigger) recorded events. Everything else keeps its direct lookup."""
    return (
        c.composed
        or c.at_least is not None
        or c.layer is not None
        or (not entry and bool(c.events))
    )


def _leaf_key(
    c: Condition, unit: units.ScoreUnits = units.UNIT
) -> tuple[str, tuple[str, ...], int, int]:
    """What makes two leaves the same leaf (score thresholds in engine integers)."""
    if c.layer is not None:  # another layer's list or grades
        names = (c.list,) if c.list is not None else tuple(sorted(set(c.grades)))
        return ("external", (c.layer, "list" if c.list is not None else "grades", *names), 0, 0)
    if c.events:
        return ("events", tuple(sorted(set(c.events))), 0, 0)
    if c.grades:
        return ("grades", tuple(sorted(set(c.grades))), 0, 0)
    if c.list is not None:
        return ("list", (c.list,), 0, 0)
    if c.score_below is not None:
        return ("below", (), unit.engine(c.score_below), 0)
    if c.score_at_least is not None:
        return ("at_least", (), unit.engine(c.score_at_least), 0)
    assert c.at_least is not None and c.within_months is not None
    return ("count", (c.of,), c.at_least, c.within_months)


def _condition(
    c: Condition,
    grade_ix: dict[str, int],
    list_ix: dict[str, int],
    unit: units.ScoreUnits = units.UNIT,
) -> tuple[int, int, int, int]:
    """(kind, grade mask, value in engine integers, list index) of a trigger or list entry."""
    if c.composed or c.at_least is not None or c.layer is not None:
        return COND_LEAF, 0, 0, -1
    if c.grades:
        return COND_GRADES, sum(1 << grade_ix[g] for g in c.grades), 0, -1
    if c.score_below is not None:
        return COND_BELOW, 0, unit.engine(c.score_below), -1
    if c.score_at_least is not None:
        return COND_AT_LEAST, 0, unit.engine(c.score_at_least), -1
    if c.list is not None:
        return COND_LIST, 0, 0, list_ix[c.list]
    if c.representative_listed:
        return COND_MANAGER, 0, 0, -1
    return COND_EVENTS, 0, 0, -1


#: How a row of friend marks (:func:`scslab.engine.kernels.mark_rules`) is read from last
#: month's state: a score below a threshold, a place on a list, a grade in a set.
MARK_BELOW, MARK_LISTED, MARK_GRADES = 0, 1, 2


def network_marks(scheme: Scheme) -> tuple[np.ndarray, np.ndarray]:
    """Each network rule's mark: its kind (``MARK_*``) and what it reads, the threshold (in
    engine integers), the list's index or the bit mask of its grades (indices as
    :func:`compile_scheme` numbers them)."""
    grade_ix = {g.id: k for k, g in enumerate(scheme.grades_high_to_low())}
    list_ix = {x.id: k for k, x in enumerate(scheme.lists)}
    n = units.of(scheme).engine  # thresholds in engine integers
    kind, arg = [], []
    for r in scheme.network:
        if r.kind == "friends-listed":
            assert r.list is not None
            kind.append(MARK_LISTED)
            arg.append(list_ix[r.list])
        elif r.kind == "friends-in-grade":
            kind.append(MARK_GRADES)
            arg.append(sum(1 << grade_ix[g] for g in r.grades or ()))
        else:
            assert r.threshold is not None
            kind.append(MARK_BELOW)
            arg.append(n(r.threshold))
    return np.array(kind, np.int64), np.array(arg, np.int64)


def compile_scheme(
    scheme: Scheme, act_ids: tuple[str, ...], attempts: tuple[str, ...] = (), linked: bool = False
) -> tuple[SchemeArrays, SchemeLayout]:
    """Flatten ``scheme`` for the kernels; ``act_ids`` fixes the act order of the catalogue and
    ``attempts`` that of its attempt acts (those a sanction may block). Score-valued numbers
    are scaled to engine integers here, and only here (:mod:`scslab.schemes.units`).

    A scheme with conditions on other layers (``layer:``) runs only as a layer of a layered
    scenario, which fills them (``linked``); alone it is refused."""
    if not linked:
        refuse_links(scheme)
    unit = units.of(scheme)
    n = unit.engine  # score units -> engine integers, exactly
    lo, hi = n(scheme.score.min), n(scheme.score.max)
    grades = scheme.grades_high_to_low()
    grade_ix = {g.id: k for k, g in enumerate(grades)}
    grade_of = np.zeros(hi - lo + 1 if grades else 0, np.uint8)
    for k, g in enumerate(grades):
        grade_of[n(g.min) - lo : n(g.max) - lo + 1] = k
    list_ix = {x.id: k for k, x in enumerate(scheme.lists)}
    cat_ix = {c.id: k for k, c in enumerate(scheme.categories)}
    dom_ix = {d: k for k, d in enumerate(DOMAINS)}
    ev_ix = {e.id: k for k, e in enumerate(scheme.events)}

    act_event = np.full(len(act_ids), -1, np.int32)
    for k, e in enumerate(scheme.events):
        act_event[act_ids.index(e.act_id)] = k
    ev_lists = np.zeros(len(scheme.events), np.int64)
    for li, x in enumerate(scheme.lists):
        for ev in x.entry.events:
            ev_lists[ev_ix[ev]] |= 1 << li

    lists = [_condition(x.entry, grade_ix, list_ix, unit) for x in scheme.lists]

    # group sanctions and rewards by (sanction-or-reward, trigger, duration, whose condition,
    # effects on lives, months in force): the members of a group start, end and act together
    Key = tuple[
        int,
        tuple[int, int, int, int] | str,
        int,
        bool,
        str,
        tuple[Any, ...],
        tuple[Any, ...] | None,
        str | None,
    ]
    keyed: dict[Key, list[Consequence]] = {}
    for is_sanction, items in ((1, scheme.sanctions), (0, scheme.rewards)):
        for c in items:
            cond: tuple[int, int, int, int] | str = _condition(c.trigger, grade_ix, list_ix, unit)
            if _leafy(c.trigger, entry=False):  # the same composition: the same group
                cond = c.trigger.model_dump_json(exclude_defaults=True)
            # a firm's managers' listings arrive like a household member's: through the
            # per-household trigger slot, set from outside the step (engine.simulation)
            shared = c.trigger.of == "household" or bool(c.trigger.representative_listed)
            key = (
                is_sanction,
                cond,
                c.duration_months or 0,
                shared,
                c.reaches,
                _lives(c),
                # a group comes into and goes out of force as one
                None if c.in_force is None else (c.in_force.start_at, c.in_force.until),
                # points moved as it starts: its own group, so that each moves them once
                None if c.points_effect() is None else c.id,
            )
            keyed.setdefault(key, []).append(c)
    keys = list(keyed)
    for what, count in (("lists", len(scheme.lists)), ("groups of consequences", len(keys))):
        if count > MAX_BITS:  # the step holds them as bits of one int64
            raise SchemeError(f"scheme {scheme.id!r} has {count} {what}; at most {MAX_BITS} fit")
    groups = tuple(tuple(keyed[k]) for k in keys)
    leaf = (COND_LEAF, 0, 0, -1)
    triggers = [k[1] if isinstance(k[1], tuple) else leaf for k in keys]
    household = [k[3] for k in keys]

    # which list entries and triggers hold at each score: one lookup replaces every comparison
    scores = np.arange(lo, hi + 1)
    grade_at = grade_of.astype(np.int64) if grades else np.full(len(scores), -1)

    def holds(cond: tuple[int, int, int, int]) -> np.ndarray:
        kind, mask, value, _ = cond
        if kind == COND_GRADES:
            in_mask: np.ndarray = (grade_at >= 0) & ((mask >> np.maximum(grade_at, 0)) & 1 == 1)
            return in_mask
        if kind == COND_BELOW:
            return scores < value
        if kind == COND_AT_LEAST:
            return scores >= value
        return np.zeros(len(scores), bool)

    score_lists = np.zeros(len(scores), np.int64)
    for li, cond in enumerate(lists):
        score_lists |= holds(cond).astype(np.int64) << li
    # a person's own triggers, and those that a household member's state sets for everyone in it
    score_groups = np.zeros(len(scores), np.int64)
    list_groups = np.zeros(len(scheme.lists), np.int64)
    hh_score_groups = np.zeros(len(scores), np.int64)
    hh_list_groups = np.zeros(len(scheme.lists), np.int64)
    for q, cond in enumerate(triggers):
        by_score, by_list = (
            (hh_score_groups, hh_list_groups) if household[q] else (score_groups, list_groups)
        )
        by_score |= holds(cond).astype(np.int64) << q
        if cond[0] == COND_LIST:
            by_list[cond[3]] |= 1 << q

    def arr(values: list[int] | list[float], dtype: type) -> np.ndarray:
        return np.array(values, dtype=dtype)

    grp_effbit, act_mult, effects = act_effect_classes(scheme.id, groups, act_ids)
    let = act_mult[:, [act_ids.index(a) for a in attempts]]
    leaves, external = _compile_leaves(
        scheme,
        [x.entry if _leafy(x.entry, entry=True) else None for x in scheme.lists],
        [keyed[k][0].trigger if isinstance(k[1], str) else None for k in keys],
        grade_at,
        scores,
        list_ix,
        ev_ix,
        unit,
        [x.exit.when for x in scheme.lists],
    )
    drawn = act_mult.copy()
    drawn[:, [act_ids.index(a) for a in attempts]] = 1.0
    class_mult, eff_cls = np.unique(drawn, axis=0, return_inverse=True)
    if not (class_mult[0] == 1.0).all():  # keep the plain rates first: class 0 and 1
        class_mult = np.vstack([np.ones((1, len(act_ids))), class_mult])
        eff_cls = eff_cls.reshape(-1) + 1

    decay, repair = scheme.decay, scheme.repair
    rules = scheme.network
    arrays = SchemeArrays(
        score_min=lo,
        score_max=hi,
        base=n(scheme.score.base),
        act_event=act_event,
        ev_points=arr([n(e.points) for e in scheme.events], np.int32),
        ev_cat=arr([cat_ix[e.category] for e in scheme.events], np.int32),
        ev_domain=arr([dom_ix[e.domain] for e in scheme.events], np.int32),
        ev_lists=ev_lists,
        ev_rights=arr([int(bool(e.rights)) for e in scheme.events], np.uint8),
        cat_cap=arr(
            [min(32767 if c.cap is None else n(c.cap), 32767) for c in scheme.categories], np.int32
        ),
        grade_of=grade_of,
        hist_of=((scores - lo) * HIST_BINS // (hi - lo + 1)).astype(np.uint8),
        list_after=arr([x.exit.after_months or 0 for x in scheme.lists], np.int32),
        list_clean=arr([x.exit.clean_months or 0 for x in scheme.lists], np.int32),
        list_ends=arr([int(x.exit.condition_ends) for x in scheme.lists], np.uint8),
        list_when=arr([int(x.exit.when is not None) for x in scheme.lists], np.uint8),
        grp_list=arr([x[3] for x in triggers], np.int32),
        grp_duration=arr([k[2] for k in keys], np.int32),
        grp_sanction=arr([k[0] for k in keys], np.uint8),
        grp_domains=arr([sum({1 << dom_ix[c.domain] for c in g}) for g in groups], np.int64),
        score_lists=score_lists,
        score_groups=score_groups,
        list_groups=list_groups,
        hh_score_groups=hh_score_groups,
        hh_list_groups=hh_list_groups,
        grp_household=arr([int(h) for h in household], np.uint8),
        hh_adults=sum(1 << q for q, k in enumerate(keys) if k[3] and k[4] != "children"),
        hh_minors=sum(1 << q for q, k in enumerate(keys) if k[3] and k[4] != "spouse"),
        hh_spouse=sum(1 << q for q, k in enumerate(keys) if k[3] and k[4] == "spouse"),
        decay_points=n(decay.points_per_month or 0) if decay else 0,
        decay_share=decay.share_per_month if decay else 0.0,
        decay_after=decay.after_clean_months if decay else 0,
        decay_up=decay is not None and decay.direction in ("up", "both"),
        decay_down=decay is not None and decay.direction in ("down", "both"),
        repair_clean=repair.clean_months if repair else 0,
        repair_p=repair.monthly_probability if repair else 0.0,
        repair_restore=(n(repair.restore_to) if repair and repair.restore_to is not None else lo),
        repair_lists=int(np.int64(sum(1 << list_ix[x] for x in repair.lists) if repair else 0)),
        net_threshold=arr([n(r.threshold or 0) for r in rules], np.int32),  # friends-below's
        net_share=arr([r.share for r in rules], np.float64),
        net_points=arr([n(r.points) for r in rules], np.int32),
        net_cat=arr([cat_ix[r.category] if r.category else -1 for r in rules], np.int32),
        cap_window=scheme.score.cap_window_months,
        coll_neighbourhood=arr(
            [int(c.group == "neighbourhood") for c in scheme.collective], np.uint8
        ),
        coll_points=arr([n(c.points) for c in scheme.collective], np.int32),
        coll_cat=arr(
            [cat_ix[c.category] if c.category else -1 for c in scheme.collective], np.int32
        ),
        list_fulfil=arr(
            [
                x.exit.fulfilment.monthly_probability if x.exit.fulfilment else 0.0
                for x in scheme.lists
            ],
            np.float64,
        ),
        grp_effbit=grp_effbit,
        eff_blocks=arr(
            [sum(1 << v for v in range(len(attempts)) if let[k, v] < 1.0) for k in range(len(let))],
            np.int64,
        ),
        eff_let=np.ascontiguousarray(let, np.float64),
        eff_cls=2 * eff_cls.reshape(-1).astype(np.int64),
        app_object=scheme.appeals.objection if scheme.appeals else 0.0,
        app_false=scheme.appeals.success_if_false if scheme.appeals else 0.0,
        app_true=scheme.appeals.success_if_true if scheme.appeals else 0.0,
        app_delay=scheme.appeals.delay_months if scheme.appeals else 0,
        **leaves,
        **_points_by(scheme, unit),
        **_factors(scheme),
        life_groups=0,
        grp_income_p=np.zeros(0),
        grp_income_bands=np.zeros(0, np.int32),
        grp_ties_p=np.zeros(0),
        grp_refused=np.zeros(0),
        points_groups=0,
        grp_points=np.zeros(0, np.int32),
        grp_points_cat=np.zeros(0, np.int32),
        grp_points_fac=np.zeros(0, np.int32),
        lists_off=0,  # every rule in force (engine.schedule switches some off by the month)
        groups_off=0,
        net_off=0,
        coll_off=0,
    )
    lives = [dict(k[5]) for k in keys]
    income = [x.get("income", (0.0, 0)) for x in lives]
    pts, pcat, pfac = _points_effects(groups, unit, cat_ix, [f.id for f in scheme.score.factors])
    arrays = arrays._replace(
        points_groups=sum(1 << q for q, p in enumerate(pts) if p != 0),
        grp_points=arr(pts, np.int32),
        grp_points_cat=arr(pcat, np.int32),
        grp_points_fac=arr(pfac, np.int32),
        life_groups=sum(1 << q for q, x in enumerate(lives) if x),
        grp_income_p=arr([p for p, _ in income], np.float64),
        grp_income_bands=arr([d for _, d in income], np.int32),
        grp_ties_p=arr([x.get("ties", (0.0,))[0] for x in lives], np.float64),
        grp_refused=arr([x.get("contracts", (0.0,))[0] for x in lives], np.float64),
    )
    if scheme.appeals is not None and len(scheme.lists) > APPEAL_LISTS:
        raise SchemeError(
            f"scheme {scheme.id!r} has appeals and {len(scheme.lists)} lists; an appeal keeps the "
            f"lists its record entered in {APPEAL_LISTS} bits"
        )
    rating = scheme.tax_rating
    tax_of = None
    tax_grades: tuple[str, ...] = ()
    if rating is not None:
        bands = sorted(rating.grades, key=lambda g: -g.max)
        tax_of = np.zeros(hi - lo + 1, np.uint8)
        for k, g in enumerate(bands):
            tax_of[n(g.min) - lo : n(g.max) - lo + 1] = k
        tax_grades = tuple(g.id for g in bands) + ((rating.unrated.id,) if rating.unrated else ())
    layout = SchemeLayout(
        grades=tuple(g.id for g in grades),
        lists=tuple(x.id for x in scheme.lists),
        groups=groups,
        categories=tuple(c.id for c in scheme.categories),
        manager_groups=sum(1 << q for q, cond in enumerate(triggers) if cond[0] == COND_MANAGER),
        representative_groups=tuple(
            q for q, g in enumerate(groups) if any(c.reaches == "representative" for c in g)
        ),
        tax_of=tax_of,
        tax_grades=tax_grades,
        unrated_months=rating.unrated.months if rating and rating.unrated else 0,
        attempts=attempts,
        blocked=tuple(a for v, a in enumerate(attempts) if (let[:, v] < 1.0).any()),
        act_mult=act_mult,
        class_mult=class_mult,
        act_effects=effects,
        appeals=scheme.appeals is not None,
        external=external,
        factors=tuple(f.id for f in scheme.score.factors),
        score_units=unit,
    )
    return arrays, layout


def refuse_links(scheme: Scheme) -> None:
    """Refuse ``scheme`` if it reads another layer (``layer:``): run alone, it has none."""
    found = scheme.links()
    if found:
        loc, c = found[0]
        raise SchemeError(
            f"{scheme.where((*loc, 'layer'))}: scheme {scheme.id!r} reads layer {c.layer!r}, "
            "which only a layered scenario has; run it as a layer of a scenario with `layers:` "
            "beside that layer (docs/layers.md)"
        )


def act_effect_classes(
    scheme_id: str, groups: tuple[tuple[Consequence, ...], ...], act_ids: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, tuple[dict[str, float], ...]]:
    """The rate classes of act effects: ``(grp_effbit[Q], act_mult[K, acts], effects)``.

    A group's act effect is the product of its members' multipliers (``blocks:`` as 0). Groups
    with the same effect share a bit; each combination ``k`` of bits gets a row of
    multipliers, the product of its effects'. ``K = 2 ** distinct effects``, at most
    ``2 ** MAX_ACT_EFFECTS``: the step looks a person's rates up by ``k``, never branches."""
    signatures: list[dict[str, float]] = []
    grp_effbit = np.zeros(len(groups), np.int64)
    for q, members in enumerate(groups):
        sig: dict[str, float] = {}
        for c in members:
            for act, m in c.act_multipliers().items():
                if act not in act_ids:
                    raise SchemeError(f"{c.id}: an effect on the act '{act}', not in the catalogue")
                sig[act] = sig.get(act, 1.0) * m
        sig = {a: m for a, m in sig.items() if m != 1.0}
        if not sig:
            continue
        if sig not in signatures:
            signatures.append(sig)
        grp_effbit[q] = 1 << signatures.index(sig)
    if len(signatures) > MAX_ACT_EFFECTS:
        raise SchemeError(
            f"scheme {scheme_id!r} has {len(signatures)} groups of consequences (same trigger "
            f"and duration) with different act effects; at most {MAX_ACT_EFFECTS} fit, since "
            "every combination of them gets rate tables of its own: give consequences with "
            "the same trigger the same act effects, or merge their effects"
        )
    mult = np.ones((1 << len(signatures), len(act_ids)))
    for k in range(mult.shape[0]):
        for j, sig in enumerate(signatures):
            if (k >> j) & 1:
                for act, m in sig.items():
                    mult[k, act_ids.index(act)] *= m
    return grp_effbit, mult, tuple(signatures)


def _compile_leaves(
    scheme: Scheme,
    entries: list[Condition | None],
    triggers: list[Condition | None],
    grade_at: np.ndarray,
    scores: np.ndarray,
    list_ix: dict[str, int],
    ev_ix: dict[str, int],
    unit: units.ScoreUnits = units.UNIT,
    exits: list[Condition | None] | None = None,
) -> tuple[dict[str, np.ndarray], tuple[tuple[int, str, str, tuple[str, ...]], ...]]:
    """The leaf word's pieces and the truth tables of the conditions read from it
    (``entries[l]`` of list ``l``, ``triggers[q]`` of group ``q``; None: a direct lookup;
    ``exits[l]``, list ``l``'s ``exit.when``), and the leaves on other layers: ``(bit mask,
    layer, "list" or "grades", names)``."""
    exits = exits if exits is not None else []
    keys: dict[tuple[str, tuple[str, ...], int, int], Condition] = {}
    for c in (*entries, *triggers, *exits):
        for leaf in c.leaves() if c is not None else ():
            keys.setdefault(_leaf_key(leaf, unit), leaf)
    bit = {k: b for b, k in enumerate(keys)}
    if len(bit) > MAX_LEAVES:
        raise SchemeError(
            f"scheme {scheme.id!r} composes its conditions of {len(bit)} distinct simple "
            f"conditions; at most {MAX_LEAVES} fit"
        )
    E, L = len(scheme.events), len(scheme.lists)
    grades = {g: k for k, g in enumerate(g.id for g in scheme.grades_high_to_low())}
    ev_leaves = np.zeros(E, np.int64)
    leaf_score = np.zeros(len(scores) if bit else 0, np.int64)
    leaf_list = np.zeros(L, np.int64)
    ring_len = np.zeros(E, np.int32)
    counts: list[tuple[int, int, int, int]] = []  # (event, at_least, window, bit)
    external: list[tuple[int, str, str, tuple[str, ...]]] = []
    for (kind, ids, value, window), b in bit.items():
        if kind == "external":  # set from outside the step: Traits.ext
            external.append((1 << b, ids[0], ids[1], tuple(ids[2:])))
        elif kind == "events":
            for ev in ids:
                ev_leaves[ev_ix[ev]] |= 1 << b
        elif kind == "grades":
            mask = sum(1 << grades[g] for g in ids)
            ok = (grade_at >= 0) & ((mask >> np.maximum(grade_at, 0)) & 1 == 1)
            leaf_score |= ok.astype(np.int64) << b
        elif kind == "below":
            leaf_score |= (scores < value).astype(np.int64) << b
        elif kind == "at_least":
            leaf_score |= (scores >= value).astype(np.int64) << b
        elif kind == "list":
            leaf_list[list_ix[ids[0]]] |= 1 << b
        else:
            e = ev_ix[ids[0]]
            ring_len[e] = max(ring_len[e], value)
            counts.append((e, value, window, b))
    if scheme.appeals is not None:
        # one record more than the counts look at: a record reversed on appeal leaves the ring,
        # and the one before it takes its place (one appeal is pending at a time, so one extra
        # record is enough to keep every count exact)
        ring_len[ring_len > 0] += 1
    ring_off = np.full(E, -1, np.int32)
    width = 0
    for e in range(E):
        if ring_len[e] > 0:
            ring_off[e] = width
            width += int(ring_len[e])
    words = 1 << len(bit) if bit else 0
    leaf_lists = np.zeros(words, np.int64)
    leaf_groups = np.zeros(words, np.int64)
    leaf_exits = np.zeros(words if any(c is not None for c in exits) else 0, np.int64)
    for w in range(words):

        def holds(leaf: Condition, w: int = w) -> bool:
            return (w >> bit[_leaf_key(leaf, unit)]) & 1 == 1

        for li, c in enumerate(entries):
            if c is not None and c.holds(holds):
                leaf_lists[w] |= 1 << li
        for q, c in enumerate(triggers):
            if c is not None and c.holds(holds):
                leaf_groups[w] |= 1 << q
        if len(leaf_exits):
            for li, c in enumerate(exits):
                if c is not None and c.holds(holds):
                    leaf_exits[w] |= 1 << li

    def lone(c: Condition | None) -> int:
        """2 for a lone leaf on another layer, 1 for a composition using one, else 0."""
        if c is None or not any(x.layer is not None for x in c.leaves()):
            return 0
        return 2 if c.layer is not None else 1

    leafy = [0 if c is None else 2 if lone(c) == 2 else 1 for c in triggers]
    ev_groups = np.zeros(E, np.int64)
    if words:
        without = np.arange(words, dtype=np.int64)
        for e in range(E):
            if ev_leaves[e]:
                need = leaf_groups & ~leaf_groups[without & ~ev_leaves[e]]
                ev_groups[e] = np.bitwise_or.reduce(need)
    return {
        "ev_leaves": ev_leaves,
        "ev_ring_off": ring_off,
        "ev_ring_len": ring_len,
        "ev_groups": ev_groups,
        "cnt_col": np.array([ring_off[e] + n - 1 for e, n, _, _ in counts], np.int32),
        "cnt_window": np.array([w for _, _, w, _ in counts], np.int32),
        "cnt_bit": np.array([1 << b for _, _, _, b in counts], np.int64),
        "leaf_score": leaf_score,
        "leaf_list": leaf_list,
        "leaf_lists": leaf_lists,
        "leaf_groups": leaf_groups,
        "leaf_exits": leaf_exits,
        "grp_leafy": np.array(leafy, np.uint8),
        "list_ext": np.array([lone(c) for c in entries], np.uint8),
    }, tuple(external)


def ring_width(arrays: SchemeArrays) -> int:
    """Columns of ``State.ev_ring``: the latest records kept of events counted in a window."""
    return int(arrays.ev_ring_len.sum())


def _lives(c: Consequence) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """A consequence's effects on lives, as ``(kind, numbers)`` in :data:`LIFE_EFFECTS` order:
    ``income`` (monthly probability, bands), ``ties`` and ``contracts`` (their probability)."""
    out: list[tuple[str, tuple[Any, ...]]] = []
    for kind in LIFE_EFFECTS:
        for e in c.effects:
            if e.kind == kind:
                out.append((kind, tuple(getattr(e, kind).model_dump().values())))
    return tuple(out)


def _points_effects(
    groups: tuple[tuple[Consequence, ...], ...],
    unit: units.ScoreUnits,
    cat_ix: dict[str, int],
    factors: list[str],
) -> tuple[list[int], list[int], list[int]]:
    """Each group's ``points:`` effect (see SchemeArrays): its points in engine integers (0:
    none), its category and its factor (-1: none)."""
    pts, cat, fac = [], [], []
    for members in groups:
        e = next((x for c in members if (x := c.points_effect()) is not None), None)
        pts.append(0 if e is None or e.points is None else unit.engine(e.points))
        cat.append(cat_ix[e.category] if e is not None and e.category else -1)
        fac.append(factors.index(e.factor) if e is not None and e.factor else -1)
    return pts, cat, fac


def _points_by(scheme: Scheme, unit: units.ScoreUnits) -> dict[str, np.ndarray]:
    """The alternatives of events scored by channel or severity, flat (see SchemeArrays)."""
    by, start, points, cum, channel = [], [0], [], [], []
    for e in scheme.events:
        pb = e.points_by
        if pb is None:
            by.append(BY_POINTS)
        elif pb.channel:
            by.append(BY_CHANNEL)
            for ch, pts in pb.channel.items():
                points.append(unit.engine(pts))
                cum.append(0.0)
                channel.append(CHANNELS.index(ch))
        else:
            by.append(BY_SEVERITY)
            running = 0.0
            for level in pb.severity.values():
                running += level.share
                points.append(unit.engine(level.points))
                cum.append(running)
                channel.append(-1)
            cum[-1] = 1.0  # the last level ends every draw
        start.append(len(points))
    return {
        "ev_by": np.array(by, np.uint8),
        "ev_alt": np.array(start, np.int32),
        "alt_points": np.array(points, np.int32),
        "alt_cum": np.array(cum, np.float64),
        "alt_channel": np.array(channel, np.int32),
    }


def _factors(scheme: Scheme) -> dict[str, np.ndarray]:
    factors = [f.id for f in scheme.score.factors]

    def ix(rules: tuple[Any, ...]) -> np.ndarray:
        return np.array([factors.index(r.factor) if factors else -1 for r in rules], np.int32)

    return {
        "fac_weight": np.array([f.weight for f in scheme.score.factors], np.float64),
        "ev_factor": ix(scheme.events),
        "net_factor": ix(scheme.network),
        "coll_factor": ix(scheme.collective),
    }


def first_channel(
    arrays: SchemeArrays, act_event: np.ndarray, p_channel: np.ndarray, channels: tuple[str, ...]
) -> np.ndarray:
    """``out[k, region]``: the chance that a true act of alternative ``k``'s event is recorded
    by one of that event's listed channels up to ``k`` (``p_channel[act, channel, region]``, the
    catalogue's ``channels`` order). A record drawn with ``u`` (recorded if ``u`` is below the
    chance that any channel records it) belongs to the first ``k`` with ``u < out[k]``: the
    first listed channel that saw the act, under independent channels."""
    out = np.zeros((len(arrays.alt_points), p_channel.shape[2]))
    for a, e in enumerate(act_event):
        if e < 0 or arrays.ev_by[e] != BY_CHANNEL:
            continue
        missed = np.ones(p_channel.shape[2])
        for k in range(arrays.ev_alt[e], arrays.ev_alt[e + 1]):
            name = CHANNELS[arrays.alt_channel[k]]
            if name in channels:
                missed = missed * (1.0 - p_channel[a, channels.index(name)])
            out[k] = 1.0 - missed
    return out


class State(NamedTuple):
    """Per-person columns of a run (row ``i`` is person ``i``)."""

    score: np.ndarray  # int16[N]
    grade: np.ndarray  # uint8[N]
    flags: np.ndarray  # uint8[N]: FLAG_SANCTIONED | FLAG_PANEL
    last_neg: np.ndarray  # int16[N]: step of the last negative record, NEVER if none
    cause: np.ndarray  # uint32[N]: domains of the negative records behind the score, TAINT bit
    cat_used: np.ndarray  # int16[N, C]: points moved per category in this cap window
    list_since: np.ndarray  # int16[N, L]: step of entry, -1 if not listed
    list_cause: np.ndarray  # uint32[N, L]
    grp_until: np.ndarray  # int16[N, Q]: step the consequence ends, OPEN, or -1 if inactive
    grp_cause: np.ndarray  # uint32[N, Q]
    #: int16[N, APPEAL_FIELDS]: each person's one pending appeal (fields AP_*), AP_DUE -1 when
    #: none; int16[N, 0] when the scheme has no appeals
    appeal: np.ndarray
    #: int16[N, R]: steps of the latest records of each event counted in a window (at_least),
    #: newest first, NEVER where none; R = :func:`ring_width`, 0 when no count is used
    ev_ring: np.ndarray
    #: float32[N] (or [0] when no consequence has the effect): the chance that each friend
    #: cuts a tie to the person this month (ties), or that a partner refuses them (contracts),
    #: from the consequences that ran through the month; written by the step
    shame: np.ndarray
    refuse: np.ndarray
    factor: np.ndarray  # int16[N, F]: each factor's score, of a weighted-factor score ([N, 0] else)


def _uses(arrays: SchemeArrays) -> tuple[bool, bool]:
    """Whether some consequence has an effect on ties, on contracts."""
    return bool(arrays.grp_ties_p.any()), bool(arrays.grp_refused.any())


def state_bytes_per_person(
    layout: SchemeLayout, ring: int = 0, arrays: SchemeArrays | None = None
) -> int:
    """Bytes of engine state per person, for the memory estimate and the benchmark."""
    C, L, Q = len(layout.categories), len(layout.lists), len(layout.groups)
    appeal = 2 * APPEAL_FIELDS if layout.appeals else 0
    lives = 4 * sum(_uses(arrays)) if arrays is not None else 0
    factors = 2 * len(layout.factors)
    return 2 + 1 + 1 + 2 + 4 + 2 * C + 6 * L + 6 * Q + appeal + 2 * ring + lives + factors


def allocate_state(n: int, arrays: SchemeArrays, layout: SchemeLayout) -> State:
    C, L, Q = len(layout.categories), len(layout.lists), len(layout.groups)
    grade0 = arrays.grade_of[arrays.base - arrays.score_min] if len(arrays.grade_of) else 255
    return State(
        score=np.full(n, arrays.base, np.int16),
        grade=np.full(n, grade0, np.uint8),
        flags=np.zeros(n, np.uint8),
        last_neg=np.full(n, NEVER, np.int16),
        cause=np.zeros(n, np.uint32),
        cat_used=np.zeros((n, C), np.int16),
        list_since=np.full((n, L), -1, np.int16),
        list_cause=np.zeros((n, L), np.uint32),
        grp_until=np.full((n, Q), -1, np.int16),
        grp_cause=np.zeros((n, Q), np.uint32),
        appeal=_no_appeal(n, APPEAL_FIELDS if layout.appeals else 0),
        ev_ring=np.full((n, ring_width(arrays)), NEVER, np.int16),
        shame=np.zeros(n if _uses(arrays)[0] else 0, np.float32),
        refuse=np.zeros(n if _uses(arrays)[1] else 0, np.float32),
        factor=np.full((n, len(layout.factors)), arrays.base, np.int16),
    )


def _no_appeal(n: int, fields: int) -> np.ndarray:
    """Appeal slots with none pending (AP_DUE -1; the other fields are read only while one is)."""
    out = np.zeros((n, fields), np.int16)
    if fields:
        out[:, AP_DUE] = -1
    return out
