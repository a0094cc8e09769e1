"""How long the assumption ledger takes: Morris screening of every assumed number of a scenario,
then Sobol on the top ones (``scslab assumptions``), with the wall time of each phase.

    .venv/bin/python benchmarks/assumptions.py --agents 20000 --trajectories 4

Figures go in benchmarks/RESULTS.md ("The assumption ledger").
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from scslab.engine.scenario import load_scenario
from scslab.sweep.ledger import Sizes, build_ledger


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scenario", default="suining-2010")
    ap.add_argument("--agents", type=int, default=20_000)
    ap.add_argument("--trajectories", type=int, default=4)
    ap.add_argument("--sobol-samples", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--years", type=float, default=None, help="default: the ledger's")
    ap.add_argument(
        "--out", default=None, help="keep the ledger here (default: a temporary folder)"
    )
    args = ap.parse_args()
    phases: dict[str, list[float]] = {}
    clock = time.perf_counter()

    def progress(phase: str, done: int, total: int) -> None:
        now = time.perf_counter() - clock
        span = phases.setdefault(phase, [now, now, 0])
        span[1], span[2] = now, total

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out or scratch
        ledger = build_ledger(
            load_scenario(args.scenario),
            out,
            name=args.scenario,
            sizes=Sizes(
                agents=args.agents,
                years=args.years,
                trajectories=args.trajectories,
                sobol_samples=args.sobol_samples,
            ),
            workers=args.workers,
            progress=progress,
        )
    print(
        f"{args.scenario}, {args.agents:,} people, {ledger['horizon']}, "
        f"{len(ledger['factors'])} factors varied ({len(ledger['fixed'])} fixed), "
        f"{args.workers} worker(s), load average {load:.1f} at the start -> "
        f"{os.getloadavg()[0]:.1f} at the end"
    )
    for phase, (start, end, total) in phases.items():
        print(f"  {phase:16s} {int(total):5d} runs  {end - start:7.1f} s")
    print(f"  total            {ledger['seconds']:.1f} s")
    for output, entry in ledger["outputs"].items():
        top = entry.get("ranking", [])[:3]
        shown = ", ".join(
            f"{r['path']} {r['share_of_effects']:.0%} of effects"
            + (f", S1 {r['S1']:.2f} ST {r['ST']:.2f}" if r.get("S1") is not None else "")
            for r in top
        )
        print(f"  {output} = {entry['value']}: {entry.get('not_ranked') or shown}")


if __name__ == "__main__":
    main()
