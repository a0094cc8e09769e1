"""The month before and after a change, timed in pairs on a busy machine.

Two worker processes hold the same run, one on each version of the code (two checkouts, e.g.
``git worktree add /tmp/before COMMIT``). The driver has them do month ``t`` one after the other,
never at once, in the order ABBA (before, after; then after, before), so that a load that comes
and goes falls on both alike. It prints the median month of each in agent-steps per second, the
ratio of the medians (after / before: above 1 is slower) and the median of the per-month ratios.

    .venv/bin/python benchmarks/paired.py /tmp/before/src /tmp/after/src \\
        [--scheme rongcheng-2014] [--agents 1000000] [--months 36] [--threads 2] \\
        [--network] [--no-history]

``--network`` gives the population the default friendship network (schemes with network rules,
such as sesame-credit, need one); ``--no-history`` starts at month 0 without the scheme's
``history_months`` (sesame-credit's 240 months would take longer than the benchmark itself).

``--scheme-after FILE`` has the "after" side run another scheme (a built-in's name or an absolute
path: the workers run from /) on the same code: give the same src twice to time a month with a
construct against one without it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np


def worker(
    scheme: str, agents: int, months: int, network: bool = False, history: bool = True
) -> None:
    """Build the run, compile on a tiny one, then do the month named on each line of stdin."""
    from scslab.engine.scenario import Scenario
    from scslab.engine.simulation import Simulation
    from scslab.population import PopulationSpec
    from scslab.population.network import NetworkSpec

    def scenario(n: int, years: float) -> Scenario:
        extra: dict[str, object] = {"network": NetworkSpec()} if network else {}
        if not history:
            extra["history_months"] = 0
        return Scenario(
            scheme=scheme,
            population=PopulationSpec(agents=n),
            years=years,
            panel=1000,
            **extra,  # type: ignore[arg-type]
        )

    Simulation(scenario(1000, 1 / 12)).execute()
    run = Simulation(scenario(agents, months / 12)).start()
    print("ready", flush=True)
    for line in sys.stdin:
        t0 = time.perf_counter()
        run.advance(int(line), assortativity=False)
        print(time.perf_counter() - t0, flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("before", help="the src folder of the code before the change")
    p.add_argument("after", help="the src folder of the code after it")
    p.add_argument("--scheme", default="rongcheng-2014")
    p.add_argument("--scheme-after", default=None, help="the after side's scheme, if another")
    p.add_argument("--agents", type=int, default=1_000_000)
    p.add_argument("--months", type=int, default=36)
    p.add_argument("--threads", default="2")
    p.add_argument("--network", action="store_true", help="a friendship network")
    p.add_argument("--no-history", action="store_true", help="no months before month 0")
    args = p.parse_args()
    procs = {}
    schemes = {"before": args.scheme, "after": args.scheme_after or args.scheme}
    for side, src in (("before", args.before), ("after", args.after)):
        env = {**os.environ, "PYTHONPATH": src, "NUMBA_NUM_THREADS": args.threads}
        scheme = schemes[side]
        procs[side] = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                scheme,
                str(args.agents),
                str(args.months),
                str(int(args.network)),
                str(int(not args.no_history)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd="/",  # so that neither imports the other's scslab from the working folder
        )
    for proc in procs.values():
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    times: dict[str, list[float]] = {"before": [], "after": []}
    for t in range(args.months):
        for side in ("before", "after") if t % 2 == 0 else ("after", "before"):
            proc = procs[side]
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(f"{t}\n")
            proc.stdin.flush()
            times[side].append(float(proc.stdout.readline()))
    for proc in procs.values():
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    b, a = np.array(times["before"]), np.array(times["after"])
    rate_b, rate_a = (args.agents / np.median(x) / 1e6 for x in (b, a))
    print(
        f"{' / '.join(dict.fromkeys(schemes.values()))}, {args.agents:,} people, "
        f"{args.months} months, {args.threads} threads: "
        f"before {rate_b:.1f}, after {rate_a:.1f} "
        f"M agent-steps/s (medians); after / before: {np.median(a) / np.median(b):.3f} (medians), "
        f"{np.median(a / b):.3f} (median of paired months); load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        extra = [bool(int(x)) for x in sys.argv[5:7]]
        worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), *extra)
    else:
        main()
