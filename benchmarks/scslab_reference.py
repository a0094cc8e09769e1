"""The reference model (benchmarks/REFERENCE.md) run by scslab.

The model is data: ``benchmarks/reference/scheme.yaml`` and ``acts.yaml``, with deterrence and
chilling switched off and every act recorded. The network is the shared file of
``reference_network.py``, set on a population drawn with the network's seed (people's traits do not
change any rate in this model; they only label the tally cells).

Two drivers, same kernels, same draws, same outputs:

- ``driver="simulation"``: ``Simulation.execute()``, the public API. Besides the step it records
  every tally and, because the population has a network, the score assortativity of the ties each
  step (one extra pass over all ties that the reference model does not ask for).
- ``driver="loop"`` (default): the loop that ``Simulation.execute()`` runs, without the
  assortativity pass and the panel: per step, mark last month's low scorers, step everyone, sum
  the tallies the outputs need (grades, lists, restrictions).

    from scslab_reference import run
    run("/tmp/ref-2k.npz", 2000, 24, seed=0)
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_network import NETWORK_SEED, load_network
from scslab.behaviour.model import Adaptation, Catalogue, Chilling, Deterrence
from scslab.behaviour.rates import load_catalogue
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation
from scslab.population import Network, PopulationSpec, generate
from scslab.schemes import Scheme, load_scheme

HERE = Path(__file__).resolve().parent
SCHEME = HERE / "reference" / "scheme.yaml"
ACTS = HERE / "reference" / "acts.yaml"
GRADES = ("AAA", "AA", "A", "B", "C", "D")
#: Every output of a run, in the order the agreement test reads them.
OUTCOMES = (*GRADES, "listed", "c_running", "d_running")

NetworkLike = str | Path | tuple[np.ndarray, np.ndarray]


def scenario(n: int, steps: int, seed: int) -> Scenario:
    """The reference scenario: ``steps`` monthly steps, no panel, no adaptation."""
    return Scenario(
        scheme=str(SCHEME),
        acts=str(ACTS),
        population=PopulationSpec(agents=n),
        years=steps / 12,
        seed=seed,
        panel=0,
        adaptation=Adaptation(
            deterrence=Deterrence(enabled=False), chilling=Chilling(enabled=False)
        ),
    )


@functools.cache
def _scheme() -> Scheme:
    return load_scheme(str(SCHEME))


@functools.cache
def _catalogue() -> Catalogue:
    return load_catalogue(str(ACTS))


def _arrays(network: NetworkLike) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(network, tuple):
        return network
    return load_network(network)


def simulation(network: NetworkLike, n: int, steps: int, seed: int) -> Simulation:
    """A ready :class:`Simulation` of the reference model on the given network."""
    indptr, indices = _arrays(network)
    if len(indptr) != n + 1:
        raise ValueError(f"the network has {len(indptr) - 1:,} people, not {n:,}")
    pop = generate(PopulationSpec(agents=n), NETWORK_SEED, n)
    pop.network = Network(indptr, indices, symmetric=True)  # undirected, as REFERENCE.md says
    sim = Simulation(
        scenario(n, steps, seed), scheme=_scheme(), catalogue=_catalogue(), population=pop
    )
    if sim.scenario.steps != steps:
        raise ValueError(f"steps {steps} is not a whole number of months the scenario can hold")
    return sim


def _outcomes(n: int, grade: np.ndarray, listed: int, groups: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {g: float(k) / n for g, k in zip(GRADES, grade, strict=True)}
    out["listed"] = float(listed)
    out["c_running"] = float(groups[0])
    out["d_running"] = float(groups[1])
    return out


def execute(sim: Simulation, driver: str = "loop") -> dict[str, float]:
    """Run ``sim`` to the end and return the outputs of REFERENCE.md after the last step."""
    layout = sim.layout
    if layout.grades != GRADES or layout.lists != ("defaulters",):
        raise ValueError(f"not the reference scheme: grades {layout.grades}, lists {layout.lists}")
    if [g[0].id for g in layout.groups] != ["c-restrictions", "d-restrictions"]:
        raise ValueError("not the reference scheme: restrictions differ")
    if sim.arrays.grp_household.any():
        raise ValueError("not the reference scheme: a restriction is triggered by the household")
    if driver == "simulation":
        rec, _ = sim.execute()
        return _outcomes(
            sim.agents, rec.grade[-1].sum(0), int(rec.listed[-1].sum()), rec.grp_active[-1].sum(0)
        )
    if driver != "loop":
        raise ValueError(f"driver must be 'loop' or 'simulation', not {driver!r}")
    return _loop(sim)


def _loop(sim: Simulation) -> dict[str, float]:
    """``Simulation.execute()``'s months, driven one by one without assortativity."""
    run = sim.start()
    for t in range(sim.scenario.steps):
        run.advance(t, assortativity=False)
    rec = run.record
    return _outcomes(
        sim.agents, rec.grade[-1].sum(0), int(rec.listed[-1].sum()), rec.grp_active[-1].sum(0)
    )


def run(
    network: NetworkLike, n: int, steps: int = 24, seed: int = 0, driver: str = "loop"
) -> dict[str, float]:
    """One run of the reference model: grade shares, list size, C and D restrictions running."""
    return execute(simulation(network, n, steps, seed), driver)


def timed(
    network: NetworkLike, n: int, steps: int, seed: int = 0, driver: str = "loop"
) -> dict[str, Any]:
    """One timed run: setup (population, scheme, tables) and the ``steps`` apart."""
    clock = time.perf_counter()
    sim = simulation(network, n, steps, seed)
    setup = time.perf_counter() - clock
    clock = time.perf_counter()
    out = execute(sim, driver)
    seconds = time.perf_counter() - clock
    return {
        "outcomes": out,
        "setup_s": setup,
        "run_s": seconds,
        "agent_steps_per_s": n * steps / seconds,
    }


def warm_up() -> None:
    """Compile (or load from cache) every kernel the runs use, on a tiny network."""
    from reference_network import draw

    arrays = draw(500)
    for driver in ("loop", "simulation"):
        run(arrays, 500, 2, 0, driver)


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("network", help="a .npz file written by reference_network.py")
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--driver", choices=("loop", "simulation"), default="loop")
    a = p.parse_args()
    arrays = load_network(a.network)
    warm_up()
    r = timed(arrays, len(arrays[0]) - 1, a.steps, a.seed, a.driver)
    print(r)
