"""Fractional points (``score.resolution``): a scheme at resolution 0.1 runs exactly as the same
scheme written x 10 in whole points, person by person and draw by draw, and reads back in its own
units."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from conftest import catalogue, scheme
from scslab.behaviour.model import Adaptation
from scslab.engine.compiled import compile_scheme
from scslab.engine.scenario import Scenario
from scslab.population import PopulationSpec
from scslab.population.network import NetworkSpec
from scslab.runs import Simulation

#: Every score-valued number of the scheme, by name: written as is at resolution 0.1, x 10 in
#: whole points. Deterrence is on, so the rates people act on are read from the points too.
NUMBERS = {
    "base": 60,
    "min": 0,
    "max": 100,
    "theft": -2.5,
    "fraud": -7.3,
    "minor": -0.4,
    "grave": -3.1,
    "cap": 9.5,
    "low_max": 59.9,
    "mid_min": 60,
    "mid_max": 64.9,
    "high_min": 65,
    "below": 55.5,
    "restore": 58.2,
    "threshold": 58.5,
    "friends": -1.5,
    "household": -0.2,
    "decay": 0.3,
}

TEXT = """
id: tenths
name: Tenths
subject: individuals
description: a scheme scored in tenths of a point
score: {{base: {base}, min: {min}, max: {max}, assumed: true{resolution}}}
categories: [{{id: order, cap: {cap}, assumed: true}}, {{id: ties}}]
events:
  - {{id: theft, category: order, points: {theft}, domain: public-order, assumed: true}}
  - {{id: fraud, category: ties, points: {fraud}, domain: commerce, assumed: true}}
  - id: vandalism
    category: ties
    points_by:
      severity:
        minor: {{share: 0.7, points: {minor}}}
        grave: {{share: 0.3, points: {grave}}}
      assumed: true
    domain: public-order
    assumed: true
grades:
  - {{id: A, min: {high_min}, max: {max}, assumed: true}}
  - {{id: B, min: {mid_min}, max: {mid_max}, assumed: true}}
  - {{id: C, min: {min}, max: {low_max}, assumed: true}}
lists:
  - id: low
    kind: black
    entry: {{score_below: {below}}}
    exit: {{condition_ends: true}}
    assumed: true
sanctions:
  - id: no-loans
    trigger: {{grades: [C]}}
    domain: finance
    effect: no loans
    assumed: true
network:
  - {{id: friends, threshold: {threshold}, share: 0.3, points: {friends}, category: ties,
     assumed: true}}
collective:
  - {{id: household, group: household, points: {household}, assumed: true}}
decay: {{points_per_month: {decay}, after_clean_months: 2, assumed: true}}
repair: {{clean_months: 3, monthly_probability: 0.2, restore_to: {restore}, assumed: true}}
"""


def _text(tenths: bool) -> str:
    if tenths:
        return TEXT.format(**NUMBERS, resolution=", resolution: 0.1")
    whole = {k: round(v * 10) for k, v in NUMBERS.items()}
    return TEXT.format(**whole, resolution="")


def _sim(tenths: bool, seed: int = 7) -> Simulation:
    scenario = Scenario(
        population=PopulationSpec(agents=300),
        years=1,
        seed=seed,
        panel=300,
        adaptation=Adaptation(),  # deterrence reads the points
        network=NetworkSpec(mean_degree=6),
    )
    rates = {"theft": 4.0, "fraud": 1.5, "vandalism": 2.0}
    return Simulation(
        scenario, scheme=scheme(_text(tenths)), catalogue=catalogue(rates, detect=0.6)
    )


def test_a_scheme_in_tenths_compiles_to_the_arrays_of_the_same_scheme_in_whole_points() -> None:
    acts = ("theft", "fraud", "vandalism")
    a, la = compile_scheme(scheme(_text(True)), acts)
    b, lb = compile_scheme(scheme(_text(False)), acts)
    assert la.score_units.scale == 10 and lb.score_units.scale == 1
    for name, x in a._asdict().items():
        y = getattr(b, name)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and np.array_equal(x, y), name
        else:
            assert x == y, name
    # the severity levels' mean, rounded in tenths: 0.7 x -4 + 0.3 x -31 = -12.1 -> -12
    assert scheme(_text(True)).events[2].points == -1.2
    assert a.ev_points[2] == -12


def test_scores_in_tenths_are_the_whole_point_scheme_s_divided_by_ten(tmp_path: Path) -> None:
    """Same draws, same people, same scores: every month, every person (the panel holds them
    all); the stored tables hold the tenths scheme's scores and points in its units."""
    rt = _sim(True).run(tmp_path / "tenths")
    rw = _sim(False).run(tmp_path / "whole")
    query = "SELECT step, person, score, score_before, grade FROM panel ORDER BY 1, 2"
    panel_t, panel_w = rt.sql(query).fetchnumpy(), rw.sql(query).fetchnumpy()
    assert len(panel_t["score"]) == 300 * 12
    for col in ("score", "score_before"):
        assert np.array_equal(np.rint(panel_t[col] * 10).astype(np.int64), panel_w[col])
        assert np.allclose(panel_t[col], panel_w[col] / 10, rtol=0, atol=1e-9)
    assert list(panel_t["grade"]) == list(panel_w["grade"])
    # scores moved off whole points, by records, rules, caps and decay alike
    assert (np.rint(panel_t["score"] * 10) % 10 != 0).mean() > 0.2
    assert (panel_t["score"] < 55.5).any()
    query = "SELECT step, person, act, recorded, points FROM panel_events ORDER BY rowid"
    events_t, events_w = rt.sql(query).fetchnumpy(), rw.sql(query).fetchnumpy()
    assert len(events_t["points"]) > 100  # the scheme scored plenty
    for col in ("step", "person", "act", "recorded"):
        assert list(events_t[col]) == list(events_w[col])
    assert np.allclose(events_t["points"], events_w["points"] / 10, rtol=0, atol=1e-9)
    assert {-2.5, -0.4, -3.1} <= set(events_t["points"].tolist())
    mean_t = rt.sql("SELECT mean_score FROM steps ORDER BY rowid").fetchnumpy()["mean_score"]
    mean_w = rw.sql("SELECT mean_score FROM steps ORDER BY rowid").fetchnumpy()["mean_score"]
    assert np.allclose(mean_t, mean_w / 10, rtol=1e-12)
    hist_t = rt.sql("SELECT low, high, people FROM score_histogram ORDER BY rowid").fetchnumpy()
    hist_w = rw.sql("SELECT low, high, people FROM score_histogram ORDER BY rowid").fetchnumpy()
    assert np.array_equal(hist_t["people"], hist_w["people"])
    assert np.allclose(hist_t["high"], hist_w["high"] / 10, rtol=0, atol=1e-9)
    assert hist_t["high"].max() == 100.0
    listed = "SELECT count(*) FROM panel_spells WHERE kind = 'list'"
    assert rt.sql(listed).fetchall() == rw.sql(listed).fetchall() != [(0,)]
