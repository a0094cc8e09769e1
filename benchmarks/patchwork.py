"""A month of ``patchwork-2018`` (three layers) against a month of its court layer alone.

Builds ``patchwork-2018`` at ``--agents`` people, and beside it the same scenario with its
first layer only (``spc``: the defaulter list everywhere, the same population and network), then
times month ``t`` of each in turn, month after month, alternating which goes first so that a
load that comes and goes falls on both alike. Prints the median month of each, their ratio, each
layer's people, and the peak memory of the process.

    .venv/bin/python benchmarks/patchwork.py [--agents 10000000] [--months 3] [--threads 2]

Both runs are held in memory at once (about 4.3 GiB and 2 GiB at 10,000,000 people).
"""

from __future__ import annotations

import os
import resource
import time

from in_turn import medians, months_in_turn, options


def main() -> None:
    args = options(__doc__, agents=10_000_000, months=3, threads="2")

    from scslab.engine.layers import LayeredSimulation
    from scslab.engine.scenario import Scenario, load_scenario

    def scenario(n: int, layers: int | None) -> Scenario:
        sc = load_scenario("patchwork-2018")
        data = sc.model_dump(by_alias=True)
        data["population"]["agents"] = n
        data["years"] = args.months / 12
        data["history_months"] = 0
        for layer in data["layers"]:  # a layer's own history too (the court's 51 months)
            layer["history_months"] = None
        if layers is not None:
            data["layers"] = data["layers"][:layers]
        return Scenario.model_validate(data)

    LayeredSimulation(scenario(2000, None)).execute()  # compile on a tiny run first
    clock = time.perf_counter()
    runs = {
        "patchwork-2018 (3 layers)": LayeredSimulation(scenario(args.agents, None)).start(),
        "its spc layer alone": LayeredSimulation(scenario(args.agents, 1)).start(),
    }
    print(f"set up both in {time.perf_counter() - clock:.0f} s")
    names = list(runs)
    times = months_in_turn({n: r.advance for n, r in runs.items()}, args.months)
    med = medians(times)
    print(f"{args.agents:,} people, {args.months} months, {args.threads} thread(s):")
    for n in names:
        each = ", ".join(f"{x:.2f}" for x in times[n])
        print(f"  {n:28s} {med[n]:7.2f} s a month (median; months: {each})")
    print(f"  3 layers / 1 layer: {med[names[0]] / med[names[1]]:.2f}")
    for ls in runs[names[0]].lsim.layers:
        print(f"  layer {ls.id}: {ls.sim.agents:,} people")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"  peak memory {peak:.1f} GiB; load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
