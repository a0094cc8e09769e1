"""Sweeps: many runs of one scenario over a design of parameter values, on Dask.

>>> sweep = Sweep.from_yaml("examples/sweep-sobol.yaml")   # checked before anything runs
>>> report = run_sweep(sweep, "runs/sobol", workers=2)      # a LocalCluster, closed at the end
>>> report.indices["events.false"]["observation.camera_false_match_rate"]["ST"]

Every run's parameters and summary outputs go into one DuckDB file, ``sweep.duckdb``; a rerun of
the same spec skips the runs already in it. See ``docs/sweeps.md``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scslab.engine.cluster import dask_client
from scslab.errors import ResourceError
from scslab.sweep.design import Sweep
from scslab.sweep.morris import Screening, morris_indices
from scslab.sweep.runner import Outcome, Progress, execute
from scslab.sweep.sobol import Indices, sobol_indices, write_plot
from scslab.sweep.spec import Morris, Sobol, SweepSpec
from scslab.sweep.store import DATABASE, SweepStore

__all__ = [
    "DATABASE",
    "Outcome",
    "Sweep",
    "SweepReport",
    "SweepSpec",
    "run_sweep",
    "sobol_indices",
]


@dataclass(frozen=True)
class SweepReport:
    """What a sweep left behind: its file, what ran, and the Sobol indices of a Sobol design."""

    sweep: Sweep
    database: Path
    outcome: Outcome
    counts: dict[str, int]  # rows of `runs` by status, over all invocations
    means: dict[str, np.ndarray]  # each analysed output, averaged over replicates, per point
    indices: Indices | None = None  # a Sobol design with every point complete
    plot: Path | None = None
    failures: tuple[tuple[int, int, str], ...] = ()  # a few failed runs: point, replicate, why
    screening: Screening | None = None  # a Morris design with every point complete

    @property
    def complete(self) -> bool:
        return self.counts.get("complete", 0) == len(self.sweep.runs)


def run_sweep(
    sweep: Sweep | str | Path,
    out: str | Path,
    *,
    cluster: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    progress: Progress | None = None,
) -> SweepReport:
    """Run a sweep's unfinished runs and analyse them.

    ``cluster`` is a Dask scheduler's address; without it a LocalCluster of ``workers`` processes
    runs them. ``serial=True`` runs them one by one in this process instead (no Dask).
    """
    if not isinstance(sweep, Sweep):
        sweep = Sweep.from_yaml(sweep)
    folder = Path(out)
    # a folder holding another sweep is refused before a cluster starts; none starts for nothing
    finished = SweepStore.check(folder, sweep)
    if serial or {r.key for r in sweep.runs} <= finished:
        with SweepStore(folder, sweep) as store:
            return analyse(sweep, store, execute(sweep, store, None, progress))
    if workers is not None and workers < 1:
        raise ResourceError(f"--workers {workers}: give at least one worker")
    cores = os.cpu_count() or 1
    n = workers if workers is not None else cores
    # on a LocalCluster parallelism is across runs: each run gets its workers' share of the cores
    threads = None if cluster is not None else max(1, cores // n)
    with dask_client(cluster, n) as client, SweepStore(folder, sweep) as store:
        return analyse(sweep, store, execute(sweep, store, client, progress, threads))


def analyse(sweep: Sweep, store: SweepStore, outcome: Outcome) -> SweepReport:
    """Means per point of the analysed outputs; Sobol indices and plot, or Morris indices, once
    every point is in."""
    means = store.point_means(sweep.outputs)
    counts = store.counts()
    indices = plot = screening = None
    design = sweep.spec.design
    every_point = all(not np.isnan(m).any() for m in means.values())
    if isinstance(design, Sobol) and every_point:
        indices = sobol_indices(sweep, means)
        layers = sweep.base.layers
        what = (
            "layers " + ", ".join(f"{x.id} ({x.scheme})" for x in layers)
            if layers is not None
            else f"scheme {sweep.base.scheme}"
        )
        title = (
            f"{len(sweep.points):,} design points × {sweep.spec.replicates} replicate(s) of "
            f"{what}, {sweep.base.population.agents:,} people"
        )
        plot = write_plot(indices, store.path.parent, title, design.confidence)
    if isinstance(design, Morris) and every_point:
        screening = morris_indices(sweep, means)
    return SweepReport(
        sweep=sweep,
        database=store.path,
        outcome=outcome,
        counts=counts,
        means=means,
        indices=indices,
        plot=plot,
        failures=tuple(store.failures()),
        screening=screening,
    )
