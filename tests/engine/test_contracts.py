"""The contract game: contracts as donation games whose breaches the scheme records."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from scslab.engine.contracts import (
    ALLC,
    ALLD,
    DISC,
    Contracts,
    partners,
    play_month,
    strategies,
)
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation
from scslab.errors import ScenarioError
from scslab.population import PopulationSpec

ON = Contracts(enabled=True)


def run(scheme: str, agents: int = 60_000, years: float = 2) -> tuple[Simulation, dict]:
    sim = Simulation(
        Scenario(
            scheme=scheme,
            population=PopulationSpec(agents=agents),
            years=years,
            contracts=ON,
            panel=0,
        )
    )
    record, _ = sim.execute()
    return sim, {k: v.sum() for k, v in record.extra.items()} | {"record": record}


def test_who_keeps_a_contract() -> None:
    """Conditional cooperators keep contracts with partners in good standing only; opportunists
    break them unless deterred; unconditional cooperators keep them."""
    spec = Contracts(enabled=True, execution_error=0.0)
    m = 2000
    for code, good, fear, kept in (
        (DISC, 1, 0.0, True),
        (DISC, 0, 0.0, False),
        (ALLC, 0, 0.0, True),
        (ALLD, 1, 0.0, False),
        (ALLD, 1, 1.0, True),
    ):
        with_scheme, without = play_month(
            spec,
            np.full(m, code, np.int8),
            np.ones(m, np.int8),
            np.full(m, good, np.int8),
            np.full(m, fear),
            seed=1,
            k=0,
        )
        assert with_scheme.all() == kept and (with_scheme.any() == kept)
        # without the scheme everyone is in good standing and nobody is deterred
        assert without.all() == (code != ALLD) and without.any() == (code != ALLD)


def test_contracts_are_between_two_different_people() -> None:
    obligor, partner = partners(Contracts(enabled=True, per_person_month=2.0), 50, seed=3, k=4)
    assert len(obligor) == 100 and (obligor != partner).all()
    assert obligor.min() >= 0 and max(obligor.max(), partner.max()) < 50


def test_the_baseline_keeps_about_half_of_contracts_as_the_paper_says() -> None:
    sim, got = run("rongcheng-2014")
    share = got["contracts_kept_without_scheme"] / got["contracts"]
    assert abs(share - 0.5) < 0.01
    # and the calibration is the closed form: (1 - opportunists) * (1 - e1)
    strategy = strategies(ON, sim.agents, sim.scenario.seed)
    expected = (strategy != ALLD).mean() * (1 - ON.execution_error)
    assert abs(share - expected) < 0.006
    assert ON.opportunists == pytest.approx(1 - 0.5 / 0.95)


def test_every_broken_contract_is_a_true_breach_the_scheme_can_record() -> None:
    sim, got = run("suining-2010")
    record = got["record"]
    a = sim.rates.act_ids.index("contract-breach")
    assert record.ev_true[:, :, a].sum() == got["contracts"] - got["contracts_kept"]
    honest = record.ev_rec[:, :, a].sum() - record.ev_false[:, :, a].sum()
    assert 0 < honest < record.ev_true[:, :, a].sum()  # observed, through the court channel


def test_a_scheme_that_scores_breaches_deters_opportunists() -> None:
    """Suining scores contract breaches: fewer are broken than on the same draws without it."""
    _, got = run("suining-2010")
    kept, without = got["contracts_kept"], got["contracts_kept_without_scheme"]
    assert kept > without + 0.02 * got["contracts"]


def test_refusing_low_graded_partners_breaks_contracts_the_scheme_never_scores() -> None:
    """Sesame Credit does not score breaches, but conditional cooperators refuse partners in its
    lowest grade: contracts kept fall below the no-scheme baseline."""
    from scslab.population.network import NetworkSpec

    sim = Simulation(
        Scenario(
            scheme="sesame-credit",
            population=PopulationSpec(agents=30_000),
            years=2,
            contracts=ON,
            network=NetworkSpec(mean_degree=10),
            panel=0,
        )
    )
    record, _ = sim.execute()
    e = {k: v[12:].sum() for k, v in record.extra.items()}
    assert e["contracts_kept"] < e["contracts_kept_without_scheme"] - 0.02 * e["contracts"]


def test_contracts_off_changes_nothing() -> None:
    sc = Scenario(population=PopulationSpec(agents=20_000), years=1, panel=0)
    record, _ = Simulation(sc).execute()
    assert "contracts" not in record.extra
    assert Simulation(sc).rates.deterrence.shape[2] == len(Simulation(sc).rates.act_ids)


def test_an_unreachable_baseline_and_an_unknown_act_are_refused() -> None:
    with pytest.raises(ValidationError, match="cannot be reached"):
        Contracts(enabled=True, kept_without_scheme=0.97, execution_error=0.05)
    sc = Scenario(
        population=PopulationSpec(agents=1000), contracts=Contracts(enabled=True, act="handshake")
    )
    with pytest.raises(ScenarioError, match="handshake"):
        Simulation(sc)


def test_the_default_scenario_reports_fulfilment_with_and_without_the_scheme(
    tmp_path: Path,
) -> None:
    """Issue "Does scoring build trust?", done when: the default scenario with the contract game."""
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from scslab.cli import main; main()",
            "run",
            "--contracts",
            "--years",
            "2",
            "--json",
            "--out",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    contracts = json.loads(out.stdout)["contracts"]
    assert contracts["contracts"] > 0
    assert abs(contracts["kept_without_scheme"] - 0.5) < 0.01
    assert 0 < contracts["kept"] < 1


def test_an_opportunists_fear_follows_a_rule_that_comes_into_force_within_the_run() -> None:
    """Suining's contract-breach event in force from 2020-07 in a run from 2020-01: the game's
    deterrence of the act is the rate tables' of each month, none before July, the event's
    from then on, as the step's own draws are."""
    from scslab.schemes import builtin_text, parse_scheme

    event = (
        "  - id: contract-breach\n    name: Breaching a contract\n"
        "    category: contract-performance\n    points: -30\n    domain: commerce\n"
        "    assumed: true\n"
    )
    text = builtin_text("suining-2010")
    assert event in text
    scheme = parse_scheme(
        text.replace(event, event + "    in_force: {from: 2020-07, assumed: true}\n")
    )
    sim = Simulation(
        Scenario(
            population=PopulationSpec(agents=500),
            start="2020-01",
            years=1,
            history_months=0,
            contracts={"enabled": True},
        ),
        scheme=scheme,
    )
    assert sim.contract_act is not None and 6 in sim.pieces
    game = sim.start().contracts
    assert game is not None
    (party,) = game.parties
    for k in range(12):
        piece = int(np.searchsorted(sim.pieces, k, side="right")) - 1
        want = sim.piece_rates[piece].deterrence[:, :, sim.contract_act]
        assert np.array_equal(party.deterrence_at(k), want)
    assert (party.deterrence_at(5) == 1).all()
    assert (party.deterrence_at(6) < 1).any()
