"""The memory estimate against the peak RSS it predicts, on four kinds of run.

``Simulation.estimate_memory()`` is what ``scslab run`` checks against the machine's free memory
before anything is allocated, so it must not be far below the real peak. Each case runs in a
fresh subprocess (peaks never mix): the child builds the simulation, takes its estimate, runs it
to the end with the results written (``Simulation.run``), and reports its peak RSS
(``ru_maxrss``). The four cases are those issue 14 found the estimate low on, or that differ in
what they allocate:

- ``people``: the default scheme (Rongcheng) on people, with the default panel of 1,000;
- ``panel``: the same with the largest panel (100,000 people followed month by month);
- ``firms``: the corporate system, a firm run (firms, and the people's run inside it);
- ``network``: Sesame Credit on a friendship network (its network rule reads friends' scores);
- ``children``: the ``people`` case with children in households (``population.children``, the
  default shares): more rows, and everyone ages. Compare it with ``people`` per row and per adult.

    .venv/bin/python benchmarks/memory.py [--agents N] [--years Y] [--case NAME ...]

Figures go to benchmarks/RESULTS.md by hand, with the machine noted.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = ("people", "panel", "firms", "network", "children")


def scenario_for(case: str, agents: int, years: float) -> dict[str, object]:
    base: dict[str, object] = {"population": {"agents": agents}, "years": years, "panel": 1000}
    if case == "people":
        return {**base, "scheme": "rongcheng-2014"}
    if case == "panel":
        return {**base, "scheme": "rongcheng-2014", "panel": 100_000}
    if case == "firms":
        return {**base, "scheme": "corporate-scs"}
    if case == "network":
        return {**base, "scheme": "sesame-credit", "network": {}}
    if case == "children":
        population = {"agents": agents, "children": {}}
        return {**base, "scheme": "rongcheng-2014", "population": population}
    raise ValueError(case)


def child(case: str, agents: int, years: float, out: str) -> None:
    """In a fresh process: estimate, run, write the results, report the peak."""
    import resource
    import time

    from scslab.engine.scenario import Scenario
    from scslab.runs import Simulation

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    sim = Simulation(Scenario.model_validate(scenario_for(case, agents, years)))
    estimate = sim.estimate_memory()
    clock = time.perf_counter()
    sim.run(Path(out) / case).close()
    seconds = time.perf_counter() - clock
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "case": case,
                "agents": sim.agents,
                "rows": sim.population().n,
                "subjects": sim.subjects,
                "steps": sim.scenario.steps,
                "panel": sim.scenario.panel,
                "estimate": estimate,
                "peak": peak,
                "imports": baseline,
                "seconds": seconds,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=1_000_000, help="people (default 1 M)")
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--case", choices=CASES, nargs="*", default=list(CASES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.agents, args.years, args.out)
        return

    rows = []
    with tempfile.TemporaryDirectory() as out:
        for case in args.case:  # compile the kernels first: a compilation's peak is not a run's
            warm = [sys.executable, __file__, "--child", case, "--agents", "2000"]
            subprocess.run(
                [*warm, "--years", "0.1", "--out", f"{out}/warm"], check=True, capture_output=True
            )
        for case in args.case:
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    case,
                    "--agents",
                    str(args.agents),
                    "--years",
                    str(args.years),
                    "--out",
                    out,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(done.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)

    print(
        "| case | subjects | people | months | panel | estimate | peak RSS | estimate / peak "
        "| peak bytes per row | per adult |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        above = r["peak"] - r["imports"]  # what the run added to the interpreter and imports
        print(
            f"| {r['case']} | {r['rows']:,} {r['subjects']} | {args.agents:,} | {r['steps']} | "
            f"{r['panel']:,} | {r['estimate'] / 2**20:,.0f} MiB | {r['peak'] / 2**20:,.0f} MiB | "
            f"{r['estimate'] / r['peak']:.2f} | {above / r['rows']:.0f} | "
            f"{above / args.agents:.0f} |"
        )


if __name__ == "__main__":
    main()
