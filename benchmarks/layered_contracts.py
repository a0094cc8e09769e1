"""A month of ``patchwork-2018`` with the contract game against the same month without it.

Builds ``patchwork-2018`` at ``--agents`` people twice, the same population, network and layers,
one with ``contracts: {enabled: true}`` (as ``scslab run patchwork-2018 --contracts``: one game
for the whole run, played before the three layers' steps), then times month ``t`` of each in
turn, month after month, alternating which goes first so that a load that comes and goes falls on
both alike. Prints the median month of each, their ratio, and the share of contracts kept.

    .venv/bin/python benchmarks/layered_contracts.py [--agents 200000] [--months 6] [--threads 2]
"""

from __future__ import annotations

import os
import time

from in_turn import medians, months_in_turn, options


def main() -> None:
    args = options(__doc__, agents=200_000, months=6, threads="2")

    from scslab.engine.layers import LayeredSimulation
    from scslab.engine.scenario import Scenario, load_scenario

    def scenario(n: int, contracts: bool) -> Scenario:
        sc = load_scenario("patchwork-2018")
        data = sc.model_dump(by_alias=True)
        data["population"]["agents"] = n
        data["years"] = args.months / 12
        data["history_months"] = 0
        for layer in data["layers"]:  # a layer's own history too (the court's 15 months)
            layer["history_months"] = None
        data["contracts"]["enabled"] = contracts
        return Scenario.model_validate(data)

    LayeredSimulation(scenario(2000, True)).execute()  # compile on a tiny run first
    clock = time.perf_counter()
    runs = {
        "with contracts": LayeredSimulation(scenario(args.agents, True)).start(),
        "without": LayeredSimulation(scenario(args.agents, False)).start(),
    }
    print(f"set up both in {time.perf_counter() - clock:.0f} s")
    names = list(runs)
    times = months_in_turn({n: r.advance for n, r in runs.items()}, args.months)
    med = medians(times)
    print(
        f"patchwork-2018, {args.agents:,} people, {args.months} months, {args.threads} thread(s):"
    )
    for n in names:
        each = ", ".join(f"{x:.2f}" for x in times[n])
        print(f"  {n:16s} {med[n]:7.3f} s a month (median; months: {each})")
    print(f"  with / without: {med[names[0]] / med[names[1]]:.3f}")
    played = runs[names[0]]
    for ls, run in zip(played.lsim.layers, played.runs, strict=True):
        e = run.record.extra
        made = int(e["contracts"].sum())
        kept, base = (
            int(e[k].sum()) / made for k in ("contracts_kept", "contracts_kept_without_scheme")
        )
        print(
            f"  layer {ls.id}: {made:,} contracts, kept {kept:.1%} ({base:.1%} without the scheme)"
        )
    print(f"  load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
