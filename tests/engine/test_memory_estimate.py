"""The memory estimate covers what a run really allocates: its panel, its network and its firms.

How close the estimate comes to the peak RSS is measured by ``benchmarks/memory.py`` (figures in
benchmarks/RESULTS.md), not here; these tests pin that each part of a run is counted at least at
the size of the arrays it really holds, so that the estimate grows with the panel, the months,
the ties and the firms.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scslab.engine.compiled import allocate_state, ring_width, state_bytes_per_person
from scslab.engine.scenario import Scenario
from scslab.population import NetworkSpec, PopulationSpec
from scslab.runs import Simulation
from scslab.schemes import builtin_names, load_scheme


def estimate(**settings: object) -> int:
    base: dict[str, object] = {"population": PopulationSpec(agents=20_000), "years": 1}
    return Simulation(Scenario.model_validate({**base, **settings})).estimate_memory()


def test_the_panel_is_counted_at_least_at_what_it_holds_and_writes(tmp_path: Path) -> None:
    """A panel of 5,000 adds to the estimate at least its monthly arrays and events and one copy
    of its table's columns as they are written (DuckDB's copy comes on top), and more over more
    months or with a larger panel."""
    sim = Simulation(Scenario(population=PopulationSpec(agents=20_000), years=1, panel=5000))
    record, _ = sim.execute()
    held = sum(
        getattr(record, name).nbytes
        for name in (
            "panel_score",
            "panel_grade",
            "panel_lists",
            "panel_lcause",
            "panel_until",
            "panel_cause",
        )
    ) + sum(e.nbytes for e in record.panel_events)
    with sim.run(tmp_path / "run") as results:
        table = results.sql("SELECT * FROM panel").fetchnumpy()
        written = sum(np.asarray(column).nbytes for column in table.values())
        assert len(table["person"]) == 12 * 5000
    with_panel = estimate(panel=5000)
    assert with_panel == sim.estimate_memory()
    assert with_panel - estimate(panel=0) >= held + written
    assert estimate(panel=5000, years=2) - estimate(panel=0, years=2) > with_panel - estimate(
        panel=0
    )
    assert estimate(panel=10_000) > with_panel


def test_a_network_is_counted_at_least_at_the_size_of_its_ties() -> None:
    """A network adds at least its own CSR arrays, and more ties add more."""
    sim = Simulation(
        Scenario(population=PopulationSpec(agents=20_000), years=1, network=NetworkSpec())
    )
    ties = sim.population().network
    assert ties is not None
    assert estimate(network=NetworkSpec()) - estimate() >= ties.nbytes
    assert estimate(network=NetworkSpec(mean_degree=40)) > estimate(network=NetworkSpec())


def test_a_firm_run_counts_its_people_and_its_firms() -> None:
    """A firm run holds the people's run inside it: its estimate exceeds that run's, by at least
    the firms' own columns, and grows with the firms per thousand people."""
    sim = Simulation(Scenario(scheme="corporate-scs", population=PopulationSpec(agents=20_000)))
    assert sim.people is not None
    firms = sim.population()
    columns = sum(v.nbytes for v in vars(firms).values() if isinstance(v, np.ndarray))
    assert sim.estimate_memory() - sim.people.estimate_memory() >= columns
    more = Scenario(
        scheme="corporate-scs",
        population=PopulationSpec(agents=20_000),
        firms={"per_thousand_people": 60},
    )
    assert Simulation(more).estimate_memory() > sim.estimate_memory()


@pytest.mark.parametrize("scheme", builtin_names())
def test_the_state_per_person_is_what_the_engine_allocates(scheme: str) -> None:
    """The estimate's bytes of state per person are the bytes of every state column a run of the
    scheme allocates (a weighted-factor score's factors and appeals' slots included)."""
    network = NetworkSpec(mean_degree=4) if load_scheme(scheme).network else None
    sim = Simulation(
        Scenario(scheme=scheme, population=PopulationSpec(agents=1000), years=1, network=network)
    )
    n = 100
    state = allocate_state(n, sim.arrays, sim.layout)
    held = sum(column.nbytes for column in state) // n
    assert held == state_bytes_per_person(sim.layout, ring_width(sim.arrays), sim.arrays)
