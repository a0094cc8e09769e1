"""A layered run unsharded and in 2 shards, side by side: ``patchwork-2018``.

Runs ``patchwork-2018`` as built in (the court's list everywhere with its public shaming, Sesame
in three regions with its network rule and its links to the court's list, Rongcheng in the
towns, a network of mean degree 20) at ``--agents`` people for ``--months``. It times the whole
``run_layered`` (months and results written), unsharded and in 2 shards on a local Dask cluster
of 2 workers started beforehand (its start-up is not counted), alternating which goes first, and
checks that every layer's tables are the same. Prints each repeat, the medians and their ratio.

    .venv/bin/python benchmarks/layered_shards.py [--agents 200000] [--months 12] [--repeats 3]

Months of history are left out (``--history 0``) unless asked for: ``--history -1`` keeps each
scheme's own (Sesame's 240 months).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from scslab.engine.scenario import Scenario, load_scenario


def scenario(agents: int, months: int, history: int) -> Scenario:
    """patchwork-2018 at ``agents`` people for ``months`` (with ``history`` months of history;
    negative: each scheme's own)."""
    data = load_scenario("patchwork-2018").model_dump(by_alias=True)
    data["population"]["agents"] = agents
    data["years"] = months / 12
    if history >= 0:
        data["history_months"] = history
    return Scenario.model_validate(data)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--agents", type=int, default=200_000)
    p.add_argument("--months", type=int, default=12)
    p.add_argument("--history", type=int, default=0)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()

    from distributed import LocalCluster

    from scslab.engine.layers import LayeredSimulation
    from scslab.layered import run_layered

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers import tables

    work = Path(tempfile.mkdtemp(prefix="layered-shards-"))
    try:
        tiny = scenario(2000, 2, 0)
        big = scenario(args.agents, args.months, args.history)
        with LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster:
            address = cluster.scheduler_address

            def run(sc: Scenario, out: Path, shards: int) -> float:
                shutil.rmtree(out, ignore_errors=True)
                lsim = LayeredSimulation(sc)
                t0 = time.perf_counter()
                done = run_layered(
                    lsim, out, **({"shards": 2, "cluster": address} if shards > 1 else {})
                )
                seconds = time.perf_counter() - t0
                for r in done.values():
                    r.close()
                return seconds

            run(tiny, work / "warm1", 1)  # compile, and start the workers' kernels
            run(tiny, work / "warm2", 2)
            times: dict[str, list[float]] = {"unsharded": [], "2 shards": []}
            outs = {"unsharded": work / "one", "2 shards": work / "two"}
            names = list(times)
            for i in range(args.repeats):
                for name in names if i % 2 == 0 else names[::-1]:
                    s = run(big, outs[name], 1 if name == "unsharded" else 2)
                    times[name].append(s)
                    print(f"  repeat {i}: {name}: {s:.1f} s", flush=True)
            for ls in LayeredSimulation(big).layers:
                a = tables(outs["unsharded"] / "layers" / ls.id / "results.duckdb")
                b = tables(outs["2 shards"] / "layers" / ls.id / "results.duckdb")
                assert a == b, f"layer {ls.id}: the sharded tables differ"
        med = {n: float(np.median(v)) for n, v in times.items()}
        print(
            f"patchwork-2018, {args.agents:,} people, {args.months} months, "
            f"history {args.history if args.history >= 0 else 'of each scheme'}, "
            f"{os.cpu_count()} cores:"
        )
        for n in names:
            each = ", ".join(f"{x:.1f}" for x in times[n])
            print(f"  {n:10s} {med[n]:7.1f} s (median; repeats: {each})")
        print(f"  2 shards / unsharded: {med['2 shards'] / med['unsharded']:.2f}")
        print("  every layer's tables the same: yes")
        print(f"  load {os.getloadavg()[0]:.1f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
