"""Scheduled rules (``in_force:``): a rule does nothing outside its months, and exactly what it
always does inside them, person by person, on the same acts (deterrence off)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import catalogue, scenario, scheme
from helpers import assert_same_tables, tables
from scslab.behaviour.model import Adaptation
from scslab.engine.layers import LayeredSimulation
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Record
from scslab.errors import SchemeError
from scslab.population.network import NetworkSpec
from scslab.runs import Simulation
from scslab.store.writer import RESULTS

# A list entered on a record, left after 4 months; a sanction while listed, one for 6 months
# after a record, and a reward of a clean score (at base). Acts are drawn alike by both
# versions of the scheme: deterrence is off, and no consequence changes what people do.
LISTED = """
id: scheduled
name: Scheduled rules
subject: individuals
description: a list and its consequences, some in force for some months only
sources: {paper: the seed paper}
score: {base: 100, min: 0, max: 100, source: paper}
categories: [{id: debts}]
events:
  - {id: unpaid, category: debts, points: -10, domain: courts, source: paper}
lists:
  - id: defaulters
    kind: black
    entry: {events: [unpaid]}
    exit: {after_months: 4}
    source: paper
sanctions:
  - id: no-flights
    trigger: {list: defaulters}
    domain: transport
    effect: no flights
    source: paper
  - id: no-spending
    trigger: {events: [unpaid]}
    domain: consumption
    effect: no luxury spending
    duration_months: 6
    source: paper
rewards:
  - id: clean
    trigger: {score_at_least: 100}
    domain: welfare
    effect: a discount
    source: paper
decay: {points_per_month: 5, assumed: true}
"""
MONTHS = 20
AGENTS = 3000


def scheduled(text: str, rule: str, in_force: str) -> str:
    """``text`` with ``in_force: {...}`` (assumed) added to the rule whose id is ``rule``."""
    head = f"  - id: {rule}\n"
    if head in text:
        return text.replace(head, f"{head}    in_force: {{{in_force}, assumed: true}}\n", 1)
    line = next(x for x in text.splitlines() if x.startswith(f"  - {{id: {rule},"))
    return text.replace(line, line[:-1] + f", in_force: {{{in_force}, assumed: true}}}}")


def run(text: str, months: int = MONTHS, **kw: object) -> tuple[Record, Simulation]:
    sim = Simulation(
        scenario(AGENTS, months, seed=3, **kw),  # type: ignore[arg-type]
        scheme=scheme(text),
        catalogue=catalogue({"unpaid": 0.6}),
    )
    record, _ = sim.execute()
    return record, sim


def group(sim: Simulation, consequence: str) -> int:
    return next(q for q, g in enumerate(sim.layout.groups) if any(c.id == consequence for c in g))


def running(record: Record, sim: Simulation, consequence: str) -> np.ndarray:
    """bool[months, panel]: whether the consequence runs for each person at each month's end."""
    return record.panel_until[:, :, group(sim, consequence)] >= 0


@pytest.fixture(scope="module")
def always() -> tuple[Record, Simulation]:
    return run(LISTED)


def test_a_sanction_in_force_from_month_8_runs_for_nobody_before_and_as_always_after(
    always: tuple[Record, Simulation],
) -> None:
    """A sanction while listed, in force from month 8: nobody is under it in months 0-7, and
    from month 8 on exactly the people under the always-on sanction are; scores, lists and the
    other consequences are the always-on run's, person by person."""
    base, bsim = always
    record, sim = run(scheduled(LISTED, "no-flights", "from: 8"))
    before, after = running(record, sim, "no-flights"), running(base, bsim, "no-flights")
    assert after[:8].any()  # the always-on sanction ran then
    assert not before[:8].any()
    assert (before[8:] == after[8:]).all()
    assert after[8:].any()
    assert (record.panel_score == base.panel_score).all()
    assert (record.panel_lists == base.panel_lists).all()
    for other in ("no-spending", "clean"):
        assert (running(record, sim, other) == running(base, bsim, other)).all()


def test_a_sanction_out_of_force_from_month_10_ends_where_it_runs(tmp_path: Path) -> None:
    """A six-month sanction until month 10: as always until month 9; in month 10 every one
    running ends (counted as ends in the flows), and none starts from then on."""
    base, bsim = run(LISTED)
    text = scheduled(LISTED, "no-spending", "until: 10")
    record, sim = run(text)
    now, then = running(record, sim, "no-spending"), running(base, bsim, "no-spending")
    assert (now[:10] == then[:10]).all()
    assert now[9].sum() > 50
    assert not now[10:].any()
    assert then[10:].any()  # the always-on sanction goes on
    results = Simulation(
        scenario(AGENTS, MONTHS, seed=3),
        scheme=scheme(text),
        catalogue=catalogue({"unpaid": 0.6}),
    ).run(tmp_path / "run")
    ends = dict(
        results.sql(
            "SELECT step, sum(count) FROM flows WHERE kind = 'sanction_end' "
            "AND item = 'no-spending' GROUP BY step"
        ).fetchall()
    )
    assert ends[10] == int(now[9].sum())  # the panel holds everyone
    assert all(ends.get(t, 0) == 0 for t in range(11, MONTHS))


def test_a_list_out_of_force_ends_its_entries_as_expiries_and_admits_nobody_after() -> None:
    """The list until month 12: as always before; in month 12 every entry ends (an exit by
    expiry), nobody is listed from then on, and the sanction it triggers ends with it."""
    base, _ = run(LISTED)
    record, sim = run(scheduled(LISTED, "defaulters", "until: 12"))
    assert (record.panel_lists[:12] == base.panel_lists[:12]).all()
    assert (record.panel_lists[12:] < 0).all()
    listed = int((record.panel_lists[11, :, 0] >= 0).sum())
    entries = record.lflow[12, :, 0, 0].sum()
    assert listed > 50
    assert record.lflow[12, :, 0, 1].sum() == listed  # expiries: every entry left then
    assert entries == 0 and record.lflow[13:, :, 0].sum() == 0
    assert not running(record, sim, "no-flights")[12:].any()
    # the record's points still count: the event is in force
    assert (record.panel_score == base.panel_score).all()


def test_a_list_in_force_from_month_6_admits_nobody_before() -> None:
    """Before its ``from`` a list admits nobody, though its event is recorded and scored."""
    base, _ = run(LISTED)
    record, _ = run(scheduled(LISTED, "defaulters", "from: 6"))
    assert (record.panel_lists[:6] < 0).all()
    assert (base.panel_lists[:6] >= 0).any()
    assert (record.panel_score == base.panel_score).all()
    assert record.lflow[6:, :, 0, 0].sum() > 0


def test_an_event_out_of_force_is_recorded_and_scores_nothing() -> None:
    """An event in force from month 5: every act is drawn and recorded as always; before month
    5 its records score nothing and list nobody (the panel logs them as scored by no event),
    and from month 5 on they score what they always do."""
    base, _ = run(LISTED)
    record, _ = run(scheduled(LISTED, "unpaid", "from: 5"))
    ev, bev = np.concatenate(record.panel_events), np.concatenate(base.panel_events)
    # step, person, act, false, recorded, points, event
    assert (ev[:, :5] == bev[:, :5]).all()
    early = ev[:, 0] < 5
    assert early.any() and (ev[early, 5] == 0).all() and (ev[early, 6] == -1).all()
    assert (ev[~early, 5:] == bev[~early, 5:]).all()
    assert (record.ev_rec == base.ev_rec).all()
    assert (record.panel_score[:5] == 100).all()
    assert (record.panel_lists[:5] < 0).all()


def test_rules_in_force_for_the_whole_run_give_the_tables_of_rules_without_in_force(
    tmp_path: Path,
) -> None:
    """Every rule ``from: 0`` in a run without history is in force all along: the results are
    bit for bit those of the scheme without ``in_force``."""
    text = LISTED
    for rule in ("unpaid", "defaulters", "no-flights", "no-spending", "clean"):
        text = scheduled(text, rule, "from: 0")
    assert len(scheme(text).scheduled()) == 5
    for name, body in (("plain", LISTED), ("scheduled", text)):
        Simulation(
            scenario(500, 8, seed=5),
            scheme=scheme(body),
            catalogue=catalogue({"unpaid": 0.6}),
        ).run(tmp_path / name)
    assert_same_tables(  # the runs table holds each scheme as written
        tables(tmp_path / "scheduled" / RESULTS, runs="agents, steps"),
        tables(tmp_path / "plain" / RESULTS, runs="agents, steps"),
    )


def test_calendar_months_are_placed_by_the_scenarios_start() -> None:
    """``from: 2016-03`` in a run starting 2015-11 is month 4 of the run: the same as
    ``from: 4``."""
    dated, dsim = run(scheduled(LISTED, "no-flights", "from: 2016-03"), start="2015-11")
    plain, psim = run(scheduled(LISTED, "no-flights", "from: 4"))
    assert (running(dated, dsim, "no-flights") == running(plain, psim, "no-flights")).all()
    assert not running(dated, dsim, "no-flights")[:4].any()


def test_a_calendar_month_in_a_run_without_a_start_is_refused_at_its_line() -> None:
    text = scheduled(LISTED, "no-flights", "from: 2016-03")
    with pytest.raises(SchemeError) as err:
        Simulation(scenario(100, 2), scheme=scheme(text), catalogue=catalogue({"unpaid": 0.6}))
    line = text.splitlines().index("    in_force: {from: 2016-03, assumed: true}") + 1
    assert f"test-scheme.yaml:{line}:" in str(err.value)
    assert "no `start: YYYY-MM`" in str(err.value)


def test_history_months_before_from_are_out_of_force() -> None:
    """With 6 months of history, a six-month sanction on a record, in force from month 0,
    starts for nobody in the history: at month 0 it runs for exactly those with a record then,
    where the always-on one also runs for those with a record in the history's last months."""
    record, sim = run(scheduled(LISTED, "no-spending", "from: 0"), history_months=6)
    base, bsim = run(LISTED, history_months=6)
    now, then = running(record, sim, "no-spending"), running(base, bsim, "no-spending")
    ev = record.panel_events[0]  # step, person, act, false, recorded, points, event
    recorded = np.zeros(AGENTS, bool)
    recorded[ev[(ev[:, 4] == 1) & (ev[:, 6] == 0), 1]] = True
    assert (now[0] == recorded).all()
    assert then[0].sum() > now[0].sum() and (then[0] >= now[0]).all()


def test_an_event_or_list_out_of_force_deters_nobody_until_it_comes_into_force() -> None:
    """With deterrence on, the act of an event in force from month 5 is drawn at its undeterred
    rate in months 0-4 and at the always-on scheme's deterred rate from month 5; a sanction's
    dates change no rate (sanctions do not deter). History months draw as month 0."""

    def sim(text: str) -> Simulation:
        return Simulation(
            scenario(100, 12, history_months=2).model_copy(update={"adaptation": Adaptation()}),
            scheme=scheme(text),
            catalogue=catalogue({"unpaid": 0.6}),
        )

    always, dated = sim(LISTED), sim(scheduled(LISTED, "unpaid", "from: 5"))
    assert dated.pieces == (0, 5) and always.pieces == (0,)
    deterred = always.piece_rates[0].deterrence[..., 0]
    assert (deterred < 1).all()
    assert (dated.piece_rates[0].deterrence[..., 0] == 1).all()
    assert (dated.piece_rates[1].deterrence[..., 0] == deterred).all()
    assert dated.draws_at(4) is dated.draws_at(0) is dated.draws_at(-2)
    assert (dated.draws_at(5).cdf == always.draws_at(0).cdf).all()
    assert (dated.draws_at(0).cdf != always.draws_at(0).cdf).any()
    listed = sim(scheduled(LISTED, "defaulters", "until: 7"))  # the listing deters too
    assert listed.pieces == (0, 7)
    assert (listed.piece_rates[1].deterrence[..., 0] > deterred).all()
    assert sim(scheduled(LISTED, "no-flights", "from: 5")).pieces == (0,)


FRIENDS = """
id: friends-and-households
name: Friends and households
subject: individuals
description: a deduction, a friend rule and a household rule
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: traffic}]
events:
  - {id: jaywalking, category: traffic, points: -20, domain: transport, source: paper}
network:
  - id: low-friends
    threshold: 1000
    share: 0.2
    points: -1
    in_force: {from: 2, assumed: true}
    assumed: true
collective:
  - id: household-pays
    group: household
    points: -5
    in_force: {until: 3, assumed: true}
    assumed: true
"""


def test_network_and_collective_rules_charge_nobody_out_of_force() -> None:
    """A friend rule in force from month 2 charges nobody in months 0-1 and someone after; a
    household rule until month 3 charges someone before and nobody from month 3 on (the panel
    logs network rule q as act -1 - q and collective rule q as act -9 - q)."""
    sim = Simulation(
        scenario(2000, 6, network=NetworkSpec(mean_degree=6)),
        scheme=scheme(FRIENDS),
        catalogue=catalogue({"jaywalking": 0.5}),
    )
    record, _ = sim.execute()
    ev = np.concatenate(record.panel_events)  # step, person, act, ...
    friends, households = ev[ev[:, 2] == -1, 0], ev[ev[:, 2] == -9, 0]
    assert (friends >= 2).all() and len(friends) > 0
    assert (households < 3).all() and len(households) > 0


def test_a_late_layers_dated_rule_keeps_the_calendar_and_its_run_months_count_from_the_layer(
    tmp_path: Path,
) -> None:
    """A layer from 2014-04 in a run from 2014-01: a rule ``from: 2014-07`` comes into force in
    the layer's month 3 (the calendar's July), a rule ``from: 2`` in the layer's own month 2."""
    text = scheduled(scheduled(LISTED, "no-flights", "from: 2014-07"), "no-spending", "from: 2")
    path = tmp_path / "dated.yaml"
    path.write_text(text, encoding="utf-8")
    acts = tmp_path / "acts.yaml"
    acts.write_text(
        "acts:\n  - {id: unpaid, name: unpaid, domain: public-order, lawful: false, rate: 0.6,\n"
        "     channels: {court: 1.0}, assumed: true}\n"
        "channels:\n  - {id: court, name: court, false_record_ratio: 0, assumed: true}\n",
        encoding="utf-8",
    )
    layered = Scenario.model_validate(
        {
            "population": {"agents": 1000},
            "start": "2014-01",
            "years": 1,
            "seed": 3,
            "panel": 1000,
            "acts": str(acts),
            "layers": [{"id": "late", "scheme": str(path), "from": "2014-04"}],
        }
    )
    run = LayeredSimulation(layered).execute()
    (layer,) = run.runs
    record, sim = layer.record, layer.sim
    flights, spending = running(record, sim, "no-flights"), running(record, sim, "no-spending")
    # in force from exactly those months: the calendar's July is the layer's month 3
    assert not flights[:3].any() and flights[3].any()
    assert not spending[:2].any() and spending[2].any()
