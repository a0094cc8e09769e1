"""Effects on lives: income band moves, ties cut by public shaming, contracts refused; each
checked person by person on tiny populations."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from conftest import catalogue, scenario, scheme
from scslab.engine.contracts import Contracts, partners
from scslab.engine.kernels import N_INCOME
from scslab.population.network import NetworkSpec
from scslab.runs import Simulation

SHAMED = """
id: shamed
name: A listing with effects on lives
subject: individuals
description: jaywalking lists for three months; the listing has effects
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: traffic}]
events:
  - {id: jaywalking, category: traffic, points: -10, domain: transport, source: paper}
lists:
  - id: offenders
    kind: black
    entry: {events: [jaywalking]}
    exit: {after_months: 3}
    assumed: true
sanctions:
  - id: names-on-screens
    trigger: {list: offenders}
    domain: social-life
    effect: name shown on public screens
    source: paper
    effects:
EFFECTS
"""


def shamed(effects: str) -> str:
    return SHAMED.replace("EFFECTS", effects)


INCOME = "      - {income: {monthly_probability: 1.0, bands: -1}, assumed: true}"
TIES = "      - {ties: {monthly_probability: 0.5}, assumed: true}"
CONTRACTS = "      - {contracts: {refused: 1.0}, assumed: true}"


def test_an_income_effect_moves_exactly_the_people_under_it_from_the_month_after() -> None:
    """With a sure move of one band down, a person's band falls in month t exactly when they were
    listed at the end of month t - 1 and are still on that listing in month t (not at the
    listing's start, not in the month it ends), and never below the lowest band."""
    sim = Simulation(
        scenario(600, 14),
        scheme=scheme(shamed(INCOME)),
        catalogue=catalogue({"jaywalking": 0.08}),
    )
    record, _ = sim.execute()
    pop = sim.population()
    since = record.panel_lists[:, :, 0]  # [month, person]: month listed, -1 if not
    band = record.panel_cell.astype(np.int64) % N_INCOME
    start = pop.income.astype(np.int64)[record.panel_people]
    before = np.vstack([start[None, :], band[:-1]])
    listed_before = np.vstack([np.full((1, len(start)), -1), since[:-1]])
    effect = (since >= 0) & (since == listed_before)
    expected = before - (effect & (before > 0))
    assert (band == expected).all()
    moved = before - band
    assert moved.sum() > 50  # the test has people to check
    assert int(record.extra["income_bands_lost"].sum()) == moved.sum()
    assert int(record.extra["income_moved_down"].sum()) == moved.sum()
    assert int(record.extra["income_exposed"].sum()) == effect.sum()
    # people follow their cell: each month's count per cell is where they were that month
    cells = np.vstack([pop.cell[None, :], record.panel_cell[:-1]])
    for t in range(record.done):
        np.testing.assert_array_equal(
            record.agents[t], np.bincount(cells[t], minlength=record.agents.shape[1])
        )


def test_a_run_without_effects_on_lives_records_none_and_keeps_its_cells() -> None:
    """A scheme without effects allocates no columns for them and moves nobody."""
    plain = SHAMED.replace("    effects:\nEFFECTS\n", "")
    sim = Simulation(
        scenario(300, 3), scheme=scheme(plain), catalogue=catalogue({"jaywalking": 0.2})
    )
    run = sim.start()
    assert run.traits.cell is sim.population().cell
    assert run.state.shame.shape == run.state.refuse.shape == (0,)
    assert run.tally.lives.size == 0 and run.record.agents.size == 0


def test_ties_are_cut_only_to_people_shamed_since_before_the_month() -> None:
    """Each month every rewired tie was a tie to someone under public shaming that month, who has
    been listed since an earlier month; the record counts them by the shamed person's cell."""
    sim = Simulation(
        scenario(800, 8, network=NetworkSpec(mean_degree=8)),
        scheme=scheme(shamed(TIES)),
        catalogue=catalogue({"jaywalking": 0.05}),
    )
    run = sim.start()
    assert run.network is not None and run.network.indices is not sim.population().network.indices
    total = 0
    for t in range(sim.scenario.steps):
        before = run.network.indices.copy()
        run.advance(t)
        since = run.state.list_since[:, 0]
        shamed_now = (since >= 0) & (since < t)
        np.testing.assert_array_equal(run.state.shame > 0, shamed_now)
        changed = before != run.network.indices
        assert shamed_now[before[changed]].all()
        counted = run.record.extra["ties_cut_by_shaming"][t]
        assert counted.sum() == changed.sum()
        np.testing.assert_array_equal(
            counted, np.bincount(run.traits.cell[before[changed]], minlength=len(counted))
        )
        total += changed.sum()
    assert total > 20  # with half of each shamed person's ties cut a month, some are


def test_partners_refuse_only_contracts_with_a_listed_party() -> None:
    """With a refusal share of 1, a contract is refused exactly when one of its two parties was
    under the effect last month; refused contracts are neither kept nor broken."""
    on = Contracts(enabled=True)
    sim = Simulation(
        scenario(2000, 6, contracts=on),
        scheme=scheme(shamed(CONTRACTS)),
        catalogue=catalogue({"jaywalking": 1.0, "contract-breach": 0.0}),
    )
    run = sim.start()
    refused_total = 0
    for t in range(sim.scenario.steps):
        refuse = run.state.refuse.copy()
        listed = run.state.list_since[:, 0].copy()
        obligor, partner = partners(on, sim.agents, sim.scenario.seed, t)
        run.advance(t)
        assert ((refuse > 0) == ((listed >= 0) & (listed < t - 1))).all() if t else True
        expected = (refuse[obligor] > 0) | (refuse[partner] > 0)
        extra = run.record.extra
        got = extra["contracts_refused"][t]
        np.testing.assert_array_equal(
            got, np.bincount(sim.population().cell[obligor[expected]], minlength=len(got))
        )
        assert extra["contracts_kept"][t].sum() <= (~expected).sum()
        refused_total += expected.sum()
    assert refused_total > 50


@pytest.mark.parametrize(
    ("effects", "message"),
    [
        (INCOME + "\n" + INCOME, "the effect on income is given twice"),
        ("      - {income: {monthly_probability: 0.1, bands: 0}, assumed: true}", "bands: 0"),
        ("      - {ties: {monthly_probability: 0.1}}", "add source"),
        ("      - {ties: {monthly_probability: 1.5}, assumed: true}", "less than or equal to 1"),
        ("      - {assumed: true}", "give exactly one of"),
    ],
)
def test_bad_effects_are_refused_with_their_place(effects: str, message: str) -> None:
    from scslab.errors import SchemeError

    with pytest.raises(SchemeError, match=message) as err:
        scheme(shamed(effects))
    assert re.match(r"^test-scheme\.yaml:\d+:\d+: ", str(err.value))


def test_a_reward_has_no_effect_on_ties() -> None:
    from scslab.errors import SchemeError

    text = shamed(INCOME).replace("sanctions:", "rewards:")
    scheme(text)  # a reward may move income
    with pytest.raises(SchemeError, match="a reward has none"):
        scheme(shamed(TIES).replace("sanctions:", "rewards:"))


def test_the_audit_reports_what_each_effect_did(tmp_path: Path) -> None:
    """The audit's effects section adds up the record: bands lost, ties cut, contracts refused,
    in total and by hukou; a kind the run did not have is None."""
    from scslab.analysis.audit import life_effects

    sim = Simulation(
        scenario(600, 6, network=NetworkSpec(mean_degree=6)),
        scheme=scheme(shamed(INCOME + "\n" + TIES)),
        catalogue=catalogue({"jaywalking": 0.3}),
    )
    results = sim.run(tmp_path / "run")
    record = sim.last_run.record
    got = life_effects(results)
    assert got["contracts"] is None
    income, ties = got["income"], got["ties"]
    assert income["bands_lost"] == record.extra["income_bands_lost"].sum() > 0
    assert income["moves_up"] == income["bands_gained"] == 0
    assert ties["ties_cut"] == record.extra["ties_cut_by_shaming"].sum() > 0
    assert sum(v["bands_lost"] for v in income["by_hukou"].values()) == income["bands_lost"]
    # the steps table counts each month's people where they were that month
    per_step = results.sql("SELECT step, sum(agents) FROM steps GROUP BY step").fetchall()
    assert {n for _, n in per_step} == {600}


def test_the_audit_counts_distinct_people_whose_income_moved(tmp_path: Path) -> None:
    """Besides moves (a person each month they move), the audit counts people who moved down a
    band at least once: those of a plain recount from the panel's cells month by month."""
    from scslab.analysis.audit import _groupings, life_effects

    sim = Simulation(
        scenario(600, 14), scheme=scheme(shamed(INCOME)), catalogue=catalogue({"jaywalking": 0.08})
    )
    results = sim.run(tmp_path / "run")
    record = sim.last_run.record
    band = record.panel_cell.astype(np.int64) % N_INCOME
    start = sim.population().income.astype(np.int64)[record.panel_people]
    before = np.vstack([start[None, :], band[:-1]])
    people = int(((band < before).any(axis=0)).sum())
    got = life_effects(results, sim, _groupings(sim, None)["hukou"])["income"]
    assert got["people_moved_down"] == people > 20
    assert got["moves_down"] > people  # some moved more than once
    assert got["people_moved_up"] == 0
    assert sum(v["people_moved_down"] for v in got["by_hukou"].values()) == people
    assert "people_moved_down" not in life_effects(results)["income"]  # only with the replay


def test_the_defaulter_lists_public_shaming_acts_only_where_a_run_has_ties_or_contracts() -> None:
    """The built-in rule (names on screens) cuts ties only with a network and refuses contracts
    only with the contract game; without either it costs nothing."""
    from scslab.engine.scenario import Scenario
    from scslab.population import PopulationSpec

    def arrays(**kw: object) -> object:
        spec = Scenario(
            scheme="defaulter-blacklist", population=PopulationSpec(agents=200), years=1, **kw
        )
        return Simulation(spec).arrays

    plain = arrays()
    assert plain.life_groups == 0 and not plain.grp_ties_p.any()
    ties = arrays(network=NetworkSpec(mean_degree=4))
    assert ties.grp_ties_p.max() == 0.02 and not ties.grp_refused.any()
    contracts = arrays(contracts=Contracts(enabled=True))
    assert contracts.grp_refused.max() == 0.3 and not contracts.grp_ties_p.any()


def test_public_shaming_that_does_not_act_leaves_every_other_figure_as_it_was() -> None:
    """The defaulter list with its names on screens, in a run without a network or the contract
    game, counts exactly what the same list without that sanction counts: acts, records,
    listings, blocked purchases and the other sanctions, month by month."""
    from scslab.engine.scenario import Scenario
    from scslab.population import PopulationSpec
    from scslab.schemes import load_scheme

    builtin = load_scheme("defaulter-blacklist")
    without = builtin.model_copy(
        update={"sanctions": tuple(c for c in builtin.sanctions if c.id != "public-shaming")}
    )
    spec = Scenario(
        scheme="defaulter-blacklist", population=PopulationSpec(agents=3000), years=1, panel=50
    )
    a, _ = Simulation(spec).execute()
    b, _ = Simulation(spec, scheme=without).execute()
    for name in ("ev_true", "ev_rec", "ev_false", "listed", "lflow", "blocked", "anyc", "hist"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert a.listed.sum() > 0
