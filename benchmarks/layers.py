"""A month of a layered run against a month of one scheme, timed in rotation on a busy machine.

Builds, on the same code and the same population spec, one-, two- and three-layer runs
(``rongcheng-2014``, then ``defaulter-blacklist``, then ``suining-2010``, all everywhere) and each
of the three schemes run alone, then times month ``t`` of each in turn, month after month, in an
order that rotates so that a load that comes and goes falls on all alike. Prints the median month
of each, the ratios of the medians, and the state bytes per person each layer adds.

    .venv/bin/python benchmarks/layers.py [--agents 300000] [--months 12] [--threads 1]

No history (``history_months: 0``), so that the months timed are the run's own.
"""

from __future__ import annotations

import os
from functools import partial
from typing import Any

from in_turn import medians, months_in_turn, options

SCHEMES = ("rongcheng-2014", "defaulter-blacklist", "suining-2010")


def main() -> None:
    args = options(__doc__, agents=300_000, months=12, threads="1")

    from scslab.engine.compiled import ring_width, state_bytes_per_person
    from scslab.engine.layers import LayeredSimulation
    from scslab.engine.scenario import Scenario
    from scslab.engine.simulation import Simulation

    def scenario(n: int, schemes: tuple[str, ...] | str) -> Scenario:
        data: dict[str, Any] = {
            "population": {"agents": n},
            "years": args.months / 12,
            "panel": 1000,
            "history_months": 0,
        }
        if isinstance(schemes, str):
            data["scheme"] = schemes
        else:
            data["layers"] = [{"id": f"l{k}", "scheme": s} for k, s in enumerate(schemes)]
        return Scenario.model_validate(data)

    for s in SCHEMES:  # compile on tiny runs first
        Simulation(scenario(1000, s)).execute()
    LayeredSimulation(scenario(1000, SCHEMES)).execute()

    runs: dict[str, Any] = {}
    for k in (1, 2, 3):
        runs[f"{k} layer{'s' if k > 1 else ''}"] = LayeredSimulation(
            scenario(args.agents, SCHEMES[:k])
        ).start()
    for s in SCHEMES:
        runs[f"{s} alone"] = Simulation(scenario(args.agents, s)).start()
    names = list(runs)
    month = {
        n: partial(r.advance, assortativity=False) if n.endswith("alone") else r.advance
        for n, r in runs.items()
    }
    med = medians(months_in_turn(month, args.months))
    print(f"{args.agents:,} people, {args.months} months, {args.threads} thread(s):")
    for n in names:
        print(f"  {n:32s} {med[n] * 1e3:8.1f} ms a month (median)")
    one = med["1 layer"]
    alone = sum(med[f"{s} alone"] for s in SCHEMES)
    print(
        f"  2 layers / 1 layer: {med['2 layers'] / one:.2f}; 3 layers / 1 layer: "
        f"{med['3 layers'] / one:.2f}; 3 layers / the three schemes alone, summed: "
        f"{med['3 layers'] / alone:.3f}; 1 layer / {SCHEMES[0]} alone: "
        f"{one / med[f'{SCHEMES[0]} alone']:.3f}"
    )
    for s, ls in zip(SCHEMES, runs["3 layers"].lsim.layers, strict=True):
        sim = ls.sim
        state = state_bytes_per_person(sim.layout, ring_width(sim.arrays), sim.arrays)
        print(f"  layer {s}: {state} bytes of state per person")
    print(f"  load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
