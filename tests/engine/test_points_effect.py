"""A consequence's ``points:`` effect: the score moves once, in the month the consequence starts,
within the category's cap and the score's range; on its own list's trigger and on another
layer's, checked person by person on tiny populations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import catalogue, scenario, scheme
from scslab.engine.compiled import EFFECT_POINTS
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Record
from scslab.errors import SchemeError
from scslab.runs import Simulation

LISTED = """
id: listed-points
name: Points off for a listing
subject: individuals
description: jaywalking lists for two months; each listing costs points as it starts
sources: {paper: the seed paper}
score: {base: 1000, min: MIN, max: 1000, source: paper}
categories: [{id: traffic}, {id: listings, cap: 120, assumed: true}]
events:
  - {id: jaywalking, category: traffic, points: -10, domain: transport, source: paper}
grades:
  - {id: A, min: 990, max: 1000, assumed: true}
  - {id: B, min: MIN, max: 989, assumed: true}
lists:
  - id: offenders
    kind: black
    entry: {events: [jaywalking]}
    exit: {after_months: 2}
    assumed: true
sanctions:
  - id: listing-deduction
    trigger: {list: offenders}
    domain: finance
    effect: points off
    assumed: true
    effects:
      - {points: -50, category: listings, assumed: true}
"""


EFFECT = "    effects:\n      - {points: -50, category: listings, assumed: true}\n"


def listed(low: int = 0, effect: bool = True) -> str:
    text = LISTED.replace("MIN", str(low))
    if not effect:  # nor the cap, which nothing else would reach
        text = text.replace("{id: listings, cap: 120, assumed: true}", "{id: listings}")
        text = text.replace(EFFECT, "")
    return text


def _run(text: str, months: int = 14) -> Record:
    sim = Simulation(
        scenario(400, months, seed=3),
        scheme=scheme(text),
        catalogue=catalogue({"jaywalking": 2.0}),
    )
    record, _ = sim.execute()
    return record


def _expected(record: Record, start: np.ndarray, low: int, cap: int, window: int = 12) -> None:
    """Person by person, month by month: the panel's score is last month's plus the month's
    records, then the listing's points once in the month it starts (``start[t, p]``): -50, or
    what is left of the cap in the window, or what is left above ``low``."""
    rec = record
    ev = np.concatenate(rec.panel_events)  # step, person, act, false, recorded, points, event
    people = rec.panel_people
    row = {int(p): k for k, p in enumerate(people)}
    records = np.zeros(rec.panel_score.shape, np.int64)
    effect = np.zeros(rec.panel_score.shape, np.int64)
    for t, p, act, _, _, pts, _ in ev.tolist():
        if act >= 0:
            records[t, row[p]] += pts
        elif act <= EFFECT_POINTS:
            assert effect[t, row[p]] == 0, "points moved twice in one month"
            effect[t, row[p]] = pts
    used = np.zeros(len(people), np.int64)
    score = np.full(len(people), 1000, np.int64)
    for t in range(rec.done):
        if t % window == 0:
            used[:] = 0
        mid = score + records[t]
        mag = np.where(start[t], np.minimum(50, cap - used), 0)
        after = np.maximum(mid - mag, low)
        used += mag
        assert (effect[t] == after - mid).all(), t
        assert (rec.panel_score[t] == after).all(), t
        score = after


def test_points_move_once_in_the_month_the_listing_starts() -> None:
    """Everyone in the panel: each listing's start moves the score by -50 in that month and no
    other, within the category's cap of 120 a year (a third listing in a year costs 20, a fourth
    nothing); the same scheme without the effect lists the same people in the same months, and
    the steps' counts and grades follow the scores."""
    rec = _run(listed())
    since = rec.panel_lists[:, :, 0]
    start = since == np.arange(rec.done)[:, None]
    _expected(rec, start, low=0, cap=120)
    assert start.sum() > 600 and (start.sum(axis=0) >= 4).any()  # caps are reached
    plain = _run(listed(effect=False))
    assert (plain.panel_lists == rec.panel_lists).all()
    # the month's grade is the new score's; the steps' grade counts and histogram follow it
    grade_a = rec.panel_score >= 990
    assert (rec.panel_grade == np.where(grade_a, 0, 1)).all()
    assert rec.grade.sum(axis=1)[:, 0].tolist() == grade_a.sum(axis=1).tolist()
    assert rec.score_sum.sum(axis=1).tolist() == rec.panel_score.sum(axis=1).tolist()
    assert (rec.hist.sum(axis=1) == 400).all()
    moved = rec.effect_points.sum(axis=1)[:, 0]
    logged = [
        sum(r[5] for r in rec.panel_events[t].tolist() if r[2] <= EFFECT_POINTS)
        for t in range(rec.done)
    ]
    assert moved.tolist() == logged and sum(logged) < -400 * 50


def test_points_stop_at_the_bottom_of_the_range() -> None:
    """A range ending 60 below base (and a cap of 60 a year): the listing's points stop at its
    minimum."""
    rec = _run(listed(low=940).replace("cap: 120", "cap: 60"))
    start = rec.panel_lists[:, :, 0] == np.arange(rec.done)[:, None]
    _expected(rec, start, low=940, cap=60)
    assert (rec.panel_score == 940).any()


def test_steps_explain_and_summary_show_the_points(tmp_path: Path) -> None:
    """The written run: a steps column of the points moved, the summary's total, the panel's
    events naming the sanction, and explain's words for them."""
    from scslab.analysis.explain import explain

    sim = Simulation(
        scenario(300, 6, seed=3),
        scheme=scheme(listed()),
        catalogue=catalogue({"jaywalking": 0.25}),
    )
    results = sim.run(tmp_path / "run")
    (total,) = results.sql('SELECT sum("effect_points__listing-deduction") FROM steps').fetchall()
    assert total[0] < 0
    assert results.summary()["effect_points"] == {"listing-deduction": int(total[0])}
    person, step, pts = results.sql(
        "SELECT person, step, points FROM panel_events WHERE act = 'sanction:listing-deduction' "
        "ORDER BY person, step LIMIT 1"
    ).fetchall()[0]
    story = explain(results, person)
    results.close()
    line = next(e for e in story.events if e.act == "sanction:listing-deduction")
    assert (line.step, line.points) == (step, pts)
    assert line.describe() == f"sanction:listing-deduction started, {pts} points"


FACTORS = """
id: factor-points
name: A listing's points on a factor
subject: individuals
description: the points move one factor; the score by its weight
sources: {paper: the seed paper}
score:
  base: 600
  min: 0
  max: 1000
  factors: [{id: credit, weight: 0.5}, {id: other, weight: 0.5}]
  source: paper
categories: [{id: traffic}]
events:
  - {id: jaywalking, category: traffic, factor: other, points: -2, domain: transport,
     source: paper}
lists:
  - {id: offenders, kind: black, entry: {events: [jaywalking]}, exit: {after_months: 1},
     assumed: true}
sanctions:
  - id: listing-deduction
    trigger: {list: offenders}
    domain: finance
    effect: points off
    assumed: true
    effects:
      - {points: -100, factor: credit, assumed: true}
"""


def test_points_on_a_factor_move_the_score_by_its_weight() -> None:
    """-100 points of a factor weighted 0.5 move the score by -50 as the listing starts."""
    rec = _run(FACTORS, months=4)
    ev = np.concatenate(rec.panel_events)
    moved = ev[ev[:, 2] <= EFFECT_POINTS, 5]
    assert len(moved) > 50 and set(moved.tolist()) == {-50}


@pytest.mark.parametrize(
    ("effect", "where", "says"),
    [
        ("{points: -50, category: nowhere, assumed: true}", "14:39", "unknown category 'nowhere'"),
        ("{points: -0.5, assumed: true}", "14:24", "not a whole number"),
        ("{points: 0, assumed: true}", "14:15", "moves no score"),
        ("{points: -2000, assumed: true}", "14:24", "more than the whole score range"),
        ("{points: -5, factor: credit, assumed: true}", "14:36", "the score has no factors"),
        ("{acts: {jaywalking: 0}, category: traffic, assumed: true}", "14:15", "goes with"),
        ("{points: -50}", "14:15", "add source"),
    ],
)
def test_a_bad_points_effect_is_refused_at_its_place(effect: str, where: str, says: str) -> None:
    text = f"""id: bad
name: bad
subject: individuals
description: bad
score: {{base: 1000, min: 0, max: 1000, assumed: true}}
categories: [{{id: traffic}}]
events: [{{id: jaywalking, category: traffic, points: -10, domain: transport, assumed: true}}]
sanctions:
  - id: s
    trigger: {{score_below: 900}}
    domain: finance
    effect: x
    assumed: true
    effects: [{effect}]
"""
    with pytest.raises(SchemeError) as err:
        scheme(text)
    assert f"test-scheme.yaml:{where}" in str(err.value) and says in str(err.value), err.value


def test_two_points_effects_are_refused() -> None:
    text = listed().replace(
        "      - {points: -50, category: listings, assumed: true}\n",
        "      - {points: -50, category: listings, assumed: true}\n"
        "      - {points: -5, assumed: true}\n",
    )
    with pytest.raises(SchemeError, match=r"test-scheme.yaml:28:18: .*give one points effect"):
        scheme(text)


# --- another layer's list -------------------------------------------------------------------

COURT = """
id: court
name: A court list
subject: individuals
description: arrears list for two months
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: finance}]
events:
  - {id: payment-arrears, category: finance, points: -100, domain: courts, source: paper}
lists:
  - {id: arrears, kind: black, entry: {events: [payment-arrears]}, exit: {after_months: 2},
     assumed: true}
"""

READER = """
id: reader
name: Points off for the court's list
subject: individuals
description: the court's listing costs points as it starts
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: finance}]
events:
  - {id: payment-arrears, category: finance, points: -5, domain: finance, source: paper}
sanctions:
  - id: court-listed
    trigger: {layer: spc, list: arrears}
    domain: finance
    effect: points off while the court lists one
    assumed: true
    effects:
      - {points: -50, assumed: true}
"""


def test_a_reader_layers_score_drops_in_the_month_the_court_lists_them(tmp_path: Path) -> None:
    """Two layers, the reader over the suburbs: each of its people's score moves by -50 exactly in
    the months the court's layer lists them (after that month's own records), and by nothing
    else; the deduction carries the court's causes into the reader's score."""
    from scslab.behaviour.rates import catalogue_text
    from scslab.engine.layers import LayeredSimulation

    (tmp_path / "court.yaml").write_text(COURT)
    (tmp_path / "reader.yaml").write_text(READER)
    acts = tmp_path / "acts.yaml"
    acts.write_text(catalogue_text(catalogue({"payment-arrears": 8.0}, detect=0.8)))
    layered = Scenario.model_validate(
        {
            "acts": str(acts),
            "population": {"agents": 1200},
            "years": 0.5,
            "seed": 5,
            "layers": [
                {"id": "reader", "scheme": str(tmp_path / "reader.yaml"), "where": ["suburbs"]},
                {"id": "spc", "scheme": str(tmp_path / "court.yaml")},
            ],
        }
    )
    lsim = LayeredSimulation(layered)
    run = lsim.start()
    reader, spc = run.runs
    lo, hi = lsim.layers[0].lo, lsim.layers[0].hi
    rs, ss = reader.state, spc.state
    from scslab.schemes.model import DOMAINS

    courts = 1 << DOMAINS.index("courts")
    starts = 0
    for t in range(6):
        before = rs.score.astype(np.int64).copy()
        used = rs.cat_used[:, 0].astype(np.int64).copy()
        run.advance(t)
        listed = ss.list_since[lo:hi, 0] == t  # the court listed them this month
        # the reader's own records this month: the points its finance category counted
        own = rs.cat_used[:, 0].astype(np.int64) - used
        drop = before - rs.score.astype(np.int64)
        assert (drop == own + np.where(listed, 50, 0)).all(), t
        assert ((rs.cause & courts) != 0)[listed].all()
        starts += int(listed.sum())
    assert starts > 30


def test_the_layers_doc_shows_patchworks_sesame_deduction_as_its_file_has_it() -> None:
    """docs/layers.md's snippet of the court's list costing Sesame points is, line for line, in
    the patchwork's Sesame scheme, which runs it as a points effect."""
    from scslab.engine.layers import LayeredSimulation
    from scslab.engine.scenario import load_scenario

    root = Path(__file__).resolve().parents[2]
    lines = (root / "docs" / "layers.md").read_text(encoding="utf-8").splitlines()
    marks = [k for k, line in enumerate(lines) if line.startswith("<!-- snippet: ")]
    assert len(marks) == 1
    k = marks[0]
    path = lines[k][len("<!-- snippet: ") : -len(" -->")]
    end = lines.index("```", k + 2)
    block = "\n".join(lines[k + 2 : end])  # at the file's own indentation
    assert block in (root / path).read_text(encoding="utf-8")
    lsim = LayeredSimulation(load_scenario("patchwork-2018"))
    sesame = next(ls.sim for ls in lsim.layers if ls.id == "sesame")
    (q,) = [q for q, c in sesame.layout.consequences if c.id == "defaulter-points"]
    assert sesame.arrays.grp_points[q] == -143 and sesame.arrays.points_groups == 1 << q


def test_schemes_show_says_what_the_points_effect_does() -> None:
    """`scslab schemes show` adds the effect's points to the consequence's effect, in the one
    wording of scslab.schemes.words."""
    from rich.console import Console

    from scslab.cli.schemes import render_scheme
    from scslab.schemes.words import points_words

    s = scheme(listed())
    (effect,) = s.sanctions[0].effects
    assert points_words(effect) == "-50 points once, as it starts (category listings)"
    console = Console(record=True, width=240)
    console.print(render_scheme(s, "test"))
    assert "points off; -50 points once, as it starts (category listings)" in console.export_text()
