"""From catalogue, scheme and population to the rate tables the engine draws from.

People are grouped into *cells* (region, hukou, age band, income band) and *classes* (0: under no
sanction, 1: under at least one). Everything that sets how often something happens depends only on
cell, class and the scheme, so it is computed here once per run as small tables; the engine then
does one table lookup and one uniform draw per person and step, and works per event only for the
few people who have one. That keeps a step O(agents + events).

A *false record* says an act happened that did not. False records fall on anyone, regardless of
traits, at ``false_record_ratio x P(channel records the act) x base rate``: the rate at which that
channel would wrongly attach the act to a person.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import yaml
from pydantic import ValidationError

from scslab._yaml import load_located, located_errors, read_input
from scslab.behaviour.model import Adaptation, Catalogue, Observation
from scslab.errors import ScenarioError, ScslabError
from scslab.population.individuals import Cells
from scslab.schemes import units
from scslab.schemes.model import Event, Scheme

CLASSES = 2  # 0: under no sanction, 1: under at least one sanction (x act effects: the engine)


def load_catalogue(path: str | Path | None = None, *, builtin: str = "acts.yaml") -> Catalogue:
    """The act catalogue: a user's file, or the built-in one (``firm_acts.yaml`` for firms)."""
    if path is None:
        text: str | bytes = resources.files("scslab.behaviour").joinpath(builtin).read_text()
        source = f"builtin:{builtin}"
    else:
        text, source = read_input(Path(path), ScenarioError, "act catalogue"), str(path)
    return parse_catalogue(text, source)


def parse_catalogue(text: str | bytes, source: str) -> Catalogue:
    """An act catalogue from YAML text (a file's, or one stored in a results file or a
    checkpoint), read with the guarded loader: aliases, depth and tags are bounded."""
    doc = load_located(text, source, ScenarioError)
    try:
        return Catalogue.model_validate(doc.data)
    except ValidationError as exc:
        raise ScenarioError(located_errors(exc.errors(), doc)) from None


def catalogue_text(catalogue: Catalogue) -> str:
    return yaml.safe_dump(catalogue.model_dump(mode="json", exclude_defaults=True), sort_keys=False)


@dataclass(frozen=True)
class RateTables:
    """Monthly rates per cell (and class), split the way the engine draws them.

    *Personal* acts are drawn person by person, because what happens next depends on the person:
    the acts the scheme scores, plus any others asked for, so that schemes compared side by side
    draw the same acts for the same people (common random numbers). The other acts change
    nobody's state, so they are drawn as counts per cell and month. False records of personal
    acts come from their own stream, so that switching them off leaves every true act exactly as
    it was (a paired counterfactual).
    """

    act_ids: tuple[str, ...]  # the whole catalogue, in order
    personal: np.ndarray  # int32[S]: catalogue index of each act drawn person by person
    rate: np.ndarray  # float64[cells, CLASSES, S]: personal true acts per person-month
    false_act: np.ndarray  # int32[F]: catalogue index of each false-record kind
    false_channel: np.ndarray  # int32[F]
    false_rate: np.ndarray  # float64[cells, F]: false records per person-month
    counted: np.ndarray  # int32[U]: catalogue index of each act drawn as counts per cell
    counted_rate: np.ndarray  # float64[cells, U]: true acts per person-month
    counted_false: np.ndarray  # float64[cells, U]: false records per person-month
    p_detect: np.ndarray  # float64[acts, regions]: P(a true act is recorded by any channel)
    coverage: np.ndarray  # float64[regions]: camera coverage
    deterrence: np.ndarray  # float64[cells, CLASSES, acts]: the factor deterrence and chilling
    # multiply each act's rate by (1: not scored, or adaptation off)
    #: attempts (acts marked ``attempt``): drawn as counts per cell for those free to act, and
    #: person by person for those a running sanction blocks (engine.kernels.count_unscored)
    attempt: np.ndarray  # int32[V]: catalogue index of each attempt act
    attempt_rate: np.ndarray  # float64[cells, V]: attempts per person-month
    attempt_false: np.ndarray  # float64[cells, V]: false records per person-month
    #: float64[acts]: each act's latent rate per agent-year, before multipliers: the catalogue's
    #: rate, or for a rate ``measured_under`` a scheme the one solved for (:func:`latent_rates`)
    latent: np.ndarray
    #: float64[acts, channels, regions]: P(each channel records a true act), ``channels`` order
    p_channel: np.ndarray
    channels: tuple[str, ...]  # the catalogue's channels, the order false_channel counts in
    #: float64[acts, regions]: P(recorded) for people under a sanction, who keep a share of their
    #: acts off the platform channels (adaptation.avoidance); ``p_detect`` without avoidance
    p_avoid: np.ndarray | None = None
    #: bool[channels]: the channels whose records the scheme takes (a layer's ``channels:``);
    #: ``None``: every channel. ``p_detect``, ``p_avoid``, ``p_channel`` and the false records
    #: by kind stay every channel's (the records made, which layers share): :func:`taken`
    #: gives the ones the scheme takes. Deterrence, reward seeking and the false records of
    #: counted acts are over the scheme's channels already
    taken: np.ndarray | None = None
    #: float64[channels]: the share of each channel's records of a sanctioned person's acts
    #: that avoidance leaves (``None``: no avoidance; ``p_avoid`` is ``p_detect``)
    avoid_kept: np.ndarray | None = None


def taken(r: RateTables) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """``(p_detect, p_avoid, p_channel)`` over the channels the scheme takes
    (:attr:`RateTables.taken`): the chance that one of them records a true act, without and
    with avoidance, and each channel's chance, 0 for a channel not taken. Every channel: the
    tables' own arrays, as they are. Taking fewer channels never makes a record likelier, bit
    for bit (a product with more factors below 1 is never larger), so one draw compared with
    these gives nested records: a scheme with fewer channels sees a subset of the records."""
    if r.taken is None:
        return r.p_detect, r.p_avoid, r.p_channel
    mine = r.p_channel * r.taken[None, :, None]
    p_detect = 1.0 - np.prod(1.0 - mine, axis=1)
    p_avoid = (
        None
        if r.avoid_kept is None
        else 1.0 - np.prod(1.0 - mine * r.avoid_kept[None, :, None], axis=1)
    )
    return p_detect, p_avoid, mine


def with_act_effects(rate: np.ndarray, mult: np.ndarray) -> np.ndarray:
    """Rates by class with act effects: ``out[cells, s + 2 k, S] = rate[cells, s, S] * mult[k]``
    for ``s`` sanctioned or not and ``k`` a rate class of running act effects
    (``SchemeLayout.class_mult``, ``mult[K, S]`` its rows for these acts). Without
    act effects (``K = 1``, all ones) the rates are returned as they are."""
    if mult.shape[0] == 1 and np.all(mult == 1.0):
        return rate
    out = rate[:, None, :, :] * mult[None, :, None, :]  # [cells, K, CLASSES, S]
    return np.ascontiguousarray(out.reshape(rate.shape[0], -1, rate.shape[2]))


def cumulative(rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Total rate over the last axis and the running-sum distribution of an event's kind."""
    total = rate.sum(axis=-1)
    cum = np.cumsum(rate, axis=-1) / np.where(total > 0, total, 1.0)[..., None]
    if cum.shape[-1]:
        cum[..., -1] = 1.0
    return np.ascontiguousarray(total), np.ascontiguousarray(cum)


def multipliers(catalogue: Catalogue, cells: Cells) -> np.ndarray:
    """float64[cells, acts]: each act's trait multiplier in each cell, the product of its
    multipliers for the cell's level of each trait (1 for a level it does not name), taken in
    the order the act lists its traits."""
    traits = cells.traits()
    column = {trait: k for k, trait in enumerate(cells.levels)}
    out = np.ones((traits.shape[0], len(catalogue.acts)))
    for a_i, act in enumerate(catalogue.acts):
        for trait, table in act.multipliers.items():
            labels = cells.levels[trait]
            by_level = np.array([table.get(label, 1.0) for label in labels], np.float64)
            out[:, a_i] *= by_level[traits[:, column[trait]]]
    return out


def check_catalogue(catalogue: Catalogue, scheme: Scheme, cells: Cells) -> None:
    """Every act the scheme scores is in the catalogue; every multiplier names a real level."""
    known = {a.id for a in catalogue.acts}
    for e in scheme.events:
        if e.act_id not in known:
            raise ScenarioError(
                f"scheme '{scheme.id}': event '{e.id}' scores the act '{e.act_id}', which the act "
                "catalogue does not have; add it to the catalogue or set the event's act:"
            )
    attempts = {a.id for a in catalogue.acts if a.attempt}
    for e in scheme.events:
        if e.act_id in attempts:
            raise ScenarioError(
                f"scheme '{scheme.id}': event '{e.id}' scores the act '{e.act_id}', which the act "
                "catalogue marks as an attempt (attempt: true); attempts are counted, not scored"
            )
    for key in ("sanctions", "rewards"):
        for i, c in enumerate(getattr(scheme, key)):
            for j, act in enumerate(c.blocks):
                if act not in attempts:
                    what = "is not an attempt (attempt: true)" if act in known else "is not in it"
                    raise ScenarioError(
                        f"{scheme.where((key, i, 'blocks', j))}: scheme '{scheme.id}': sanction "
                        f"'{c.id}' blocks the act '{act}', which the act catalogue {what}; a "
                        "sanction blocks attempts, such as buy-flight-ticket"
                    )
            for j, effect in enumerate(c.effects):
                for act, m in (effect.acts or {}).items():
                    where = scheme.where((key, i, "effects", j, "acts", act))
                    if act not in known:
                        from difflib import get_close_matches

                        near = get_close_matches(act, sorted(known), n=1)
                        hint = f"; did you mean '{near[0]}'?" if near else ""
                        raise ScenarioError(
                            f"{where}: an effect on the act '{act}', which the act catalogue "
                            f"does not have{hint}"
                        )
                    if act in attempts and m > 1.0:
                        raise ScenarioError(
                            f"{where}: '{act}' is an attempt (attempt: true); its multiplier is "
                            f"the share of attempts let through, at most 1 (found {m:g})"
                        )
                    if act in attempts and m < 1.0 and key == "rewards":
                        raise ScenarioError(
                            f"{where}: a reward refuses nothing; a multiplier below 1 on an "
                            "attempt is for sanctions"
                        )
    levels = cells.levels
    for a in catalogue.acts:
        for trait, table in a.multipliers.items():
            if trait not in levels:
                raise ScenarioError(
                    f"act '{a.id}': multipliers by {trait} do not apply to {scheme.subject}, "
                    f"whose traits are {', '.join(levels)}"
                )
            bad = set(table) - set(levels[trait])
            if bad:
                raise ScenarioError(
                    f"act '{a.id}': multipliers for {trait} name unknown levels "
                    f"{', '.join(sorted(bad))}; levels are {', '.join(levels[trait])}"
                )


@dataclass(frozen=True)
class _Weighed:
    """A scheme's events in force as people weigh them (``off``: the ids of the events and of the
    lists out of force, ``in_force:``): each by the act it scores, and whether it enters a list
    of the kind that counts."""

    score_units: units.ScoreUnits
    #: points are felt relative to the score range (100 of a 1,000-point range weigh 1), in
    #: engine integers: a scheme at resolution 0.1 deters as the same one written x 10
    scale: float
    by_act: dict[str, Event]
    #: the ids of the events that enter a list (of the kind that counts) in force
    entering: frozenset[str]
    #: a weighted-factor score moves by the factor's weight times a record's points
    weight: dict[str, float]

    @classmethod
    def of(cls, scheme: Scheme, off: tuple[frozenset[str], frozenset[str]], kind: str) -> _Weighed:
        n = units.of(scheme)
        events_off, lists_off = off
        return cls(
            score_units=n,
            scale=(n.engine(scheme.score.max) - n.engine(scheme.score.min)) / 10.0,
            by_act={e.act_id: e for e in scheme.events if e.id not in events_off},
            entering=frozenset(
                ev
                for x in scheme.lists
                if x.kind == kind and x.id not in lists_off
                for ev in x.entry.events
            ),
            weight={f.id: f.weight for f in scheme.score.factors},
        )

    def points(self, ev: Event) -> float:
        """What a record of ``ev`` moves the score by, in engine integers: its points, times its
        factor's weight in a weighted-factor score."""
        return self.score_units.engine(ev.points) * (self.weight[ev.factor] if ev.factor else 1.0)

    def value(self, points: float, ev: Event, adaptation: Adaptation) -> float:
        """``points`` (engine integers) relative to the score range, plus, for an event that
        enters a list, ``list_entry_points`` of a 1,000-point range, whatever the scheme."""
        entry = adaptation.list_entry_points / 100.0 if ev.id in self.entering else 0.0
        return points / self.scale + entry


def penalties(
    catalogue: Catalogue,
    scheme: Scheme,
    adaptation: Adaptation,
    off: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset()),
) -> tuple[np.ndarray, np.ndarray]:
    """What each act costs under ``scheme`` as people feel it, and how strongly they respond:
    ``(penalty, elasticity)`` per act, catalogue order (see :class:`Deterrence`). The elasticity
    is the scenario's whether or not deterrence and chilling are enabled. ``off``: the ids of the
    events and of the lists out of force (``in_force:``), which cost nothing."""
    acts = catalogue.acts
    penalty = np.zeros(len(acts))
    elasticity = np.zeros(len(acts))
    det, chill = adaptation.deterrence, adaptation.chilling
    weighed = _Weighed.of(scheme, off, "black")  # a blacklist entry is felt; a redlist entry not
    for a_i, act in enumerate(acts):
        ev = weighed.by_act.get(act.id)
        if ev is None:
            continue
        penalty[a_i] = weighed.value(max(0.0, -weighed.points(ev)), ev, adaptation)
        elasticity[a_i] = chill.elasticity if act.rights else det.elasticity
    return penalty, elasticity


def latent_rates(
    catalogue: Catalogue,
    scheme: Scheme | None,
    cells: Cells,
    weights: np.ndarray,
    p_detect: np.ndarray,
    adaptation: Adaptation,
) -> np.ndarray:
    """Each act's latent rate per agent-year (before multipliers), catalogue order.

    A rate with no ``measured_under`` is latent already. A rate measured under a scheme is a
    flow observed while that scheme ran: the mean rate, over the population (cell shares
    ``weights``), of people under no sanction, whose acts the scheme deterred by
    ``exp(-elasticity * P(recorded) * penalty)`` with deterrence and chilling on. That is linear
    in the latent rate, so the solve is exact: the observed rate divided by the population's mean
    of multiplier times deterrence. ``scheme`` is the run's own (``None`` for an unscored run);
    another scheme is loaded by its id.
    """
    from scslab.schemes.loader import load_scheme

    acts = catalogue.acts
    latent = np.array([a.rate for a in acts], np.float64)
    measured = {a.measured_under for a in acts if a.measured_under is not None}
    if not measured:
        return latent
    region = cells.traits()[:, 0]
    mults = multipliers(catalogue, cells)
    for scheme_id in sorted(measured):
        if scheme is not None and scheme.id == scheme_id:
            under = scheme
        else:
            try:
                under = load_scheme(scheme_id)
            except ScslabError as exc:
                raise ScenarioError(
                    f"act catalogue: a rate is measured_under '{scheme_id}', which is not a "
                    f"scheme scslab knows ({exc})"
                ) from None
        penalty, elasticity = penalties(catalogue, under, adaptation)
        scored = set(under.acts())
        for a_i, act in enumerate(acts):
            if act.measured_under != scheme_id:
                continue
            if act.id not in scored:
                raise ScenarioError(
                    f"act '{act.id}': its rate is measured_under '{scheme_id}', which does not "
                    "score it, so the rate is not deterred there; remove measured_under"
                )
            mult = mults[:, a_i]
            kept = np.exp(-elasticity[a_i] * p_detect[a_i, region] * penalty[a_i])
            mean = float((weights * mult * kept).sum())
            latent[a_i] = act.rate / mean if mean > 0 else 0.0
    return latent


def rate_tables(
    catalogue: Catalogue,
    scheme: Scheme | None,
    cells: Cells,
    observation: Observation,
    adaptation: Adaptation,
    also_personal: Iterable[str] = (),
    rate_scale: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    off: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset()),
    channels: Iterable[str] | None = None,
) -> RateTables:
    """Compute the tables. ``scheme=None`` gives the unscored baseline (no adaptation).

    ``channels``: the ids of the channels whose records the scheme takes (a layer's
    ``channels:``; ``None``: every channel): people feel its deterrence and seek its rewards
    through those only (:attr:`RateTables.taken`). A rate ``measured_under`` a scheme is
    solved for with every channel's records, as the flow was observed.

    ``off``: the ids of the scheme's events and lists out of force (``in_force:``) while the
    tables hold: they deter nobody and reward nobody. A rate ``measured_under`` the scheme is
    still solved for with every rule (:func:`latent_rates`).

    ``also_personal`` names acts to draw person by person although the scheme does not score
    them (see :class:`RateTables`). ``rate_scale`` multiplies each act's base rate (catalogue
    order): the firm calibration fits it, and the contract game zeroes the act it plays.
    ``weights`` are the expected shares of agents in each cell, which the solve for a rate
    ``measured_under`` a scheme averages over (:func:`latent_rates`); default: equal shares.
    """
    if scheme is not None:
        check_catalogue(catalogue, scheme, cells)
    takes = None if channels is None else frozenset(channels)
    acts = catalogue.acts
    channels = {c.id: c for c in catalogue.channels}
    regions = cells.regions
    factor = np.ones(len(acts)) if rate_scale is None else np.asarray(rate_scale, np.float64)
    coverage = np.array(
        [1.0 - np.exp(-observation.camera_reach * r.cameras_per_person) for r in regions]
    )

    # P(recorded) per act, channel and region
    ch_ids = [c.id for c in catalogue.channels]
    p_channel = np.zeros((len(acts), len(ch_ids), len(regions)))
    for a_i, act in enumerate(acts):
        for ch, p in act.channels.items():
            c_i = ch_ids.index(ch)
            p_channel[a_i, c_i, :] = p * (coverage if ch == "camera" else 1.0)
    p_channel *= observation.record_share
    p_detect = 1.0 - np.prod(1.0 - p_channel, axis=1)
    # avoidance: people under a sanction keep a share of their acts off the platform channels
    p_avoid = p_detect
    avoid_kept = None
    avoid = adaptation.avoidance
    if scheme is not None and avoid.enabled:
        unknown = sorted(set(avoid.channels) - set(ch_ids))
        if unknown:
            raise ScenarioError(
                f"adaptation.avoidance.channels: {', '.join(unknown)} not in the catalogue's "
                f"channels ({', '.join(ch_ids)})"
            )
        kept = np.array([1.0 - avoid.share if c in avoid.channels else 1.0 for c in ch_ids])
        p_avoid = 1.0 - np.prod(1.0 - p_channel * kept[None, :, None], axis=1)
        avoid_kept = kept
    mask = None if takes is None else np.array([c in takes for c in ch_ids])
    # what the scheme takes: what people feel it by
    p_taken = p_detect if mask is None else 1.0 - np.prod(1.0 - p_channel * mask[:, None], axis=1)

    # false records per act and channel, per region (per person-year)
    ratio = np.array([channels[c].false_record_ratio for c in ch_ids])
    if observation.camera_false_match_rate is not None and "camera" in ch_ids:
        ratio[ch_ids.index("camera")] = observation.camera_false_match_rate
    if not observation.false_records:
        ratio[:] = 0.0
    if weights is None:
        weights = np.full(cells.n_cells(), 1.0 / cells.n_cells())
    latent = latent_rates(catalogue, scheme, cells, weights, p_detect, adaptation)
    base = latent * factor
    false_rate = ratio[None, :, None] * p_channel * base[:, None, None]  # [act, channel, region]
    pairs = [
        (a_i, c_i)
        for a_i in range(len(acts))
        for c_i in range(len(ch_ids))
        if p_channel[a_i, c_i].any() and ratio[c_i] > 0
    ]

    # how much each act is deterred or chilled, per region and class
    penalty = np.zeros(len(acts))
    elasticity = np.zeros(len(acts))
    salience = np.ones(CLASSES)
    if scheme is not None:
        det, chill = adaptation.deterrence, adaptation.chilling
        penalty, elasticity = penalties(catalogue, scheme, adaptation, off)
        on = np.array([chill.enabled if a.rights else det.enabled for a in acts])
        elasticity = np.where(on, elasticity, 0.0)
        salience = np.array([1.0, 1.0 + det.sanctioned_salience])

    seeking = reward_factors(catalogue, scheme, adaptation, p_taken, off)
    region_of = cells.traits()[:, 0]
    n_cells = len(region_of)
    # [cell, class, act]: the rate a month, deterred (or chilled) and sought
    monthly = base[None, :] * multipliers(catalogue, cells) / 12.0
    feel = (p_taken[:, region_of].T * penalty[None, :])[:, None, :] * salience[None, :, None]
    deterrence = np.exp(-elasticity[None, None, :] * feel)
    true_rate = monthly[:, None, :] * deterrence * seeking[:, region_of].T[:, None, :]
    mine = false_rate if mask is None else false_rate * mask[:, None]  # the scheme's channels'
    false_by_act = mine.sum(axis=1)[:, region_of].T / 12.0  # [cells, acts]
    # children (cells of age 0-17) act for no scheme and leave no records until they come of age
    adult = ~cells.minor()
    true_rate *= adult[:, None, None]
    false_by_act *= adult[:, None]

    known = {a.id for a in acts}
    unknown = sorted(set(also_personal) - known)
    if unknown:
        raise ScenarioError(f"acts not in the catalogue: {', '.join(unknown)}")
    attempts_ids = {a.id for a in acts if a.attempt}
    tried = sorted(set(also_personal) & attempts_ids)
    if tried:
        raise ScenarioError(f"attempts are counted, not drawn person by person: {', '.join(tried)}")
    personal_ids = set(also_personal) | (set(scheme.acts()) if scheme is not None else set())
    # acts whose rates an effect multiplies are drawn person by person: the effect falls on
    # exactly the people under it (attempts are drawn so for the refused already)
    if scheme is not None:
        personal_ids |= {
            a for c in scheme.consequences() for a in c.act_multipliers() if a not in attempts_ids
        }
    personal = np.array([i for i, a in enumerate(acts) if a.id in personal_ids], np.int32)
    counted = np.array(
        [i for i, a in enumerate(acts) if a.id not in personal_ids and not a.attempt], np.int32
    )
    attempt = np.array([i for i, a in enumerate(acts) if a.attempt], np.int32)
    pairs = [(a, c) for a, c in pairs if a in set(personal.tolist())]
    return RateTables(
        act_ids=tuple(a.id for a in acts),
        personal=personal,
        rate=true_rate[:, :, personal],
        false_act=np.array([a for a, _ in pairs], np.int32),
        false_channel=np.array([c for _, c in pairs], np.int32),
        false_rate=np.stack([false_rate[a, c, region_of] / 12.0 * adult for a, c in pairs], axis=1)
        if pairs
        else np.zeros((n_cells, 0)),
        counted=counted,
        counted_rate=true_rate[:, 0, counted],
        counted_false=false_by_act[:, counted],
        p_detect=p_detect,
        coverage=coverage,
        deterrence=deterrence,
        attempt=attempt,
        attempt_rate=np.ascontiguousarray(true_rate[:, 0, attempt]),
        attempt_false=np.ascontiguousarray(false_by_act[:, attempt]),
        latent=latent,
        p_avoid=p_avoid,
        p_channel=p_channel,
        channels=tuple(ch_ids),
        taken=mask,
        avoid_kept=avoid_kept,
    )


def reward_factors(
    catalogue: Catalogue,
    scheme: Scheme | None,
    adaptation: Adaptation,
    p_detect: np.ndarray,
    off: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset()),
) -> np.ndarray:
    """``float64[acts, regions]``: how much reward seeking and gaming raise each act (1: not).

    Only lawful acts the scheme rewards: with points above 0, or (reward seeking) an entry on a
    redlist; of events and lists in force (``off``: the ids of those out of force). Every other
    act keeps its rate exactly."""
    out = np.ones_like(p_detect)
    seek, game = adaptation.reward_seeking, adaptation.gaming
    if scheme is None or not (seek.enabled or game.enabled):
        return out
    weighed = _Weighed.of(scheme, off, "red")
    for a_i, act in enumerate(catalogue.acts):
        ev = weighed.by_act.get(act.id)
        if ev is None or not act.lawful:
            continue
        value = weighed.value(max(0.0, weighed.points(ev)), ev, adaptation)
        if value <= 0:
            continue
        if seek.enabled:
            out[a_i] *= np.exp(seek.elasticity * p_detect[a_i] * value)
        if game.enabled and ev.points > 0:
            out[a_i] *= 1.0 + game.share * game.shift
    return out
