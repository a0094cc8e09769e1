"""Appeals in checkpoints and shards: their per-person slots are saved and split like every
other state column, so a resumed or sharded run with appeals writes the plain run's results."""

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

APPEALED = """
id: appealed
name: Deductions and listings open to appeal
subject: individuals
description: a deduction that lists, a ban that follows the list, appeals decided in 3 months
sources: {paper: the seed paper}
score: {base: 100, min: 0, max: 200, source: paper}
categories: [{id: judgments, cap: 60, assumed: true}]
events:
  - {id: unpaid-judgment, category: judgments, points: -30, domain: courts, source: paper}
lists:
  - id: defaulters
    name: Defaulters
    kind: black
    entry: {events: [unpaid-judgment]}
    exit: {after_months: 6}
    source: paper
sanctions:
  - {id: rail-ban, trigger: {list: defaulters}, domain: transport, effect: no rail,
     duration_months: 4, source: paper}
appeals:
  objection: 0.6
  success_if_false: 0.9
  success_if_true: 0.2
  delay_months: 3
  assumed: true
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
                    "rate": 0.3,
                    "channels": {"court": 0.9},
                    "assumed": True,
                }
            ],
            "channels": [
                {"id": "court", "name": "court", "false_record_ratio": 0.5, "assumed": True}
            ],
        }
    )
    sc = Scenario(population=PopulationSpec(agents=6000), years=1, seed=4, panel=600)
    return Simulation(sc, scheme=parse_scheme(APPEALED, "appealed.yaml"), catalogue=catalogue)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("whole") / "run"
    results = simulation().run(folder)
    lodged, won = results.sql(
        'SELECT sum("appeals__lodged"), sum("appeals__won_false") FROM steps'
    ).fetchall()[0]
    results.close()
    assert lodged > 100 and won > 20  # appeals are lodged and won on both sides of a cut
    return tables(folder / RESULTS)


def test_a_run_with_appeals_stopped_and_resumed_writes_the_uninterrupted_results(
    whole: dict[str, Any], tmp_path: Path
) -> None:
    """Stopped after month 7 (checkpoint at month 5, appeals pending in it): resumed, every
    table equals the uninterrupted run's."""

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


def test_a_sharded_run_with_appeals_writes_the_unsharded_results(
    whole: dict[str, Any], cluster: Any, tmp_path: Path
) -> None:
    """Two shards on Dask workers: every table equals the unsharded run's."""
    run_sharded(simulation(), tmp_path, 2, cluster=cluster.scheduler_address, every=5)
    assert_same_tables(tables(tmp_path / RESULTS), whole)
