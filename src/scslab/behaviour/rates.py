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
from scslab.errors import ScenarioError
from scslab.population.individuals import Cells
from scslab.schemes.model import Scheme

CLASSES = 2  # 0: under no sanction, 1: under at least one sanction


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


def cumulative(rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Total rate over the last axis and the running-sum distribution of an event's kind."""
    total = rate.sum(axis=-1)
    cum = np.cumsum(rate, axis=-1) / np.where(total > 0, total, 1.0)[..., None]
    if cum.shape[-1]:
        cum[..., -1] = 1.0
    return np.ascontiguousarray(total), np.ascontiguousarray(cum)


def _multiplier(act_mult: dict[str, dict[str, float]], levels: dict[str, str]) -> float:
    m = 1.0
    for trait, table in act_mult.items():
        m *= table.get(levels[trait], 1.0)
    return m


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
    for c in scheme.sanctions:
        for act in c.blocks:
            if act not in attempts:
                what = "is not an attempt (attempt: true)" if act in known else "is not in it"
                raise ScenarioError(
                    f"scheme '{scheme.id}': sanction '{c.id}' blocks the act '{act}', which the "
                    f"act catalogue {what}; a sanction blocks attempts, such as buy-flight-ticket"
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


def rate_tables(
    catalogue: Catalogue,
    scheme: Scheme | None,
    cells: Cells,
    observation: Observation,
    adaptation: Adaptation,
    also_personal: Iterable[str] = (),
    rate_scale: np.ndarray | None = None,
) -> RateTables:
    """Compute the tables. ``scheme=None`` gives the unscored baseline (no adaptation).

    ``also_personal`` names acts to draw person by person although the scheme does not score
    them (see :class:`RateTables`). ``rate_scale`` multiplies each act's base rate (catalogue
    order): the firm calibration fits it, and the contract game zeroes the act it plays.
    """
    if scheme is not None:
        check_catalogue(catalogue, scheme, cells)
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

    # false records per act and channel, per region (per person-year)
    ratio = np.array([channels[c].false_record_ratio for c in ch_ids])
    if observation.camera_false_match_rate is not None and "camera" in ch_ids:
        ratio[ch_ids.index("camera")] = observation.camera_false_match_rate
    if not observation.false_records:
        ratio[:] = 0.0
    base = np.array([a.rate for a in acts]) * factor
    false_rate = ratio[None, :, None] * p_channel * base[:, None, None]  # [act, channel, region]
    pairs = [
        (a_i, c_i)
        for a_i in range(len(acts))
        for c_i in range(len(ch_ids))
        if p_channel[a_i, c_i].any() and ratio[c_i] > 0
    ]

    # how much each act is deterred or chilled, per region and class
    scale = (scheme.score.max - scheme.score.min) / 10.0 if scheme is not None else 1.0
    penalty = np.zeros(len(acts))
    elasticity = np.zeros(len(acts))
    if scheme is not None:
        det, chill = adaptation.deterrence, adaptation.chilling
        # a blacklist entry is felt as a penalty; a redlist entry is not
        entering = {ev for x in scheme.lists if x.kind == "black" for ev in x.entry.events}
        by_act = {e.act_id: e for e in scheme.events}
        for a_i, act in enumerate(acts):
            ev = by_act.get(act.id)
            if ev is None:
                continue
            # points are felt relative to the score range (100 of a 1,000-point range weigh 1);
            # a list entry weighs list_entry_points of a 1,000-point range, whatever the scheme
            penalty[a_i] = max(0, -ev.points) / scale + (
                adaptation.list_entry_points / 100.0 if ev.id in entering else 0.0
            )
            if act.rights:
                elasticity[a_i] = chill.elasticity if chill.enabled else 0.0
            else:
                elasticity[a_i] = det.elasticity if det.enabled else 0.0
        salience = np.array([1.0, 1.0 + det.sanctioned_salience])
    else:
        salience = np.ones(CLASSES)

    traits = cells.traits()
    names = list(cells.levels.items())
    n_cells = traits.shape[0]
    true_rate = np.zeros((n_cells, CLASSES, len(acts)))
    deterrence = np.ones((n_cells, CLASSES, len(acts)))
    for c in range(n_cells):
        r = int(traits[c, 0])
        levels = {trait: labels[traits[c, k]] for k, (trait, labels) in enumerate(names)}
        for a_i, act in enumerate(acts):
            monthly = act.rate * factor[a_i] * _multiplier(act.multipliers, levels) / 12.0  # type: ignore[arg-type]
            feel = p_detect[a_i, r] * penalty[a_i] * salience
            deterrence[c, :, a_i] = np.exp(-elasticity[a_i] * feel)
            true_rate[c, :, a_i] = monthly * deterrence[c, :, a_i]
    region_of = traits[:, 0]
    false_by_act = false_rate.sum(axis=1)[:, region_of].T / 12.0  # [cells, acts]

    known = {a.id for a in acts}
    unknown = sorted(set(also_personal) - known)
    if unknown:
        raise ScenarioError(f"acts not in the catalogue: {', '.join(unknown)}")
    tried = sorted(set(also_personal) & {a.id for a in acts if a.attempt})
    if tried:
        raise ScenarioError(f"attempts are counted, not drawn person by person: {', '.join(tried)}")
    personal_ids = set(also_personal) | (set(scheme.acts()) if scheme is not None else set())
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
        false_rate=np.stack([false_rate[a, c, region_of] / 12.0 for a, c in pairs], axis=1)
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
    )
