"""A month of ``patchwork-2018`` (three layers) against a month of its court layer alone.

Builds ``patchwork-2018`` at ``--agents`` people, and beside it the same scenario with its
first layer only (``spc``: the defaulter list everywhere, the same population and network), then
times month ``t`` of each in turn, month after month, alternating which goes first so that a
load that comes and goes falls on both alike. Prints the median month of each, their ratio, each
layer's step's seconds a month (the part of the month that draws and scores the acts), each
layer's people, and the peak memory of the process.

    .venv/bin/python benchmarks/patchwork.py [--agents 10000000] [--months 3] [--threads 2]

Both runs are held in memory at once (about 4.3 GiB and 2 GiB at 10,000,000 people).
"""

from __future__ import annotations

import os
import resource
import time
from typing import TYPE_CHECKING

from in_turn import medians, months_in_turn, options

if TYPE_CHECKING:
    from scslab.engine.layers import LayeredRun
    from scslab.engine.simulation import MonthPart


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
    steps = {n: timed_steps(r) for n, r in runs.items()}
    names = list(runs)
    times = months_in_turn({n: r.advance for n, r in runs.items()}, args.months)
    med = medians(times)
    print(f"{args.agents:,} people, {args.months} months, {args.threads} thread(s):")
    for n in names:
        each = ", ".join(f"{x:.2f}" for x in times[n])
        print(f"  {n:28s} {med[n]:7.2f} s a month (median; months: {each})")
        mean = (f"{lid} {sum(v) / len(v):.2f}" for lid, v in steps[n].items() if v)
        print("    each layer's step, s a month (mean): " + ", ".join(mean))
    print(f"  3 layers / 1 layer: {med[names[0]] / med[names[1]]:.2f}")
    for ls in runs[names[0]].lsim.layers:
        print(f"  layer {ls.id}: {ls.sim.agents:,} people")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"  peak memory {peak:.1f} GiB; load {os.getloadavg()[0]:.1f}")


def timed_steps(run: LayeredRun) -> dict[str, list[float]]:
    """Time each layer's ``step`` part from now on: its seconds each month, by layer id."""
    out: dict[str, list[float]] = {}
    for ls, r in zip(run.lsim.layers, run.runs, strict=True):
        seconds = out.setdefault(ls.id, [])
        for k, (name, part) in enumerate(r.month):
            if name == "step":
                r.month[k] = (name, clocked(part, seconds))
    return out


def clocked(part: MonthPart, seconds: list[float]) -> MonthPart:
    """``part``, adding its seconds to ``seconds`` each time it runs."""

    def timed(k: int, t: int | None) -> None:
        t0 = time.perf_counter()
        part(k, t)
        seconds.append(time.perf_counter() - t0)

    return timed


if __name__ == "__main__":
    main()
