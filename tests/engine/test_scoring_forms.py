"""Points by channel and by severity, and the weighted-factor score, pinned person by person.

Each test recomputes in plain Python, from the same counter-based draws, what the step must have
done with every record of a tiny run, and compares it with the panel's log or the final state.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from conftest import catalogue, scenario, scheme
from scslab.behaviour.model import Catalogue
from scslab.engine.simulation import Simulation
from scslab.errors import SchemeError
from scslab.rng import SLOT_SEVERITY, STREAM_OBSERVE, step_key, uniform


def _catalogue(channels: dict[str, float], false: dict[str, float] | None = None) -> Catalogue:
    """One act, ``theft``, seen by each channel with its chance; false records per channel."""
    false = false or {}
    return Catalogue.model_validate(
        {
            "acts": [
                {
                    "id": "theft",
                    "name": "theft",
                    "domain": "public-order",
                    "lawful": False,
                    "rate": 6.0,
                    "channels": channels,
                    "assumed": True,
                }
            ],
            "channels": [
                {"id": c, "name": c, "false_record_ratio": false.get(c, 0.0), "assumed": True}
                for c in channels
            ],
        }
    )


HEAD = """
id: forms
name: Scoring forms
subject: individuals
description: one act scored by channel, severity or factor
score: {base: 5000, min: 0, max: 10000, assumed: true}
categories: [{id: order}]
"""

BY_CHANNEL = (
    HEAD
    + """
events:
  - id: theft
    category: order
    points: -5
    points_by: {channel: {bank: -50, court: -30}, assumed: true}
    domain: public-order
    assumed: true
"""
)

BY_SEVERITY = (
    HEAD
    + """
events:
  - id: theft
    category: order
    points_by:
      severity:
        minor: {share: 0.6, points: -20}
        serious: {share: 0.3, points: -70}
        grave: {share: 0.1, points: -300}
      assumed: true
    domain: public-order
    assumed: true
"""
)


def _rows(record: object) -> np.ndarray:
    """Panel rows ``[step, person, act, false, recorded, applied, event]``, in logged order."""
    return np.concatenate(record.panel_events)  # type: ignore[attr-defined]


def _numbered(rows: np.ndarray) -> list[tuple[int, int, int, np.ndarray]]:
    """Each row with ``j``, its rank among the person's rows of that month (1-based): the
    sub-draw the step used for it when only true acts are drawn."""
    out, seen = [], {}
    for r in rows:
        key = (int(r[0]), int(r[1]))
        seen[key] = seen.get(key, 0) + 1
        out.append((key[0], key[1], seen[key], r))
    return out


def test_a_record_scores_the_points_of_the_first_listed_channel_that_saw_it() -> None:
    """Bank (0.5) before court (0.4), informant (0.3) unlisted: a draw ``u`` below 0.5 is the
    bank's record (-50), below 1 - 0.5 x 0.6 the court's (-30), else the informant's (-5)."""
    seed = 3
    sim = Simulation(
        scenario(400, 6, seed=seed),
        scheme=scheme(BY_CHANNEL),
        catalogue=_catalogue({"court": 0.4, "bank": 0.5, "informant": 0.3}),
    )
    record, _ = sim.execute()
    seen = {-50: 0, -30: 0, -5: 0}
    for t, person, j, row in _numbered(_rows(record)):
        u = uniform(step_key(seed, STREAM_OBSERVE, t), person, j)
        recorded = u < 1 - 0.6 * 0.5 * 0.7
        assert row[4] == int(recorded)
        if recorded:
            expect = -50 if u < 0.5 else -30 if u < 1 - 0.5 * 0.6 else -5
            assert row[5] == expect, (t, person, j, u)
            seen[expect] += 1
    assert min(seen.values()) > 20, seen  # every channel's points were given


def test_a_false_record_scores_its_own_channels_points() -> None:
    """False records come from the bank alone: every one of them costs the bank's -50."""
    sim = Simulation(
        scenario(600, 6, seed=4),
        scheme=scheme(BY_CHANNEL),
        catalogue=_catalogue({"court": 0.4, "bank": 0.5}, false={"bank": 0.5}),
    )
    record, _ = sim.execute()
    rows = _rows(record)
    false = rows[rows[:, 3] == 1]
    assert len(false) > 20
    assert (false[:, 5] == -50).all()


def test_each_record_scores_the_points_of_its_drawn_severity() -> None:
    """A record's level is the draw on its own slot of the observation stream, against the
    levels' running shares; shares come out as stated, within sampling error."""
    seed = 5
    sim = Simulation(
        scenario(500, 6, seed=seed),
        scheme=scheme(BY_SEVERITY),
        catalogue=_catalogue({"court": 1.0}),
    )
    assert sim.scheme.events[0].points == -63  # the mean, 0.6 x -20 + 0.3 x -70 + 0.1 x -300
    record, _ = sim.execute()
    counts = {-20: 0, -70: 0, -300: 0}
    for t, person, j, row in _numbered(_rows(record)):
        v = uniform(step_key(seed, STREAM_OBSERVE, t), person, SLOT_SEVERITY + j)
        expect = -20 if v < 0.6 else -70 if v < 0.9 else -300
        assert row[5] == expect, (t, person, j, v)
        counts[expect] += 1
    n = sum(counts.values())
    assert n > 1000
    assert abs(counts[-20] / n - 0.6) < 4 * math.sqrt(0.24 / n)
    assert abs(counts[-300] / n - 0.1) < 4 * math.sqrt(0.09 / n)


def test_scoring_by_severity_draws_the_same_acts_as_plain_points() -> None:
    """The severity draw has a slot of its own: the true acts and records are those of the same
    scheme with plain points."""
    plain = BY_SEVERITY.split("    points_by:")[0] + "    points: -63\n    domain: public-order\n"
    plain += "    assumed: true\n"
    runs = [
        Simulation(
            scenario(300, 3), scheme=scheme(text), catalogue=_catalogue({"court": 0.7})
        ).execute()[0]
        for text in (plain, BY_SEVERITY)
    ]
    assert np.array_equal(runs[0].ev_true, runs[1].ev_true)
    assert np.array_equal(runs[0].ev_rec, runs[1].ev_rec)
    assert not np.array_equal(runs[0].score_sum, runs[1].score_sum)


FACTORS = """
id: factors
name: Factors
subject: individuals
description: a weighted-factor score
score:
  base: 500
  min: 300
  max: 900
  factors:
    - {id: history, weight: 0.35}
    - {id: capacity, weight: 0.25}
    - {id: traits, weight: 0.15}
    - {id: habits, weight: 0.2}
    - {id: ties, weight: 0.05}
  assumed: true
categories: [{id: all}]
events:
  - {id: repay, category: all, factor: history, points: 7, domain: finance, assumed: true}
  - {id: default, category: all, factor: history, points: -90, domain: finance, assumed: true}
  - {id: bills, category: all, factor: capacity, points: 3, domain: finance, assumed: true}
  - {id: verify, category: all, factor: traits, points: 40, domain: commerce, assumed: true}
  - {id: gaming, category: all, factor: habits, points: -25, domain: consumption, assumed: true}
"""
RATES = {"repay": 24.0, "default": 0.6, "bills": 12.0, "verify": 0.5, "gaming": 3.0}


def _recompute(base: int, weights: list[float], factor: np.ndarray, lo: int, hi: int) -> int:
    x = 0.0
    for w, f in zip(weights, factor, strict=True):
        x += w * (int(f) - base)
    return min(max(base + math.floor(x + 0.5), lo), hi)


def test_a_weighted_factor_score_is_the_weighted_sum_of_its_factors() -> None:
    """Without decay or caps each factor is base plus its own events' points, counted from the
    panel's log, and the score is base plus the weighted distances, rounded: for every person."""

    sim = Simulation(scenario(300, 12), scheme=scheme(FACTORS), catalogue=catalogue(RATES))
    record, state = sim.execute()
    s = sim.scheme
    weights = [f.weight for f in s.score.factors]
    factor_of = [[f.id for f in s.score.factors].index(e.factor) for e in s.events]
    counts = np.zeros((300, len(s.events)), np.int64)
    rows = _rows(record)
    for r in rows[rows[:, 6] >= 0]:
        counts[r[1], r[6]] += 1
    expect = np.full((300, len(weights)), 500, np.int64)
    for k, e in enumerate(s.events):
        expect[:, factor_of[k]] += counts[:, k] * e.points
    assert np.array_equal(state.factor, np.clip(expect, 300, 900))
    scores = [_recompute(500, weights, state.factor[i], 300, 900) for i in range(300)]
    assert np.array_equal(state.score, scores)
    assert len(set(scores)) > 20  # the factors moved apart


def test_decay_fades_each_factor_and_the_score_follows() -> None:
    """With a half-life, every factor fades toward base, and the score stays the weighted sum."""

    text = FACTORS + "decay: {half_life_months: 6, direction: both, assumed: true}\n"
    sim = Simulation(scenario(300, 24), scheme=scheme(text), catalogue=catalogue(RATES))
    _, state = sim.execute()
    weights = [f.weight for f in sim.scheme.score.factors]
    scores = [_recompute(500, weights, state.factor[i], 300, 900) for i in range(300)]
    assert np.array_equal(state.score, scores)
    # history gains 2 x 7 - 0.05 x 90 = 9.5 points a month: 228 in 24 months without decay;
    # with it, it settles near 9.5 (1 - s) / s = 78 above base, s the monthly share
    assert 50 < state.factor[:, 0].mean() - 500 < 85


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("weight: 0.05}", "weight: 0.1}", "the factor weights sum to 1.05; they must sum to 1"),
        ("factor: capacity, points: 3", "factor: capacty, points: 3", "did you mean 'capacity'"),
        ("category: all, factor: traits, ", "category: all, ", "name this rule's factor"),
    ],
)
def test_a_bad_weighted_factor_score_is_refused(old: str, new: str, message: str) -> None:
    assert FACTORS.count(old) == 1
    with pytest.raises(SchemeError, match=message):
        scheme(FACTORS.replace(old, new))


def test_a_won_appeal_in_a_weighted_factor_score_reverses_its_factors_points() -> None:
    """The appeals scheme of test_appeals with a two-factor score: people whose records were all
    false, each appealed and decided, end with the factors and score of the run without false
    records."""
    from test_appeals import APPEALED, DELAY

    text = APPEALED.replace(
        "cap_window_months: 1200, source: paper}",
        "cap_window_months: 1200, source: paper,\n"
        "        factors: [{id: courts, weight: 0.6}, {id: rest, weight: 0.4}]}",
    ).replace("points: -30, domain: courts", "factor: courts, points: -30, domain: courts")
    assert "factor: courts" in text and "weight: 0.6" in text
    months = 12
    cat = catalogue({"unpaid-judgment": 1.0}, detect=1.0, false_ratio=1.0)
    sc = scenario(300, months, seed=5)
    record, state = Simulation(sc, scheme=scheme(text), catalogue=cat).execute()
    clean_sc = sc.model_copy(
        update={"observation": sc.observation.model_copy(update={"false_records": False})}
    )
    _, clean = Simulation(clean_sc, scheme=scheme(text), catalogue=cat).execute()
    ev = _rows(record)
    done = np.zeros(300, bool)
    for p in np.unique(ev[:, 1]):
        mine = ev[ev[:, 1] == p]
        free, ok = 0, bool((mine[:, 3] == 1).all())
        for t in mine[:, 0]:
            ok &= t >= free
            free = t + DELAY
        done[p] = ok and free <= months - 1
    assert done.sum() > 20
    assert (state.factor[done] == clean.factor[done]).all()
    assert (state.score[done] == clean.score[done]).all()
    assert (state.factor[~done, 0] < 100).any()  # others still carry their records


def test_a_factors_points_are_weighed_by_its_weight_alike_as_cost_and_as_reward() -> None:
    """A record moves a weighted-factor score by the factor's weight times its points, and that
    is what people weigh, whether the points cost or pay: reward seeking raises an act scored
    +p by exactly the exponent deterrence would lower it by were it scored -p."""
    from scslab.behaviour.model import Adaptation
    from scslab.behaviour.rates import penalties, reward_factors

    lawful = catalogue(RATES)
    lawful = lawful.model_copy(
        update={"acts": tuple(a.model_copy(update={"lawful": True}) for a in lawful.acts)}
    )
    scored = scheme(FACTORS)
    flipped = scheme(
        re.sub(r"points: (-?)(\d+)", lambda m: f"points: {'' if m[1] else '-'}{m[2]}", FACTORS)
    )
    seeking = Adaptation.model_validate({"reward_seeking": {"enabled": True, "elasticity": 0.5}})
    p_detect = np.full((len(lawful.acts), 1), 0.8)
    raised = reward_factors(lawful, scored, seeking, p_detect)[:, 0]
    cost, _ = penalties(lawful, flipped, seeking)
    paying = [e.act_id for e in scored.events if e.points > 0]
    assert paying == ["repay", "bills", "verify"]
    for a, act in enumerate(lawful.acts):
        if act.id in paying:
            assert math.log(raised[a]) == pytest.approx(0.5 * 0.8 * cost[a], rel=1e-12)
        else:
            assert raised[a] == 1.0
    # 40 points on a factor of weight 0.15, in a 600-point range (felt per 60 points)
    verify = [a.id for a in lawful.acts].index("verify")
    assert cost[verify] == pytest.approx(40 * 0.15 / 60, rel=1e-12)
