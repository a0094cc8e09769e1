"""``scslab explain``: one panel person's path, and a complete answer to "why under X?"."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from scslab import PopulationSpec, Scenario, ScslabError, Simulation
from scslab.analysis.explain import Explanation, explain
from scslab.cli.explain import explain as explain_command
from scslab.errors import LibraryMissing
from scslab.schemes import load_scheme
from scslab.store.results import Results


@pytest.fixture(scope="module")
def blacklist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two years of the defaulter blacklist on 3,000 people, all of them in the panel."""
    out = tmp_path_factory.mktemp("blacklist") / "run"
    scenario = Scenario(
        scheme="defaulter-blacklist", population=PopulationSpec(agents=3000), years=2, panel=3000
    )
    Simulation(scenario).run(out).close()
    return out


@pytest.fixture(scope="module")
def suining(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four years of Suining's grade-triggered sanctions; a panel of 1,500 of 4,000 people."""
    out = tmp_path_factory.mktemp("suining") / "run"
    scenario = Scenario(
        scheme="suining-2010", population=PopulationSpec(agents=4000), years=4, panel=1500
    )
    Simulation(scenario).run(out).close()
    return out


@pytest.fixture()
def results(blacklist: Path) -> Iterator[Results]:
    r = Results(blacklist)
    yield r
    r.close()


def listed_person(r: Results) -> int:
    """A panel person who is on the list and still under its sanctions at the end of the run (not
    only a household member)."""
    rows = r.sql(
        "SELECT min(person) FROM panel_spells WHERE kind = 'list' AND person IN "
        "(SELECT person FROM panel_spells WHERE item = 'high-speed-rail-ban' AND end_step IS NULL)"
    ).fetchall()
    assert rows[0][0] is not None, "the scenario should put at least one panel person on the list"
    return int(rows[0][0])


def test_a_sanctioned_person_gets_a_chain_of_recorded_events_in_its_cause_domains(
    results: Results,
) -> None:
    """Each sanction's chain runs through its list to recorded events in its cause domains."""
    x = explain(results, listed_person(results))
    sanctions = [c for c in x.chains() if c.spell.kind == "sanction"]
    assert sanctions
    for c in sanctions:
        if c.spell.item == "private-school-ban":  # household-triggered: the month after
            assert c.via is not None and c.via.start < c.spell.start
        elif c.spell.item == "spending-restriction":  # set off by the record itself
            assert c.via is None and [e.step for e in c.events] == [c.spell.start]
        else:
            assert c.via is not None and c.via.item == "judgment-defaulters"
            assert c.via.start == c.spell.start
        assert c.events, c.describe()
        for e in c.events:
            assert e.recorded and e.event == "unpaid-judgment"
            assert e.domain in c.spell.cause_domains
            assert e.step <= c.spell.start
        assert c.unexplained == ()
        assert c.false_record == c.spell.false_record
    rail = next(c for c in sanctions if c.spell.item == "high-speed-rail-ban")
    assert "caused by courts: unpaid-judgment recorded in month" in rail.describe()


def test_every_spell_of_the_person_appears(results: Results) -> None:
    """The explanation holds each of the person's rows in panel_spells, and their months."""
    person = listed_person(results)
    x = explain(results, person)
    expected = sorted(
        (kind, item, start, end, causes, false)
        for kind, item, start, end, causes, false in results.sql(
            "SELECT kind, item, start_step, end_step, cause_domains, false_record "
            f"FROM panel_spells WHERE person = {person}"
        ).fetchall()
    )
    got = sorted(
        (s.kind, s.item, s.start, s.end, ",".join(s.cause_domains), s.false_record)
        for s in x.spells
    )
    assert got == expected
    assert [m.step for m in x.months] == list(range(24))
    assert len(x.chains()) == sum(1 for s in x.spells if s.kind in ("list", "sanction"))


def test_a_household_member_sanctioned_for_anothers_listing_is_told_so(results: Results) -> None:
    """Someone barred only through a household member's listing gets no invented records."""
    rows = results.sql(
        "SELECT min(person) FROM panel_spells WHERE item = 'private-school-ban' AND person NOT IN "
        "(SELECT person FROM panel_spells WHERE kind = 'list')"
    ).fetchall()
    if rows[0][0] is None:
        pytest.skip("no household-only sanction in this run")
    x = explain(results, int(rows[0][0]))
    (c,) = x.chains()
    assert c.events == () and c.via is None
    assert c.unexplained == c.spell.cause_domains
    assert any("household" in n for n in c.notes)


def test_chains_agree_with_the_causes_the_run_recorded(suining: Path) -> None:
    """For every own (not household) chain of every panel person, the records shown are
    recorded deductions up to the start (a deduction a category cap has used up scores 0 points but
    still counts for a list that names its event), their domains are exactly the run's cause
    domains, and a false record is shown exactly when the run says one contributed."""
    r = Results(suining)
    try:
        people = [p for (p,) in r.sql("SELECT DISTINCT person FROM panel_spells").fetchall()]
        checked = 0
        for person in people:
            for c in explain(r, int(person)).chains():
                if any("household" in n for n in c.notes):
                    continue
                checked += 1
                for e in c.events:
                    assert e.recorded and e.points <= 0 and e.step <= c.spell.start
                assert {e.domain for e in c.events} == set(c.spell.cause_domains), c.describe()
                assert c.false_record == c.spell.false_record, c.describe()
        assert checked > 0
    finally:
        r.close()


def test_a_person_outside_the_panel_is_refused_with_panel_ids(suining: Path) -> None:
    """The message says how many people the panel holds, names some, and how to list them."""
    r = Results(suining)
    try:
        panel = {p for (p,) in r.sql("SELECT DISTINCT person FROM panel").fetchall()}
        outsider = next(p for p in range(4000) if p not in panel)
        first = sorted(panel)[:10]
        for person in (outsider, 4000, -1):
            with pytest.raises(ScslabError) as err:
                explain(r, person)
            message = str(err.value)
            assert f"person {person} is not in the" in message
            assert "1,500" in message
            assert ", ".join(map(str, first)) in message
            assert "SELECT DISTINCT person FROM panel" in message
    finally:
        r.close()


def test_why_answers_in_plain_text(results: Results) -> None:
    """why(item) names the spell, the rule, the list it follows, the record and the context."""
    person = listed_person(results)
    x = explain(results, person)
    text = "\n".join(x.why("high-speed-rail-ban"))
    assert f"Person {person} is under sanction high-speed-rail-ban" in text
    assert "on list judgment-defaulters" in text
    assert "unpaid-judgment recorded" in text
    assert "Art. 5(1)(c)(i)" in text  # transport ban for a court record
    assert "channel" in text  # says what the run does not keep
    never = explain(results, next(p for p in range(3000) if not _spells(results, p)))
    assert "never" in never.why("flight-ban")[0]
    with pytest.raises(ScslabError, match="not a list, sanction or reward"):
        x.why("no-such-ban")


def _spells(r: Results, person: int) -> int:
    return int(r.sql(f"SELECT count(*) FROM panel_spells WHERE person = {person}").fetchall()[0][0])


# --- the command -----------------------------------------------------------------------------


def local_app() -> typer.Typer:
    """``explain`` on a Typer app of its own (a second command keeps it a subcommand)."""
    app = typer.Typer()
    app.command(name="explain")(explain_command)

    @app.command()
    def other() -> None:
        """Unused."""

    return app


def test_the_command_prints_the_timeline_and_the_chains(results: Results, blacklist: Path) -> None:
    person = listed_person(results)
    done = CliRunner().invoke(local_app(), ["explain", str(blacklist), "--agent", str(person)])
    assert done.exit_code == 0, done.output
    out = done.output
    assert f"Person {person}" in out and "Timeline" in out
    assert "unpaid-judgment" in out and "judgment-defaulters" in out
    assert "caused by courts" in out


def test_json_prints_one_object_that_parses(results: Results, blacklist: Path) -> None:
    person = listed_person(results)
    done = CliRunner().invoke(
        local_app(), ["explain", str(blacklist), "--agent", str(person), "--json"]
    )
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["person"] == person and data["scheme"] == "defaulter-blacklist"
    assert set(data["traits"]) == {"region", "hukou", "age", "income"}
    assert len(data["months"]) == 24
    assert {s["item"] for s in data["spells"]} >= {"judgment-defaulters", "high-speed-rail-ban"}
    assert all(c["events"] for c in data["chains"] if c["item"] == "high-speed-rail-ban")
    assert any("channel" in n for n in data["not_stored"])


def test_mistakes_raise_scslab_errors(tmp_path: Path, blacklist: Path) -> None:
    """An unknown run folder and an agent outside the panel reach main() as ScslabError."""
    for args in (
        ["explain", str(tmp_path / "nowhere"), "--agent", "1"],
        ["explain", str(blacklist), "--agent", "3000"],
    ):
        done = CliRunner().invoke(local_app(), args)
        assert done.exit_code != 0
        assert isinstance(done.exception, ScslabError), done.exception


def test_plot_writes_html_or_names_the_missing_library(results: Results, tmp_path: Path) -> None:
    x: Explanation = explain(results, listed_person(results))
    target = tmp_path / "timeline.html"
    args = ["explain", str(results.path), "--agent", str(x.person), "--plot", str(target)]
    done = CliRunner().invoke(local_app(), args)
    if importlib.util.find_spec("plotly") is None:
        assert isinstance(done.exception, LibraryMissing)
        assert "pip install plotly" in str(done.exception)
        assert not target.exists()
    else:
        assert done.exit_code == 0, done.output
        assert "plotly" in target.read_text()[:5000].lower()


# Through the real entry point: status 2 and no traceback. `explain` is registered here the way
# scslab.cli._register will register it, unless it already is.
MAIN = """
import sys
import scslab.cli as cli
from scslab.cli import explain
cli._register()
if not any(c.name == "explain" for c in cli.app.registered_commands):
    cli.app.command(name="explain")(explain.explain)
cli._register = lambda: None
sys.argv = ["scslab", *sys.argv[1:]]
cli.main()
"""


def scslab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", MAIN, *args], capture_output=True, text=True, timeout=60
    )


def test_main_exits_two_without_a_traceback(tmp_path: Path, blacklist: Path) -> None:
    done = scslab("explain", str(tmp_path / "nowhere"), "--agent", "1")
    assert done.returncode == 2, done.stderr
    assert "no results file here" in done.stderr and "Traceback" not in done.stderr
    done = scslab("explain", str(blacklist), "--agent", "99999")
    assert done.returncode == 2, done.stderr
    assert "SELECT DISTINCT person FROM panel" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_score_before_is_the_last_months_score_and_the_base_before_month_0(
    results: Results,
) -> None:
    rows = results.sql(
        "SELECT p.step, p.score_before, q.score FROM panel p LEFT JOIN panel q "
        "ON q.person = p.person AND q.step = p.step - 1"
    ).fetchall()
    base = load_scheme("defaulter-blacklist").score.base
    assert rows
    assert all(before == (base if step == 0 else last) for step, before, last in rows)


def test_a_firm_starts_where_its_history_left_it(tmp_path: Path) -> None:
    """A firm's month 0 follows its unrecorded history: the explanation starts from the score the
    history left, not from the base, so month 0's unexplained change is not the history's."""
    scenario = Scenario(
        scheme="corporate-scs",
        population=PopulationSpec(agents=20_000),
        years=1,
        panel=300,
        firms={"history_months": 24},
    )
    sim = Simulation(scenario)
    run = sim.start()
    run.advance(0)
    after_history = run.record.panel_start.copy()
    assert (run.record.panel_score[0] != after_history).any()  # month 0 moved some of them

    with Simulation(scenario).run(tmp_path / "firms") as r:
        starts = dict(r.sql("SELECT person, score_before FROM panel WHERE step = 0").fetchall())
        assert [starts[p] for p in run.record.panel_people] == after_history.tolist()
        assert (after_history != sim.scheme.score.base).any()
        person = int(
            run.record.panel_people[int(np.argmax(after_history != sim.scheme.score.base))]
        )
        x = explain(r, person)
        assert x.start == starts[person] != x.base
        points = sum(e.points for e in x.events_in(0))
        assert x.months[0].score == x.start + points + x.other_change(0)


def test_a_person_with_spells_starts_from_the_score_before_month_0(results: Results) -> None:
    """The start is the score before month 0 (the base for people), not the first month of the
    person's last spell, and month 0's unexplained change follows from it."""
    person = listed_person(results)
    x = explain(results, person)
    assert x.spells and any(s.start != x.base for s in x.spells)
    (before,) = results.sql(
        f"SELECT score_before FROM panel WHERE person = {person} AND step = 0"
    ).fetchall()[0]
    assert x.start == before == x.base
    points = sum(e.points for e in x.events_in(0))
    assert x.other_change(0) == x.months[0].score - x.base - points
