"""Dated rates and scheme values in sharded and checkpointed runs: the results of the plain run,
bit for bit, though the month's rate table changes mid-run (and after a restart)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scale_helpers import assert_same_tables, stopped_and_resumed, tables

from scslab.engine.scenario import Scenario
from scslab.runs import Simulation, run_sharded
from scslab.store.writer import RESULTS

DATED = Scenario.model_validate(
    {
        "scheme": "defaulter-blacklist",
        "population": {"agents": 4000},
        "start": "2020-01",
        "years": 1.5,
        "seed": 11,
        "panel": 400,
        # the listing rate steps up twice, and the flights people try to buy once
        "rates": {
            "unpaid-judgment": {"2019-06": 0.05, "2020-05": 0.2, "2020-11": 0.1},
            "buy-flight-ticket": {"2020-01": 1.0, "2020-08": 3.0},
        },
        "scheme_values": {"lists": {"judgment-defaulters": {"exit": {"after_months": 5}}}},
    }
)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("whole")
    Simulation(DATED).run(folder / "run")
    return tables(folder / "run" / RESULTS)


def test_a_sharded_run_with_dated_rates_gives_the_unsharded_results(
    whole: dict[str, Any], cluster: Any, tmp_path: Path
) -> None:
    run_sharded(Simulation(DATED), tmp_path, 2, cluster=cluster.scheduler_address, every=4)
    assert_same_tables(tables(tmp_path / RESULTS), whole)


def test_a_run_with_dated_rates_stopped_and_resumed_gives_the_whole_runs_results(
    whole: dict[str, Any], tmp_path: Path
) -> None:
    """Stopped after month 9 (checkpoint at 8, in the second piece of the rates): resumed, the
    run ends with the results of one never stopped."""
    got = stopped_and_resumed(Simulation(DATED), tmp_path / "stopped", after=9, every=4)
    assert_same_tables(got, whole)
