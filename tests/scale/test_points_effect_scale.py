"""A consequence's points effect in checkpoints and shards: it moves scores inside the step, on
state that is saved and split like every other column, so a resumed or sharded run of a scheme
with one writes the plain run's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scale_helpers import assert_same_tables, tables

from scslab.behaviour.model import Catalogue
from scslab.engine.checkpoint import read_manifest
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import RunInterrupted
from scslab.population import PopulationSpec
from scslab.runs import Simulation, resume_run, run_checkpointed, run_sharded
from scslab.schemes import parse_scheme
from scslab.store.writer import RESULTS

LISTED = """
id: listed-points
name: A listing that costs points as it starts
subject: individuals
description: a deduction that lists for four months; the listing costs 40 points, 100 a year
sources: {paper: the seed paper}
score: {base: 100, min: 0, max: 200, source: paper}
categories: [{id: judgments}, {id: listings, cap: 100, assumed: true}]
events:
  - {id: unpaid-judgment, category: judgments, points: -10, domain: courts, source: paper}
grades:
  - {id: A, min: 90, max: 200, assumed: true}
  - {id: D, min: 0, max: 89, assumed: true}
lists:
  - {id: defaulters, kind: black, entry: {events: [unpaid-judgment]}, exit: {after_months: 4},
     source: paper}
sanctions:
  - id: listing-points
    trigger: {list: defaulters}
    domain: finance
    effect: points off as the listing starts
    assumed: true
    effects:
      - {points: -40, category: listings, assumed: true}
"""


def simulation() -> Simulation:
    catalogue = Catalogue.model_validate(
        {
            "acts": [
                {
                    "id": "unpaid-judgment",
                    "name": "unpaid judgment",
                    "domain": "courts",
                    "lawful": False,
                    "rate": 3.0,
                    "channels": {"court": 0.9},
                    "assumed": True,
                }
            ],
            "channels": [
                {"id": "court", "name": "court", "false_record_ratio": 0.0, "assumed": True}
            ],
        }
    )
    sc = Scenario(population=PopulationSpec(agents=6000), years=1, seed=4, panel=600)
    return Simulation(sc, scheme=parse_scheme(LISTED, "listed.yaml"), catalogue=catalogue)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("whole") / "run"
    results = simulation().run(folder)
    moved, logged = results.sql(
        'SELECT (SELECT sum("effect_points__listing-points") FROM steps), '
        "(SELECT count(*) FROM panel_events WHERE act = 'sanction:listing-points')"
    ).fetchall()[0]
    results.close()
    assert moved < -20000 and logged > 100  # points move on both sides of a cut
    return tables(folder / RESULTS)


def test_a_run_with_points_effects_stopped_and_resumed_writes_the_uninterrupted_results(
    whole: dict[str, Any], tmp_path: Path
) -> None:
    """Stopped after month 7 (checkpoint at month 5): resumed, every table equals the
    uninterrupted run's."""

    def stop(done: int, total: int) -> None:
        if done == 7:
            raise KeyboardInterrupt

    sim = simulation()
    folder = sim.prepare(tmp_path / "stopped")
    with pytest.raises(RunInterrupted):
        run_checkpointed(sim, folder, 5, stop)
    assert read_manifest(folder).step == 5
    resume_run(folder)
    assert_same_tables(tables(folder / RESULTS), whole)


def test_a_sharded_run_with_points_effects_writes_the_unsharded_results(
    whole: dict[str, Any], cluster: Any, tmp_path: Path
) -> None:
    """Two shards on Dask workers: every table equals the unsharded run's."""
    run_sharded(simulation(), tmp_path, 2, cluster=cluster.scheduler_address, every=5)
    assert_same_tables(tables(tmp_path / RESULTS), whole)
