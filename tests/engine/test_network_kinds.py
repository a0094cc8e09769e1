"""Network rules over friends on a list (``friends-listed``) and in a grade (``friends-in-grade``):
person by person, month by month, each fires exactly when a plain-Python count of last month's
listed or graded friends says so, from counts kept up to date and from scanning alike."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import NO_ADAPTATION, catalogue, scenario, scheme
from scslab.behaviour.model import TieCutting
from scslab.engine.simulation import Simulation
from scslab.errors import ScenarioError
from scslab.population import generate
from scslab.population.network import Network, NetworkSpec, generate_network

KINDS = """
id: friends-kinds
name: Friends on a list, friends in a grade
subject: individuals
description: jaywalkers are listed for two months; friends of the listed and of the low graded pay
sources: {paper: the seed paper}
score: {base: 1000, min: -10000, max: 2000, source: paper}
categories: [{id: traffic}, {id: relationships}]
events:
  - {id: jaywalking, category: traffic, points: -300, domain: transport, source: paper}
grades:
  - {id: A, min: 900, max: 2000, source: paper}
  - {id: B, min: 600, max: 899, source: paper}
  - {id: C, min: -10000, max: 599, source: paper}
lists:
  - id: offenders
    kind: black
    entry: {events: [jaywalking]}
    exit: {after_months: 2}
    source: paper
network:
  - {id: listed-friends, kind: friends-listed, list: offenders, share: 0.5, points: -7,
     category: relationships, source: paper}
  - {id: graded-friends, kind: friends-in-grade, grades: [B, C], share: 0.25, points: -3,
     category: relationships, assumed: true}
"""
AGENTS, MONTHS = 800, 6


def run(network: Network | None) -> tuple[Simulation, object]:
    pop = generate(scenario(AGENTS, 1).population, seed=4, agents=AGENTS)
    if network is not None:
        pop.network = network
    else:
        pop.network = generate_network(pop, NetworkSpec(mean_degree=6), 4)
    sim = Simulation(
        scenario(AGENTS, MONTHS),
        scheme=scheme(KINDS),
        catalogue=catalogue({"jaywalking": 1.2}),
        population=pop,
    )
    record, _ = sim.execute()
    return sim, record


def directed() -> Network:
    """Each person names 1 to 8 others at random, not back: friends are scanned, not counted."""
    rng = np.random.default_rng(9)
    degree = rng.integers(0, 9, AGENTS)  # some have no friends and are never charged
    indptr = np.concatenate([[0], np.cumsum(degree)]).astype(np.int64)
    indices = np.concatenate([rng.choice(AGENTS, d, replace=False) for d in degree]).astype(
        np.int32
    )
    return Network(indptr=indptr, indices=indices, symmetric=False)


@pytest.mark.parametrize("how", ["counted", "scanned"])
def test_each_rule_fires_exactly_when_enough_friends_were_listed_or_graded_last_month(
    how: str,
) -> None:
    network = directed() if how == "scanned" else None
    sim, record = run(network)
    run_ = sim.population().network if network is None else network
    assert run_ is not None
    assert run_.symmetric == (how == "counted")
    indptr, friends = run_.indptr, run_.indices
    degree = np.diff(indptr)
    listed = record.panel_lists[:, :, 0] >= 0  # [month, person]; the panel is everyone, in order
    low_grade = record.panel_score < 900  # grades B and C
    fired = {0: 0, 1: 0}
    for t in range(MONTHS):
        # last month's state: before month 0, nobody listed and everyone at base, in grade A
        was_listed = listed[t - 1] if t else np.zeros(AGENTS, bool)
        was_low = low_grade[t - 1] if t else np.zeros(AGENTS, bool)
        ev = record.panel_events[t]
        for q, (marked, share, pts) in enumerate(((was_listed, 0.5, -7), (was_low, 0.25, -3))):
            expect = set()
            for i in range(AGENTS):
                mine = friends[indptr[i] : indptr[i + 1]]
                count = sum(bool(marked[j]) for j in mine)
                if degree[i] > 0 and count >= share * degree[i]:
                    expect.add(i)
            rows = ev[ev[:, 2] == -1 - q]  # network rule q is logged as act -1 - q
            assert (rows[:, 5] == pts).all()
            assert set(rows[:, 1].tolist()) == expect, (how, t, q)
            fired[q] += len(expect)
    # both rules fired, and neither for everyone: the test could have failed either way
    assert 0 < fired[0] < AGENTS * MONTHS and 0 < fired[1] < AGENTS * MONTHS, fired


def test_tie_cutting_needs_a_score_when_no_rule_is_friends_below() -> None:
    """Tie-cutting takes its score from the first friends-below rule; with none, the scenario
    must give ``below``, and then ties to people below it are cut."""
    cutting = NO_ADAPTATION.model_copy(update={"tie_cutting": TieCutting(enabled=True)})
    sc = scenario(AGENTS, 3, network=NetworkSpec(mean_degree=6)).model_copy(
        update={"adaptation": cutting}
    )
    with pytest.raises(ScenarioError, match="no friends-below network rule"):
        Simulation(sc, scheme=scheme(KINDS), catalogue=catalogue({"jaywalking": 1.2}))
    given = NO_ADAPTATION.model_copy(
        update={"tie_cutting": TieCutting(enabled=True, probability=0.5, below=900)}
    )
    sim = Simulation(
        sc.model_copy(update={"adaptation": given}),
        scheme=scheme(KINDS),
        catalogue=catalogue({"jaywalking": 1.2}),
    )
    record, _ = sim.execute()
    assert record.ties_cut[1:].sum() > 0
