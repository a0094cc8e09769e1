"""Ties that score: network rules need a network, and cutting ties to low scorers segregates."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from scslab.behaviour.model import Adaptation, TieCutting
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation
from scslab.errors import ScenarioError
from scslab.population import PopulationSpec
from scslab.population.network import NetworkSpec


def sesame(agents: int = 4000, months: int = 24, cutting: bool = False, **kw: object) -> Scenario:
    return Scenario(
        scheme="sesame-credit",
        population=PopulationSpec(agents=agents),
        network=NetworkSpec(mean_degree=12),
        years=months / 12,
        seed=5,
        panel=0,
        adaptation=Adaptation(tie_cutting=TieCutting(enabled=cutting, probability=0.3)),
        **kw,
    )


def test_a_network_rule_without_a_network_is_refused_with_status_two() -> None:
    """Sesame's low-friends rule cannot run on people without ties: a clear message, status 2."""
    done = subprocess.run(
        [sys.executable, "-m", "scslab", "run", "--scheme", "sesame-credit", "--agents", "500"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "network rules" in done.stderr and "--network" in done.stderr
    assert "Traceback" not in done.stderr


def test_tie_cutting_needs_a_network_and_a_mean_degree_below_the_population() -> None:
    """Both mistakes are caught when the simulation is set up, before anything is drawn."""
    no_ties = sesame(cutting=True).model_copy(update={"scheme": "rongcheng-2014", "network": None})
    with pytest.raises(ScenarioError, match="tie_cutting needs a social network"):
        Simulation(no_ties)
    with pytest.raises(ScenarioError, match="mean_degree"):
        Simulation(sesame(agents=10).model_copy(update={"network": NetworkSpec(mean_degree=10)}))


def test_cutting_ties_to_low_scorers_raises_score_assortativity() -> None:
    """With tie-cutting on, friends come to resemble each other in score; off, nothing is cut."""
    rec_on, _ = Simulation(sesame(cutting=True)).execute()
    rec_off, _ = Simulation(sesame(cutting=False)).execute()
    assert rec_off.ties_cut.sum() == 0
    assert rec_on.ties_cut.sum() > 0
    assert np.isfinite(rec_on.assortativity).all()
    assert rec_on.assortativity[-1] > rec_on.assortativity[0]
    assert rec_on.assortativity[-1] > rec_off.assortativity[-1]


def test_a_run_rewires_its_own_copy_of_the_network() -> None:
    """Running twice gives the same result: tie-cutting never changes the population's network."""
    sim = Simulation(sesame(months=6, cutting=True))
    before = sim.population().network.indices.copy()
    first, _ = sim.execute()
    second, _ = sim.execute()
    assert (sim.population().network.indices == before).all()
    assert (first.ties_cut == second.ties_cut).all()
    assert np.array_equal(first.assortativity, second.assortativity)


def test_counting_low_friends_from_crossers_equals_scanning_every_tie() -> None:
    """On a symmetric network, the kept-up counts give exactly the results of a full scan."""
    from scslab.population.network import Network

    sim = Simulation(sesame(agents=3000, months=18))
    pop = sim.population()
    counted, _ = sim.execute()
    assert pop.network.symmetric
    pop.network = Network(pop.network.indptr, pop.network.indices, symmetric=False)
    scanned, _ = Simulation(sesame(agents=3000, months=18), population=pop).execute()
    assert (counted.grade == scanned.grade).all()
    assert (counted.score_sum == scanned.score_sum).all()
    assert (counted.flow == scanned.flow).all()
    without_rule = Simulation(
        sesame(agents=3000, months=18),
        scheme=sim.scheme.model_copy(update={"network": ()}),
        population=pop,
    ).execute()[0]
    assert (without_rule.score_sum != counted.score_sum).any()  # the rule did fire
