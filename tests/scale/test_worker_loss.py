"""Faults in sharded runs: a worker killed mid-run is replaced and the run restarts from its last
checkpoint by itself; a stopped sharded run resumes. Both end with the undisturbed results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scale_helpers import assert_same_tables, kill_a_worker_after, restarts, tables

from scslab.engine.checkpoint import read_manifest
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import RunInterrupted
from scslab.population import NetworkSpec, PopulationSpec
from scslab.runs import Simulation, resume_run, run_sharded
from scslab.store.writer import RESULTS

SCENARIO = Scenario(
    scheme="sesame-credit",
    population=PopulationSpec(agents=20_000),
    network=NetworkSpec(mean_degree=8),
    years=2,
    seed=11,
    panel=500,
)


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("undisturbed")
    Simulation(SCENARIO).run(folder)
    return tables(folder / RESULTS)


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_the_run_ends_as_if_nothing_happened(
    cluster: Any, undisturbed: dict[str, Any], tmp_path: Path
) -> None:
    """Three shards checkpoint every 4 months; after month 5 the worker holding shard 0 is
    SIGKILLed. The nanny starts a new worker, every shard is rebuilt from the checkpoint, and
    every table of the results equals the undisturbed run's."""
    kill_after_month_five, killed = kill_a_worker_after(cluster, 5)
    log: list[str] = []
    run_sharded(
        Simulation(SCENARIO),
        tmp_path,
        3,
        cluster=cluster.scheduler_address,
        every=4,
        progress=kill_after_month_five,
        log=log.append,
    )
    assert killed
    months = restarts(log)
    # from a checkpoint, never from scratch. One loss can be seen twice: first as the shard's
    # tasks cancelled, then as the scheduler's notice that the worker is gone, which restarts a
    # second time from a later checkpoint (a known race, wasteful but not wrong)
    assert 1 <= len(months) <= 2 and all(r >= 4 for r in months), log
    assert_same_tables(tables(tmp_path / RESULTS), undisturbed)


def test_a_stopped_sharded_run_resumes_on_the_cluster(
    cluster: Any, undisturbed: dict[str, Any], tmp_path: Path
) -> None:
    """Ctrl-C after month 6 of a 2-shard run keeps the month-4 checkpoint (one part per shard);
    resuming it ends with the undisturbed results."""

    def stop(done: int, total: int) -> None:
        if done == 6:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted):
        run_sharded(
            Simulation(SCENARIO),
            tmp_path,
            2,
            cluster=cluster.scheduler_address,
            every=4,
            progress=stop,
        )
    manifest = read_manifest(tmp_path)
    assert manifest.step == 4 and manifest.shards == 2
    resume_run(tmp_path, cluster=cluster.scheduler_address)
    assert_same_tables(tables(tmp_path / RESULTS), undisturbed)


def test_a_result_lost_with_its_worker_after_it_finished_is_a_lost_worker() -> None:
    """A task that finished on a worker that then died: the scheduler may wait to compute it
    again on the worker it was pinned to, which is gone, so its result never comes. The
    coordinator, waiting for it, looks at the workers between waits and restarts the run."""
    from types import SimpleNamespace

    from scslab.engine.shards import Coordinator, WorkerLost

    class Stranded:
        status = "finished"

        def result(self, timeout: float | None = None) -> Any:
            assert timeout is not None  # never a wait without end
            raise TimeoutError

    coordinator = Coordinator.__new__(Coordinator)
    coordinator.stop = None
    coordinator.watch = {}
    coordinator.client = SimpleNamespace(scheduler_info=lambda: {"workers": {"tcp://a:1": {}}})
    with pytest.raises(WorkerLost, match="tcp://b:2"):
        coordinator._held(Stranded(), ["tcp://a:1", "tcp://b:2"])
