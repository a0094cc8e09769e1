"""``scslab validate``: run a (calibrated) scenario over several seeds and hold every target up
against what was published: fit targets and held-out checks alike."""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import Any

from scslab.calibration.fit import prepare
from scslab.calibration.runs import Progress, run_seeds, summarise
from scslab.calibration.targets import TargetsFile
from scslab.engine.scenario import Scenario
from scslab.errors import ResourceError, ScenarioError

#: People in a validation run unless told otherwise: per-capita figures need a large population.
AGENTS = 1_000_000


def validate(
    scenario: Scenario,
    file: TargetsFile,
    *,
    agents: int | None = AGENTS,
    seeds: int = 3,
    cluster: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Each target: published, ours (mean and sd over ``seeds`` seeds), role, within tolerance.

    Seeds are the scenario's seed and the ones after it. With more than one seed the runs go to
    Dask (a LocalCluster of ``workers`` processes, or ``cluster``) unless ``serial``.
    """
    from scslab.engine.cluster import dask_client

    if seeds < 1:
        raise ScenarioError(f"--seeds {seeds}: give at least one seed")
    if workers is not None and workers < 1:
        raise ResourceError(f"--workers {workers}: give at least one worker")
    if agents is not None and agents < 1:
        raise ScenarioError(f"--agents {agents}: give at least one agent")
    cores = os.cpu_count() or 1
    n = min(workers if workers is not None else cores, seeds)
    local = serial or (seeds == 1 and cluster is None)
    threads = None if local or cluster is not None else max(1, cores // n)
    job = prepare(scenario, file, agents=agents, need_fit=False, threads=threads)
    first = scenario.seed
    if first + seeds - 1 >= 2**63:
        raise ScenarioError(f"--seeds {seeds}: the seeds would pass the largest seed (2**63 - 1)")
    with nullcontext(None) if local else dask_client(cluster, n) as client:
        runs = run_seeds(job, {}, list(range(first, first + seeds)), client, progress)
    return summarise(file, runs)


def markdown(rows: list[dict[str, Any]]) -> str:
    """The outcome as a Markdown table (for docs/validation.md)."""

    def fmt(x: float) -> str:
        return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"

    lines = [
        "| target | role | date | published | ours (mean ± sd) | error | within |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for r in rows:
        err = "" if r["error"] is None else f"{r['error']:+.1%}"
        lines.append(
            f"| {r['id']} | {r['role']} | {r['date']} | {fmt(r['published'])} | "
            f"{fmt(r['mean'])} ± {fmt(r['sd'])} | {err} | {'yes' if r['within'] else 'no'} |"
        )
    return "\n".join(lines)
