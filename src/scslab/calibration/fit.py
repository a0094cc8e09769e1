"""``scslab calibrate``: fit a scenario's free settings to its targets with pyabc's ABC-SMC.

Approximate Bayesian computation by sequential Monte Carlo (Toni et al. 2009; pyabc, Schälte et
al. 2022) draws candidate settings from the prior (uniform over each range), runs the scenario
with each, and keeps those whose figures come close to the published ones; each generation
tightens the threshold. What is left is a sample from the posterior: how sure the published
figures make us of each setting.

- Distance: the root of the summed squares of each ``fit`` target's error in tolerances
  ((ours − published) / (tolerance × published), or / 2 sd); ``check`` targets never enter it.
- Common random numbers: every candidate runs with the scenario's seed, so that two candidates
  differ by their settings alone; pyabc's own draws are seeded from it too, so that a serial
  calibration (``serial=True``) is repeatable.
- The final estimate is the posterior's weighted median of each setting, run with ``replicates``
  seeds; every target is reported against it (mean and sd over seeds).
- Runs go to Dask (``scslab.engine.cluster.dask_client``) through pyabc's
  ``DaskDistributedSampler``; ``serial=True`` runs them here, one by one.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from scslab._yaml import Located
from scslab.calibration.observe import check_targets, start_month
from scslab.calibration.runs import Job, Measured, Progress, run_job, run_seeds, summarise
from scslab.calibration.targets import Fit, TargetsFile
from scslab.engine.scenario import Fitted, Scenario
from scslab.errors import ResourceError, ScenarioError
from scslab.sweep.spec import Random, SweepSpec

#: Files a calibration writes in its folder.
SCENARIO_FILE = "scenario.yaml"
PAGE = "calibration.html"
JSON_FILE = "calibration.json"
HISTORY = "abc.db"

#: Called with (generation done, generations at most, acceptance threshold).
GenerationProgress = Callable[[int, int, float], None]


@dataclass
class Calibration:
    """What a calibration found and where it wrote it."""

    name: str
    job: Job
    fit: Fit
    estimate: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    priors: dict[str, tuple[float, float]]
    generations: list[dict[str, Any]]
    targets: list[dict[str, Any]]
    replicates: list[Measured]
    posterior: dict[str, tuple[list[float], list[float]]]  # values and weights per setting
    simulations: int
    seconds: float
    folder: Path | None = None
    scenario: Scenario | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.name,
            "targets_file": self.job.targets.source,
            "parameters": {
                p: {
                    "value": self.estimate[p],
                    "interval": list(self.intervals[p]),
                    "level": self.fit.level,
                    "prior": list(self.priors[p]),
                }
                for p in self.estimate
            },
            "generations": self.generations,
            "simulations": self.simulations,
            "replicates": len(self.replicates),
            "agents": self.job.scenario_at({}).population.agents,
            "seconds": round(self.seconds, 1),
            "targets": self.targets,
            "out": str(self.folder) if self.folder is not None else None,
        }


def _subdoc(doc: Located, root: tuple[str | int, ...]) -> Located:
    """The part of a located document under ``root``, with its positions kept."""
    n = len(root)
    positions = {loc[n:]: pos for loc, pos in doc.positions.items() if loc[:n] == root}
    return Located(doc.data, doc.source, positions)


def prepare(
    scenario: Scenario,
    file: TargetsFile,
    *,
    agents: int | None = None,
    need_fit: bool = True,
    threads: int | None = None,
) -> Job:
    """Check the targets and the free settings against the scenario, before anything runs.

    ``agents`` sets the subjects of every run (default: the fit's ``agents``, else the
    scenario's). Every problem is a :class:`ScenarioError` located in the targets file.
    """
    from scslab.engine.simulation import Simulation
    from scslab.sweep.design import _check_domains, _settings

    fit = file.targets.fit
    if need_fit and fit is None:
        raise ScenarioError(
            f"{file.where()}: there is no `fit:` section: give the settings to fit "
            "(fit.parameters, dotted paths with a range each)"
        )
    n = agents if agents is not None else (fit.agents if fit is not None else None)
    if n is not None:
        pop = scenario.population.model_copy(update={"agents": n})
        scenario = Scenario.model_validate({**scenario.model_dump(), "population": pop})
    kinds: dict[str, str] = {}
    if need_fit and fit is not None:
        spec = SweepSpec(parameters=fit.parameters, design=Random(kind="random", samples=1))
        sub = _subdoc(file.doc, ("fit",))
        settings = _settings(spec, sub, scenario)
        _check_domains(settings, scenario.model_dump(mode="json"), sub, Path("."))
        for s in settings:
            if s.path == "fitted" or s.path.startswith("fitted."):
                raise ScenarioError(
                    f"{sub.where(('parameters', s.path, '__key__'))}: fit.parameters.{s.path}: "
                    "this records a fit; it cannot be fitted"
                )
            # an int in steps of a fractional scheme's resolution: "step:0.1"
            kinds[s.path] = f"step:{s.step}" if s.kind == "int" and s.step != 1 else s.kind
    sim = Simulation(scenario)
    windows = check_targets(file, scenario, sim)
    start = start_month(scenario)
    assert start is not None  # check_targets refuses a scenario without one
    return Job(scenario.model_dump_json(), kinds, file, windows, start, threads)


# --- the ABC model and distance (module level: Dask workers import them) ------------------------


def _abc_model(
    job: Job, names: tuple[str, ...], ranges: tuple[tuple[float, float], ...], parameters: Any
) -> dict[str, float]:
    values = {path: _setting(parameters[f"p{i}"], ranges[i]) for i, path in enumerate(names)}
    return run_job(job, values).figures


def _setting(u: Any, bounds: tuple[float, float]) -> Any:
    """A setting from its place in its range (0: the low end, 1: the high end).

    pyabc works on every setting's place in its range, not on the setting itself: its
    transition kernels fail (weights of NaN) when settings differ in scale by orders of
    magnitude, such as a rate of 0.001 a year beside a listing of 48 months. The prior is
    uniform over the range either way."""
    lo, hi = bounds
    return lo + (hi - lo) * (np.asarray(u, np.float64) if np.ndim(u) else float(u))


def _distance(scales: dict[str, float], x: dict[str, float], y: dict[str, float]) -> float:
    total = 0.0
    for tid, scale in scales.items():
        d = (float(x[tid]) - float(y[tid])) / scale
        if not math.isfinite(d):
            return math.inf
        total += d * d
    return math.sqrt(total)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of a weighted sample (weights need not sum to one)."""
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w) - 0.5 * w
    cum /= w.sum()
    return float(np.interp(q, cum, v))


def _round(x: float) -> float:
    return float(f"{x:.4g}")


def _floored_epsilon(pyabc: Any, floor: float) -> Any:
    """pyabc's median-of-distances threshold, never below ``floor``: the last generation accepts
    exactly the settings whose distance is at most ``floor`` (1: each fit target within its
    tolerance), so that the posterior's spread is the spread the published figures allow."""

    class Floored(pyabc.epsilon.QuantileEpsilon):  # type: ignore[misc]
        def __call__(self, t: int) -> float:
            return max(float(super().__call__(t)), floor)

    return Floored(alpha=0.5)


class _Generations(logging.Handler):
    """Turns pyabc's log lines ("t: 2, eps: 1.3e+00.") into a progress callback."""

    def __init__(self, total: int, progress: GenerationProgress) -> None:
        super().__init__(logging.INFO)
        self.total, self.progress = total, progress

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith("t: ") and "eps:" in text:
            try:
                t = int(text.split(",")[0][3:])
                eps = float(text.split("eps:")[1].strip().rstrip("."))
            except ValueError:
                return
            self.progress(t, self.total, eps)


def calibrate(
    scenario: Scenario,
    file: TargetsFile,
    out: str | Path,
    *,
    name: str = "scenario",
    cluster: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    overwrite: bool = False,
    progress: GenerationProgress | None = None,
    replicate_progress: Progress | None = None,
) -> Calibration:
    """Fit ``file``'s free settings to its ``fit`` targets; write the calibrated scenario, its
    page and its JSON in ``out``. Everything is checked before the first run, and nothing is
    left in ``out`` unless the calibration finishes."""
    from scslab.engine.cluster import dask_client
    from scslab.optional import need

    pyabc = need("pyabc", feature="scslab calibrate", extra="calibrate")

    folder = Path(out)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())) and not overwrite:
        raise ResourceError(
            f"{folder}: this folder is not empty; give --overwrite or another --out"
        )
    if workers is not None and workers < 1:
        raise ResourceError(f"--workers {workers}: give at least one worker")
    cores = os.cpu_count() or 1
    n = workers if workers is not None else cores
    threads = None if serial or cluster is not None else max(1, cores // n)
    job = prepare(scenario, file, threads=threads)
    fit = file.targets.fit
    assert fit is not None
    names = tuple(fit.parameters)
    priors: dict[str, tuple[float, float]] = {
        p: fit.parameters[p].range or (0.0, 1.0) for p in names
    }
    fitted = file.targets.fitted
    if not fitted:
        raise ScenarioError(f"{file.where('targets')}: no target has role: fit; nothing to fit to")
    observed = {t.id: t.figure for t in file.targets.targets}
    scales = {t.id: t.scale for t in fitted}

    partial_dir = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(partial_dir, ignore_errors=True)
    partial_dir.mkdir(parents=True)
    clock = time.perf_counter()
    abc_log = logging.getLogger("ABC")
    level, handlers, propagate = abc_log.level, list(abc_log.handlers), abc_log.propagate
    handler = _Generations(fit.generations, progress) if progress is not None else None
    # pyabc draws its candidates from numpy's global generator: seeded from the scenario's seed,
    # a serial calibration is repeatable (on Dask, pyabc reseeds each worker from the system)
    numpy_state = np.random.get_state()  # noqa: NPY002 (pyabc uses the legacy global one)
    np.random.seed(scenario.seed % 2**32)  # noqa: NPY002
    try:
        context = nullcontext(None) if serial else dask_client(cluster, n)
        with context as client:
            if client is None:
                sampler = pyabc.sampler.SingleCoreSampler()
            else:
                sampler = pyabc.sampler.DaskDistributedSampler(client, batch_size=1)
            prior = pyabc.Distribution(
                **{
                    f"p{i}": pyabc.RV("uniform", 0.0, 1.0)  # the place in the range
                    for i, p in enumerate(names)
                }
            )
            abc = pyabc.ABCSMC(
                partial(_abc_model, job, names, tuple(priors[p] for p in names)),
                prior,
                partial(_distance, scales),
                population_size=fit.particles,
                eps=_floored_epsilon(pyabc, fit.min_epsilon),
                sampler=sampler,
            )
            # pyabc reports on its "ABC" loggers: ours alone listens, for the progress callback
            abc_log.handlers = [handler] if handler is not None else []
            abc_log.propagate = False
            abc_log.setLevel(logging.INFO if handler is not None else logging.WARNING)
            history = abc.new(f"sqlite:///{(partial_dir / HISTORY).resolve()}", observed)
            history = abc.run(max_nr_populations=fit.generations, minimum_epsilon=fit.min_epsilon)
            df, w = history.get_distribution(m=0, t=history.max_t)
            weights = np.asarray(w, np.float64)
            lo_q, hi_q = (1 - fit.level) / 2, 1 - (1 - fit.level) / 2
            estimate, intervals, posterior = {}, {}, {}
            for i, p in enumerate(names):
                v = _setting(np.asarray(df[f"p{i}"], np.float64), priors[p])
                estimate[p] = _round(weighted_quantile(v, weights, 0.5))
                intervals[p] = (
                    _round(weighted_quantile(v, weights, lo_q)),
                    _round(weighted_quantile(v, weights, hi_q)),
                )
                posterior[p] = (v.tolist(), weights.tolist())
            if job.kinds:
                estimate = {
                    p: v if job.kinds[p] == "float" else job.typed(p, v)
                    for p, v in estimate.items()
                }
            pops = history.get_all_populations()
            generations = [
                {
                    "t": int(row.t),
                    "epsilon": float(row.epsilon),
                    "samples": int(row.samples),
                    "particles": int(row.particles),
                }
                for row in pops.itertuples()
                if int(row.t) >= 0
            ]
            simulations = int(history.total_nr_simulations)
            base_seed = job.scenario_at({}).seed
            seeds = [base_seed + r for r in range(fit.replicates)]
            replicates = run_seeds(
                job, estimate, seeds, client, replicate_progress, trajectories=True
            )
        result = Calibration(
            name=name,
            job=job,
            fit=fit,
            estimate=estimate,
            intervals=intervals,
            priors={p: (float(a), float(b)) for p, (a, b) in priors.items()},
            generations=generations,
            targets=summarise(file, replicates),
            replicates=replicates,
            posterior=posterior,
            simulations=simulations,
            seconds=time.perf_counter() - clock,
        )
        result.scenario = calibrated_scenario(scenario, result, Path(file.source).name)
        _write(result, partial_dir)
        if folder.exists():
            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        partial_dir.rename(folder)
        result.folder = folder
        return result
    finally:
        abc_log.handlers, abc_log.propagate = handlers, propagate
        abc_log.setLevel(level)
        np.random.set_state(numpy_state)  # noqa: NPY002
        shutil.rmtree(partial_dir, ignore_errors=True)


def calibrated_scenario(scenario: Scenario, result: Calibration, targets: str) -> Scenario:
    """The scenario with each fitted setting at its estimate and marked ``fitted``."""
    from scslab.sweep.spec import with_values

    data = with_values(scenario.model_dump(mode="json"), result.estimate)
    fitted = dict(data.get("fitted") or {})
    for p, v in result.estimate.items():
        fitted[p] = Fitted(
            value=v, interval=result.intervals[p], level=result.fit.level, targets=targets
        ).model_dump(mode="json")
    data["fitted"] = fitted
    return Scenario.model_validate(data)


def scenario_yaml(scenario: Scenario, result: Calibration) -> str:
    """The calibrated scenario as YAML: settings left at their defaults are left out."""
    data = scenario.model_dump(mode="json", exclude_defaults=True)
    head = (
        f"# Calibrated by `scslab calibrate` to {result.job.targets.source}: "
        f"{result.simulations} runs, {len(result.generations)} ABC-SMC generation(s).\n"
        "# Each fitted setting is listed under `fitted` with its posterior interval.\n"
    )
    return head + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _write(result: Calibration, folder: Path) -> None:
    import json

    from scslab.calibration.page import calibration_page

    assert result.scenario is not None
    (folder / SCENARIO_FILE).write_text(scenario_yaml(result.scenario, result), encoding="utf-8")
    (folder / PAGE).write_text(calibration_page(result), encoding="utf-8")
    (folder / JSON_FILE).write_text(json.dumps(result.as_dict(), indent=2), encoding="utf-8")
