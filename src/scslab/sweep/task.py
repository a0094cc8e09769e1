"""What a Dask worker does for one run: set up the engine, run every month, summarise."""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field

import numpy as np

from scslab.behaviour.model import Catalogue
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation
from scslab.errors import ScslabError
from scslab.schemes.model import Scheme
from scslab.sweep.outputs import run_outputs


@dataclass
class RunResult:
    """A finished (or failed) run, as the worker sends it back."""

    key: str
    status: str  # "complete" or "failed"
    seconds: float
    worker: str
    error: str | None = None
    outputs: dict[str, float] = field(default_factory=dict)
    steps: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def failed(cls, key: str, error: str, worker: str = "", seconds: float = 0.0) -> RunResult:
        return cls(key, "failed", seconds, worker, error)


#: Schemes and act catalogues parsed once per worker process: parsing YAML costs more than a
#: small run. Keyed by the scenario settings that choose them.
_loaded: dict[str, tuple[Scheme, Catalogue]] = {}


def simulation(scenario: Scenario) -> Simulation:
    """A :class:`Simulation` that reuses this process's parsed scheme and catalogue."""
    key = scenario.model_dump_json(include={"scheme", "acts", "firms"})
    if key in _loaded:
        scheme, catalogue = _loaded[key]
        return Simulation(scenario, scheme=scheme, catalogue=catalogue)
    sim = Simulation(scenario)
    # before the scenario's scheme_values and rates, which differ from run to run
    _loaded[key] = (sim.base_scheme, sim.base_catalogue)
    return sim


def _worker() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):  # not on a Dask worker: a serial run in this process
        return f"{socket.gethostname()}:{os.getpid()}"


def run_one(key: str, scenario_json: str, threads: int | None = None) -> RunResult:
    """Run one scenario in memory and return its summary outputs, month by month too.

    ``threads`` caps the compiled kernels' threads for this run (numba's setting is per calling
    thread): where several workers share a machine's cores, each run takes its share.
    A user's mistake found only now (a run too large for the worker's memory) fails this run
    alone; the sweep records why and goes on. Any other exception is left to Dask.
    """
    if threads is not None:
        import numba

        launched: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
        numba.set_num_threads(max(1, min(threads, launched)))
    clock = time.perf_counter()
    worker = _worker()
    try:
        sim = simulation(Scenario.model_validate_json(scenario_json))
        record, _ = sim.execute()
    except ScslabError as exc:
        return RunResult.failed(key, str(exc), worker, time.perf_counter() - clock)
    outputs, steps = run_outputs(sim, record)
    return RunResult(key, "complete", time.perf_counter() - clock, worker, None, outputs, steps)
