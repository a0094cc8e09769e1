"""Sharded runs keep the observables of calibration bit for bit: list flows by reason, blocked
purchases and dates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scale_helpers import assert_same_tables, tables

from scslab.engine.scenario import Scenario
from scslab.population import PopulationSpec
from scslab.runs import Simulation, run_sharded
from scslab.store.results import Results

DEFAULTERS = Scenario(
    scheme="defaulter-blacklist",
    population=PopulationSpec(agents=30_000),
    years=2,
    seed=5,
    panel=300,
    start="2016-01",
)


def test_a_sharded_defaulter_run_counts_flows_and_blocked_purchases_bit_for_bit(
    cluster: Any, tmp_path: Path
) -> None:
    """Two shards on Dask workers write the unsharded run's tables, including entries, exits by
    reason and blocked attempts (drawn per person and per cell from their own streams)."""
    Simulation(DEFAULTERS).run(tmp_path / "whole")
    run_sharded(
        Simulation(DEFAULTERS), tmp_path / "sharded", 2, cluster=cluster.scheduler_address, every=5
    )
    whole = tables(tmp_path / "whole" / "results.duckdb")
    assert_same_tables(tables(tmp_path / "sharded" / "results.duckdb"), whole)
    s = Results(tmp_path / "sharded").summary()
    assert s["blocked"]["buy-flight-ticket"] > 0 and s["blocked"]["buy-rail-ticket"] > 0
    assert s["list_exits"]["judgment-defaulters"]["fulfilment"] > 0
