"""Running a scenario for its targets: one run on a worker, and many on Dask.

A :class:`Job` holds everything a worker needs to turn parameter values and a seed into the
targets' figures: the base scenario (as JSON), the targets and where each is read. Each run is
held in memory and summed over cells (:func:`scslab.sweep.outputs.step_totals`); no results file
is written. The parsed scheme and act catalogue are kept per worker process
(:func:`scslab.sweep.task.simulation`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from scslab.calibration.observe import Window, measure, trajectory
from scslab.calibration.targets import TargetsFile
from scslab.engine.cluster import use_kernel_threads
from scslab.engine.scenario import Scenario
from scslab.schemes.units import ScoreUnits
from scslab.sweep.spec import with_values

if TYPE_CHECKING:
    from scslab.calibration.layered import LayeredJob

#: Called with (runs finished, runs planned).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Job:
    """A base scenario and its checked targets, ready to be run with other values and seeds."""

    scenario: str  # JSON of the base scenario
    #: the free settings' types by dotted path: "int", "float", or "step:R" for a score-valued
    #: number of a scheme at resolution R (rounded to a multiple of R)
    kinds: dict[str, str]
    targets: TargetsFile
    windows: dict[str, Window]
    start: int  # the scenario's first month, months since year 0
    threads: int | None = None  # kernel threads per run on a worker

    def typed(self, path: str, value: float) -> Any:
        """A free setting's value as the scenario takes it: an integer rounded, a score-valued
        number rounded to its scheme's resolution, else a float."""
        kind = self.kinds.get(path, "float")
        if kind.startswith("step:"):
            scale = ScoreUnits(float(kind[5:])).scale
            return int(np.rint(value * scale)) / scale
        return int(np.rint(value)) if kind == "int" else float(value)

    def scenario_at(self, values: dict[str, float], seed: int | None = None) -> Scenario:
        """The base scenario with ``values`` set (:meth:`typed`) and, if given, the seed."""
        typed: dict[str, Any] = {p: self.typed(p, v) for p, v in values.items()}
        data = with_values(Scenario.model_validate_json(self.scenario).model_dump(), typed)
        if seed is not None:
            data["seed"] = seed
        return Scenario.model_validate(data)


@dataclass(frozen=True)
class Measured:
    """One run's figures by target id, and its trajectories (for the plots) if asked for."""

    seed: int
    figures: dict[str, float]
    trajectories: dict[str, np.ndarray]


def run_job(
    job: Job, values: dict[str, float], seed: int | None = None, trajectories: bool = False
) -> Measured:
    """Run the scenario with ``values`` (and ``seed``) and read every target."""
    from scslab.sweep.outputs import step_totals
    from scslab.sweep.task import simulation

    use_kernel_threads(job.threads)
    scenario = job.scenario_at(values, seed)
    sim = simulation(scenario)
    record, _ = sim.execute()
    columns = step_totals(sim, record)
    share = scenario.observation.published_share
    figures = measure(job.targets, job.windows, columns, sim.agents, job.start, share)
    paths: dict[str, np.ndarray] = {}
    if trajectories:
        for t in job.targets.targets.targets:
            paths[t.id] = trajectory(job.targets, t, columns, sim.agents, share)
    return Measured(scenario.seed, figures, paths)


def run_seeds(
    job: Job | LayeredJob,
    values: dict[str, float],
    seeds: list[int],
    client: Any | None,
    progress: Progress | None = None,
    trajectories: bool = False,
    task: Callable[[Any, dict[str, float], int | None, bool], Measured] | None = None,
) -> list[Measured]:
    """Run the same values with each seed: on ``client`` (Dask) or here, one after another.
    ``task`` runs one seed (default :func:`run_job`; a layered scenario's is
    :func:`scslab.calibration.layered.run_layered_job`)."""
    run: Callable[[Any, dict[str, float], int | None, bool], Measured] = (
        run_job if task is None else task
    )
    out: list[Measured] = []
    if progress is not None:
        progress(0, len(seeds))
    if client is None:
        for s in seeds:
            out.append(run(job, values, s, trajectories))
            if progress is not None:
                progress(len(out), len(seeds))
        return out
    from distributed import as_completed

    futures = [client.submit(run, job, values, s, trajectories, pure=False) for s in seeds]
    try:
        for future in as_completed(futures, loop=client.loop):  # type: ignore[no-untyped-call]
            out.append(future.result())
            future.release()
            if progress is not None:
                progress(len(out), len(seeds))
    except BaseException:
        client.cancel(futures)
        raise
    return sorted(out, key=lambda m: m.seed)


def summarise(targets: TargetsFile, runs: list[Measured]) -> list[dict[str, Any]]:
    """Each target over the runs: published, ours (mean and sd over seeds), role, within."""
    rows = []
    for t in targets.targets.targets:
        values = np.array([r.figures[t.id] for r in runs], np.float64)
        mean = float(values.mean())
        sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(
            {
                "id": t.id,
                "role": t.role,
                "date": t.date,
                "observable": t.observable,
                "of": t.of,
                "unit": t.unit,
                "published": t.figure,
                "mean": mean,
                "sd": sd,
                "error": (mean - t.figure) / t.figure if t.figure else None,
                "tolerance": t.tolerance,
                "within": bool(np.isfinite(mean) and t.within(mean)),
                "source": t.source,
            }
        )
    return rows
