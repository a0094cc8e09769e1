"""What a Dask worker does for one run: set up the engine, run every month, summarise."""

from __future__ import annotations

import json
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
from scslab.sweep.outputs import AcrossLayers, layered_outputs, run_outputs


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
    scenario = Scenario.model_validate_json(scenario_json)
    try:
        if scenario.layers is not None:
            outputs, steps = _layered(scenario)
        else:
            sim = simulation(scenario)
            record, _ = sim.execute()
            outputs, steps = run_outputs(sim, record)
    except ScslabError as exc:
        return RunResult.failed(key, str(exc), worker, time.perf_counter() - clock)
    return RunResult(key, "complete", time.perf_counter() - clock, worker, None, outputs, steps)


#: Each layer's scheme, and the acts, parsed once per worker process for layered runs; keyed
#: by the layers' schemes and the scenario's act catalogue.
_loaded_layers: dict[str, tuple[dict[str, Scheme], Catalogue]] = {}


def _layered(scenario: Scenario) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """A layered run in memory (:class:`~scslab.engine.layers.LayeredSimulation`), summarised:
    each layer's outputs and those over all layers
    (:func:`scslab.sweep.outputs.layered_outputs`)."""
    from scslab.engine.layers import LayeredSimulation

    key = json.dumps(
        [[x.id, x.scheme] for x in scenario.layers or ()] + [scenario.acts, scenario.scheme_values]
    )
    cached = _loaded_layers.get(key)
    if cached is None:
        lsim = LayeredSimulation(scenario)
        _loaded_layers[key] = (
            {ls.id: ls.sim.base_scheme for ls in lsim.layers},
            lsim.layers[0].sim.base_catalogue,
        )
    else:
        lsim = LayeredSimulation(scenario, schemes=cached[0], catalogue=cached[1])
    run = lsim.start()
    across = AcrossLayers(lsim)
    lsim.execute(lambda done, _total: across.month(run, done - 1), resume=run)
    return layered_outputs(lsim, run, across)
