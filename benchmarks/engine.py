"""Engine benchmark: 1,000,000 people, Rongcheng, 5 years of monthly steps, no network.

Prints agent-steps per second (the month alone, through `Simulation.start().advance`, and the
engine bytes per person (state columns only), then checks that 10 million people fit by running
a few months at that size. Results go to benchmarks/RESULTS.md by hand, with the machine noted.

    .venv/bin/python benchmarks/engine.py [--agents N] [--years Y] [--big N]
    .venv/bin/python benchmarks/engine.py --scheme sesame-credit --network
"""

from __future__ import annotations

import argparse
import resource
import time

import numba
import numpy as np

from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation
from scslab.population import NetworkSpec, PopulationSpec


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def measure(agents: int, years: float, scheme: str, network: bool) -> dict[str, float]:
    def scenario(n: int, y: float) -> Scenario:
        return Scenario(
            scheme=scheme,
            population=PopulationSpec(agents=n),
            years=y,
            panel=1000,
            network=NetworkSpec() if network else None,
        )

    sim = Simulation(scenario(agents, years))
    clock = time.perf_counter()
    pop = sim.population()
    built = time.perf_counter() - clock
    # warm-up: compile on a tiny run of the same types
    Simulation(scenario(1000, 1 / 12)).execute()

    stamps: list[float] = []
    start = time.perf_counter()
    sim.execute(lambda done, total: stamps.append(time.perf_counter()))
    whole = np.diff([start, *stamps])

    # the month alone: the same run, driven step by step, without the per-month assortativity
    run = sim.start()
    kernel = []
    for t in range(sim.scenario.steps):
        t0 = time.perf_counter()
        run.advance(t, assortativity=False)
        kernel.append(time.perf_counter() - t0)
    state = run.state
    state_bytes = sum(a.nbytes for a in state) / pop.n
    return {
        "agents": agents,
        "steps": sim.scenario.steps,
        "month_agent_steps_per_s": agents / float(np.median(kernel)),
        "step_agent_steps_per_s": agents / float(np.median(whole)),
        "state_bytes_per_person": state_bytes,
        "trait_bytes_per_person": pop.nbytes / pop.n,
        "estimate_gib": sim.estimate_memory() / 2**30,
        "peak_gib": peak_gib(),
        "population_seconds": built,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--agents", type=int, default=1_000_000)
    p.add_argument("--years", type=float, default=5)
    p.add_argument("--big", type=int, default=10_000_000, help="people for the memory check")
    p.add_argument("--scheme", default="rongcheng-2014")
    p.add_argument("--network", action="store_true", help="draw friendships (mean degree 20)")
    args = p.parse_args()
    print(f"numba threads: {numba.get_num_threads()}")
    for agents, years in ((args.agents, args.years), (args.big, 3 / 12)):
        r = measure(agents, years, args.scheme, args.network)
        print(
            f"{r['agents']:>11,} people x {r['steps']} months: "
            f"month {r['month_agent_steps_per_s'] / 1e6:6.1f} M agent-steps/s (median), "
            f"whole step {r['step_agent_steps_per_s'] / 1e6:6.1f} M/s, "
            f"state {r['state_bytes_per_person']:.0f} B + "
            f"traits {r['trait_bytes_per_person']:.0f} B per person, "
            f"estimate {r['estimate_gib']:.2f} GiB, peak RSS {r['peak_gib']:.2f} GiB, "
            f"population drawn in {r['population_seconds']:.1f} s"
        )


if __name__ == "__main__":
    main()
