"""``scslab explain`` on a layered run's folder: one person followed across the layers.

One small layered run serves every test: a court layer everywhere that lists arrears and grades
people A or C, and a reader layer over the suburbs from month 2, listed first, whose two
sanctions are started by the court's list and by its grade C; both score the same act, arrears.
Its panel holds 300 people in each layer, so that some people are in both panels, some in one
only, and some outside the reader's regions.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from helpers import scslab
from scslab.analysis.explain import explain
from scslab.analysis.explain_layers import LayeredExplanation, explain_layers
from scslab.behaviour.model import Catalogue
from scslab.behaviour.rates import catalogue_text
from scslab.cli.explain import layered_timeline_table
from scslab.engine.scenario import Scenario
from scslab.errors import LibraryMissing, PersonError
from scslab.store.layered import LayeredResults, LayeredRunError, open_layered
from scslab.store.results import Results

COURT = """
id: court
name: A court list on arrears and two grades
subject: individuals
description: arrears are listed for two months and cost 150 points
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: finance}]
events:
  - {id: payment-arrears, category: finance, points: -150, domain: courts, source: paper}
grades:
  - {id: A, min: 900, max: 1000, source: paper}
  - {id: C, min: 0, max: 899, source: paper}
lists:
  - id: arrears
    kind: black
    entry: {events: [payment-arrears]}
    exit: {after_months: 2}
    assumed: true
decay: {points_per_month: 40, after_clean_months: 1, assumed: true}
"""

READER = """
id: reader
name: Reads the court's list and grades
subject: individuals
description: sanctions started by another layer's list and grade
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: finance}]
events:
  - {id: payment-arrears, category: finance, points: -5, domain: finance, source: paper}
sanctions:
  - {id: no-credit, trigger: {layer: court, list: arrears}, domain: finance, effect: no loans,
     duration_months: 1, assumed: true}
  - {id: no-flat, trigger: {layer: court, grades: [C]}, domain: housing, effect: no flat to rent,
     duration_months: 1, assumed: true}
"""


#: the run's month the reader comes into force: its month m is the run's month m + FROM
FROM = 2


def _scenario(tmp: Path) -> Scenario:
    (tmp / "court.yaml").write_text(COURT)
    (tmp / "reader.yaml").write_text(READER)
    acts = Catalogue.model_validate(
        {
            "acts": [
                {
                    "id": "payment-arrears",
                    "name": "arrears",
                    "domain": "finance",
                    "lawful": False,
                    "rate": 3.0,
                    "channels": {"court": 0.8},
                    "assumed": True,
                }
            ],
            "channels": [
                {"id": "court", "name": "court", "false_record_ratio": 0.1, "assumed": True}
            ],
        }
    )
    (tmp / "acts.yaml").write_text(catalogue_text(acts))
    return Scenario.model_validate(
        {
            "acts": str(tmp / "acts.yaml"),
            "population": {"agents": 1500},
            "years": 0.5,
            "seed": 5,
            "panel": 300,
            # no deterrence: the court's heavy deduction would make its arrears rare
            "adaptation": {"deterrence": {"enabled": False}, "chilling": {"enabled": False}},
            "layers": [
                {
                    "id": "reader",
                    "scheme": str(tmp / "reader.yaml"),
                    "where": ["suburbs"],
                    "from": FROM,
                },
                {"id": "court", "scheme": str(tmp / "court.yaml")},
            ],
        }
    )


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The layered run's folder."""
    from scslab.engine.layers import LayeredSimulation
    from scslab.layered import run_layered

    tmp = tmp_path_factory.mktemp("layered")
    for r in run_layered(LayeredSimulation(_scenario(tmp)), tmp / "run").values():
        r.close()
    return tmp / "run"


@pytest.fixture()
def run(out: Path) -> Iterator[LayeredResults]:
    with open_layered(out) as layered:
        yield layered


def panel(r: Results) -> set[int]:
    return {int(p) for (p,) in r.sql("SELECT DISTINCT person FROM panel").fetchall()}


def through_court(run: LayeredResults, item: str) -> list[int]:
    """People in both panels under the reader's sanction ``item`` at some time."""
    both = panel(run.results("court")) & panel(run.results("reader"))
    rows = run.results("reader").sql(
        f"SELECT DISTINCT person FROM panel_spells WHERE item = '{item}' ORDER BY person"
    )
    return [int(p) for (p,) in rows.fetchall() if int(p) in both]


def test_the_story_holds_each_layers_history_exactly(run: LayeredResults) -> None:
    """For people in both panels, each layer's part is that layer's own explanation, and the
    merged timeline holds exactly its records, spells and their ends, in the run's months, in
    order of month and then of the scenario's layers."""
    both = sorted(panel(run.results("court")) & panel(run.results("reader")))
    assert len(both) > 20
    for person in both[:: max(1, len(both) // 8)]:
        story = explain_layers(run, person)
        assert [p.layer.id for p in story.parts] == ["reader", "court"]
        for p in story.parts:
            alone = explain(run.results(p.layer.id), person)
            assert p.explanation == alone and p.note is None
            lines = [ln for ln in story.timeline() if ln.layer == p.layer.id]
            records = [ln.record for ln in lines if ln.kind in ("record", "missed", "appeal")]
            assert records == list(alone.events)
            assert [ln.month - ln.step for ln in lines] == [p.layer.first] * len(lines)
            starts = Counter(ln.spell for ln in lines if ln.kind == "start")
            ends = Counter(ln.spell for ln in lines if ln.kind == "end")
            assert starts == Counter(alone.spells)
            assert ends == Counter(s for s in alone.spells if s.end is not None)
            for ln in lines:
                if ln.kind in ("start", "end"):
                    assert ln.spell is not None
                    assert ln.step == (ln.spell.start if ln.kind == "start" else ln.spell.end)
        order = [(ln.month, ["reader", "court"].index(ln.layer)) for ln in story.timeline()]
        assert order == sorted(order)


def test_a_sanction_through_the_court_list_names_the_court_its_month_and_record(
    run: LayeredResults,
) -> None:
    """The reader's no-credit sanction, started by the court's list: its link names layer
    court, the month the court's listing that held began, and the court's record behind it,
    as the court's own tables have them."""
    people = through_court(run, "no-credit")
    assert people, "the run should sanction someone in both panels through the court's list"
    court = run.results("court")
    for person in people[:5]:
        story = explain_layers(run, person)
        reader = story.part("reader").explanation
        assert reader is not None
        for s in (s for s in reader.spells if s.item == "no-credit"):
            (link,) = story.links("reader", s)
            assert (link.layer, link.kind, link.item) == ("court", "list", "arrears")
            began = court.con.execute(
                "SELECT max(start_step) FROM panel_spells WHERE person = ? AND item = 'arrears' "
                "AND start_step <= ?",
                [person, s.start + FROM],
            ).fetchall()[0][0]
            assert link.month == began
            entered = court.con.execute(
                "SELECT count(*) FROM panel_events WHERE person = ? AND step = ? "
                "AND event = 'payment-arrears' AND recorded",
                [person, began],
            ).fetchall()[0][0]
            assert entered >= 1 and [m for m, _ in link.records] == [began]
            assert link.records[0][1].event == "payment-arrears"
            why = next(w for w in story.why() if w.spell == s)
            assert (
                f"by layer reader, because layer court listed them on arrears in month {began}, "
                f"after the payment-arrears record of month {began}"
            ) in why.text
            assert not why.notes  # no "follow the person in layer court": it is followed


def test_a_sanction_through_a_layer_that_kept_no_history_says_so(run: LayeredResults) -> None:
    """A reader's person outside the court's panel, sanctioned through the court's list: the link
    names the court and its list, and says that the court kept no history of the person."""
    court = panel(run.results("court"))
    rows = run.results("reader").sql(
        "SELECT DISTINCT person FROM panel_spells WHERE item = 'no-credit' ORDER BY person"
    )
    person = next(int(p) for (p,) in rows.fetchall() if int(p) not in court)
    story = explain_layers(run, person)
    assert story.layers.keys() == {"reader"}
    s = next(s for s in story.layers["reader"].spells if s.item == "no-credit")
    (link,) = story.links("reader", s)
    assert (link.layer, link.kind, link.item, link.month, link.records) == (
        "court",
        "list",
        "arrears",
        None,
        (),
    )
    assert link.certain and link.note == story.part("court").note
    assert link.describe() == (
        "through layer court's list arrears; layer court did not keep this person's history "
        "(see above), so the records behind it are not shown"
    )


def test_a_sanction_through_the_court_grade_names_the_grade_and_the_records(
    run: LayeredResults,
) -> None:
    """The reader's no-flat sanction, started by the court's grade C: its link names the grade
    the court gave in that month and the court's deductions behind it."""
    people = through_court(run, "no-flat")
    assert people
    for person in people[:5]:
        story = explain_layers(run, person)
        reader, court = story.layers["reader"], story.layers["court"]
        for s in (s for s in reader.spells if s.item == "no-flat"):
            month = s.start + FROM  # the court's month: the run's
            (link,) = story.links("reader", s)
            assert (link.layer, link.kind, link.item, link.month) == (
                "court",
                "grades",
                "C",
                month,
            )
            assert court.months[month].grade == "C"
            assert link.records and all(
                r.event == "payment-arrears" and r.points < 0 and m <= month
                for m, r in link.records
            )
            assert f"because layer court graded them C in month {month}" in link.describe()


def test_a_record_both_layers_scored_says_so(run: LayeredResults) -> None:
    """An arrears record of a month says that the other layer also scored an arrears record of
    the person that month exactly when the other layer's panel_events hold one."""
    both = sorted(panel(run.results("court")) & panel(run.results("reader")))
    seen = alone = 0
    for person in both[:40]:
        story = explain_layers(run, person)
        recorded = {
            lid: {
                int(m)
                for (m,) in run.results(lid)
                .con.execute(
                    f"SELECT step + {story.part(lid).layer.first} FROM panel_events "
                    "WHERE person = ? AND recorded AND act = 'payment-arrears' "
                    "AND event IS NOT NULL",
                    [person],
                )
                .fetchall()
            }
            for lid in ("reader", "court")
        }
        for ln in story.timeline():
            if ln.kind != "record":
                continue
            other = "court" if ln.layer == "reader" else "reader"
            assert (ln.also_scored_by == (other,)) == (ln.month in recorded[other]), ln
            if ln.also_scored_by:
                seen += 1
                words = f"layer {other} also scored a payment-arrears record of theirs this month"
                assert words in ln.describe()
            else:
                alone += 1
                assert "also scored" not in ln.describe()
    assert seen > 0 and alone > 0


def test_who_a_layer_covers_and_keeps_is_said_plainly(run: LayeredResults) -> None:
    """A person outside the suburbs is not in the reader layer at all, and is still followed in
    the court layer; the reader's panel holds the court's panel people of the suburbs, and more:
    one of those is one of the court's people whose history the court did not keep."""
    court, reader = run.results("court"), run.results("reader")
    lo, hi = run.layer("reader").rows or (0, 0)
    assert 0 < lo < hi < run.agents  # type: ignore[operator]
    outside = min(p for p in panel(court) if not lo <= p < hi)
    story = explain_layers(run, outside)
    part = story.part("reader")
    assert part.covers is False and part.explanation is None
    assert (
        part.note
        == f"not in this layer: the person lives outside suburbs (its people are {lo} to {hi - 1})"
    )
    assert story.traits["region"] != "suburbs"
    # panels are drawn by population row: the reader keeps everyone of the court's panel who
    # lives in its regions
    assert {p for p in panel(court) if lo <= p < hi} <= panel(reader)
    only = min(panel(reader) - panel(court))
    story = explain_layers(run, only)
    assert story.part("court").explanation is None and story.layers.keys() == {"reader"}
    assert "not in its panel of 300" in (story.part("court").note or "")


def test_a_region_layers_file_says_truly_why_a_person_is_not_in_it(out: Path) -> None:
    """explain on the reader layer's own results: a person of the population outside its
    regions is told so (not "not in the population"); one beyond the population is told that;
    a copy of the file away from its run's folder says what it cannot know."""
    with open_layered(out) as run:
        lo, hi = run.layer("reader").rows or (0, 0)
        agents = run.agents
    with Results(out / "layers" / "reader") as r:
        with pytest.raises(PersonError) as err:
            explain(r, 0)
        assert (
            f"person 0 lives outside this layer's regions (suburbs: people {lo} to {hi - 1})"
            in str(err.value)
        )
        assert "not in the population" not in str(err.value)
        assert f"scslab explain {out} --agent 0" in str(err.value)
        with pytest.raises(PersonError, match=f"not in the population of {agents:,}"):
            explain(r, agents)  # type: ignore[arg-type]
        inside = min(set(range(lo, hi)) - panel(r))
        with pytest.raises(PersonError, match=f"person {inside} is not in the panel of"):
            explain(r, inside)
    moved = out.parent / "moved.duckdb"
    shutil.copy(out / "layers" / "reader" / "results.duckdb", moved)
    with Results(moved) as r, pytest.raises(PersonError) as err:
        explain(r, 0)
    assert "a layer over suburbs only" in str(err.value)
    assert "not in the population" not in str(err.value)


def test_json_and_plot(out: Path, run: LayeredResults, tmp_path: Path) -> None:
    """--json prints one object: each layer under `layers` (with its one-layer explanation or
    why not), and the merged timeline, each line with its `layer`; --plot writes one HTML
    timeline naming each layer kept (or names the missing library)."""
    from scslab.cli import _register, app

    _register()  # the commands, as main() adds them
    person = through_court(run, "no-credit")[0]
    done = CliRunner().invoke(app, ["explain", str(out), "--agent", str(person), "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["layered"] is True and data["person"] == person
    assert list(data["layers"]) == ["reader", "court"]
    for lid, layer in data["layers"].items():
        assert layer["in_panel"] and layer["explanation"]["person"] == person, lid
    months = [ln["month"] for ln in data["timeline"]]
    assert months == sorted(months) and {ln["layer"] for ln in data["timeline"]} == {
        "reader",
        "court",
    }
    starts = [ln for ln in data["timeline"] if ln["kind"] == "start" and ln["through"]]
    assert starts and all(t["layer"] == "court" for ln in starts for t in ln["through"])
    assert any(w["links"] for w in data["why"])
    story: LayeredExplanation = explain_layers(run, person)
    wide = Console(width=250, record=True)
    wide.print(layered_timeline_table(story))
    table = wide.export_text()
    credit = next(s for s in story.layers["reader"].spells if s.item == "no-credit")
    (link,) = story.links("reader", credit)
    assert (
        f"+ sanction no-credit (finance) ← layer court list arrears (month {link.month})" in table
    )
    assert "Timeline across layers" in table and " reader " in table and " court " in table
    try:
        fig = story.figure()
    except LibraryMissing:
        return
    names = {t.name for t in fig.data}
    assert {"reader: score", "court: score", "reader: sanction", "court: list"} <= names
    plot = tmp_path / "story.html"
    done = CliRunner().invoke(
        app, ["explain", str(out), "--agent", str(person), "--plot", str(plot)]
    )
    assert done.exit_code == 0, done.output
    assert f"Person {person} across the 2 layers" in done.output
    assert "layer reader: score and grade" in plot.read_text(encoding="utf-8")


def test_bad_input_is_one_line_and_status_two(out: Path, tmp_path: Path) -> None:
    """--agent beyond the population, a layer's results file missing, a layers.json that is
    not one, and an interrupted layered run: each one line on stderr, status 2."""
    from scslab.engine.layers import LayeredSimulation
    from scslab.engine.simulation import RunInterrupted
    from scslab.layered import run_layered

    with open_layered(out) as run:
        agents = run.agents
        with pytest.raises(PersonError, match=f"not in the population of {agents:,}"):
            explain_layers(run, -1)
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    (broken / "layers" / "court" / "results.duckdb").unlink()
    with pytest.raises(LayeredRunError, match=r"layer court's results .* are missing"):
        open_layered(broken)
    garbled = tmp_path / "garbled"
    shutil.copytree(out, garbled)
    (garbled / "layers.json").write_text('{"layered": true}')
    with pytest.raises(LayeredRunError, match="not a layered run's list of layers"):
        open_layered(garbled)

    def stop(done: int, steps: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    stopped = tmp_path / "stopped"
    with pytest.raises(RunInterrupted):
        run_layered(LayeredSimulation(_scenario(tmp_path)), stopped, progress=stop)
    with pytest.raises(LayeredRunError, match="an interrupted layered run"):
        open_layered(stopped)
    partial = stopped / "layers" / "court" / "results.partial.duckdb"
    assert partial.is_file()

    from scslab.cli import _register, app

    _register()
    for folder, agent, error in (
        (out, str(agents), PersonError),
        (broken, "1", LayeredRunError),
        (stopped, "1", LayeredRunError),
    ):
        done = CliRunner().invoke(app, ["explain", str(folder), "--agent", agent])
        assert isinstance(done.exception, error), done.exception
    # what main() makes of them: one line on stderr, status 2
    done = scslab("explain", stopped, "--agent", "1")
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "interrupted" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    # the interrupted run's layers are each read alone, as the message says
    with Results(partial) as r:
        person = min(panel(r))
        assert not explain(r, person).complete


def test_the_person_in_no_panel_is_refused_with_people_who_are(run: LayeredResults) -> None:
    """Someone of the population in neither layer's panel: refused, with each layer's reason and
    people who are in a panel."""
    everyone = set(range(run.agents or 0))
    nobody = min(everyone - panel(run.results("court")) - panel(run.results("reader")))
    with pytest.raises(PersonError) as err:
        explain_layers(run, nobody)
    text = str(err.value)
    assert f"person {nobody} is in no layer's panel" in text
    assert "reader: " in text and "court: " in text and "people in a panel are e.g." in text
    assert "\n" not in text


def test_patchwork_2018_names_the_court_behind_sesames_bans(tmp_path: Path) -> None:
    """The built-in composite: everyone Sesame bars from car rental for being on the court's
    list is followed to layer spc, the month its listing began and the court's record, as the
    court's own tables have them (someone the court listed in its months of history before
    2018-01 is on its list from month 0, with no record kept); Rongcheng (the towns) does not
    cover people elsewhere."""
    from scslab.engine.layers import LayeredSimulation
    from scslab.engine.scenario import load_scenario
    from scslab.layered import run_layered
    from scslab.schemes.loader import load_scheme

    scenario = load_scenario("patchwork-2018")
    scenario = scenario.model_copy(
        update={"population": scenario.population.model_copy(update={"agents": 1000})}
    )
    for r in run_layered(LayeredSimulation(scenario), tmp_path / "run").values():
        r.close()
    with open_layered(tmp_path / "run") as run:
        spc = run.results("spc")
        barred = run.results("sesame").sql(
            "SELECT person, start_step FROM panel_spells WHERE item = 'defaulter-no-car-rental'"
        )
        found = barred.fetchall()
        assert found, "a year of 1,000 people should put someone on the court's list"
        lo, hi = run.layer("rongcheng").rows or (0, 0)
        for person, start in found:
            story = explain_layers(run, int(person))
            s = next(
                s
                for s in story.layers["sesame"].spells
                if s.item == "defaulter-no-car-rental" and s.start == start
            )
            (link,) = story.links("sesame", s)
            listed = spc.con.execute(
                "SELECT start_step FROM panel_spells WHERE person = ? AND item = "
                "'judgment-defaulters' AND start_step <= ? AND (end_step IS NULL OR end_step > ?)",
                [person, start, start],
            ).fetchall()
            assert (link.layer, link.item, link.month) == (
                "spc",
                "judgment-defaulters",
                listed[0][0],
            )
            if link.records:
                assert [r.event for _, r in link.records] == ["unpaid-judgment"]
            else:  # listed in the court's months of history, whose records are not kept
                assert link.month == start == 0
            text = next(w.text for w in story.why() if w.spell == s)
            said = "by layer sesame, because layer spc listed them on judgment-defaulters in month"
            assert f"{said} {link.month}" in text
            assert story.part("rongcheng").covers == (lo <= person < hi)
        # the layers share one world of acts, so the court's panel holds acts its scheme does
        # not score; its explanations tell only the acts it scores
        scored = {e.act_id for e in load_scheme("defaulter-blacklist").events}
        drawn = {a for (a,) in spc.sql("SELECT DISTINCT act FROM panel_events").fetchall()}
        assert drawn - scored
        for person, start in found:
            told = {r.act for r in explain_layers(run, int(person)).layers["spc"].events}
            # someone listed in the court's months of history may have no record in the run
            assert told <= scored and (told or start == 0)
