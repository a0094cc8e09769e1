"""Sweep throughput: runs per minute at 100,000 people, on Dask against one process.

The same sweep (a random design over camera reach, false-match rate and deterrence, the default
scenario at 100,000 people over 5 years) runs three ways, each timed from the call to the last
result in the DuckDB file:

- ``serial``: one by one in this process (no Dask; numba uses every core inside each run);
- ``serial, 1 thread``: the same with numba on one thread, the cost of a run on one core;
- ``dask, warm``: on a LocalCluster of W single-threaded workers started beforehand and warmed up
  with one tiny run each (compiled kernels loaded), as on a cluster that is already up;
- ``dask, cold``: ``run_sweep(workers=W)``, which starts and closes its own LocalCluster, as
  ``scslab sweep`` does.

Each is repeated, the first three interleaved so that a change in the machine's load hits them
alike; medians are printed with the per-run seconds the workers report, and the cost of starting
the cluster (cold minus warm).

    .venv/bin/python benchmarks/sweep.py [--agents 100000] [--runs 16] [--workers 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

import duckdb
import numba

from scslab.sweep import Sweep, run_sweep

SPEC = """\
base:
  panel: 0
  population:
    agents: {agents}
parameters:
  observation.camera_reach: {{range: [0.5, 20]}}
  observation.camera_false_match_rate: {{range: [0, 0.05]}}
  adaptation.deterrence.elasticity: {{range: [0, 3]}}
design: {{kind: random, samples: {runs}, seed: {seed}}}
"""


def sweep(agents: int, runs: int, seed: int) -> Sweep:
    return Sweep.from_text(SPEC.format(agents=agents, runs=runs, seed=seed), source="bench.yaml")


def per_run_seconds(database: Path) -> float:
    con = duckdb.connect(str(database), read_only=True)
    try:
        row = con.execute("SELECT median(seconds) FROM runs WHERE status = 'complete'").fetchone()
    finally:
        con.close()
    assert row is not None
    return float(row[0])


def timed(plan: Sweep, folder: Path, **how: object) -> tuple[float, float]:
    clock = time.perf_counter()
    report = run_sweep(plan, folder, **how)  # type: ignore[arg-type]
    wall = time.perf_counter() - clock
    assert report.complete and report.outcome.done == len(plan.runs), report.outcome
    return wall, per_run_seconds(report.database)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    def warm_up() -> None:
        """Compile (or load) the kernels in this process: one tiny run."""
        with tempfile.TemporaryDirectory() as folder:
            run_sweep(sweep(2000, 1, 0), folder, serial=True)

    warm_up()

    results: dict[str, list[tuple[float, float]]] = {
        how: [] for how in ("serial", "serial, 1 thread", "dask, warm", "dask, cold")
    }
    with tempfile.TemporaryDirectory() as tmp:
        with LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": ":0"},  # its HTTP server on a free port
            memory_limit=0,
            silence_logs=logging.ERROR,
            env={"NUMBA_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // args.workers))},
        ) as cluster:
            with Client(cluster) as client:
                client.run(warm_up)
            for k in range(args.repeats):
                # a fresh design (seed) each repeat, so that nothing is skipped
                plan = sweep(args.agents, args.runs, seed=k)
                results["serial"].append(timed(plan, Path(tmp) / f"serial{k}", serial=True))
                threads = numba.get_num_threads()
                numba.set_num_threads(1)
                one = timed(plan, Path(tmp) / f"one{k}", serial=True)
                results["serial, 1 thread"].append(one)
                numba.set_num_threads(threads)
                address = cluster.scheduler_address
                results["dask, warm"].append(timed(plan, Path(tmp) / f"warm{k}", cluster=address))
        for k in range(args.repeats):
            plan = sweep(args.agents, args.runs, seed=k)
            results["dask, cold"].append(timed(plan, Path(tmp) / f"cold{k}", workers=args.workers))

    cores = os.cpu_count()
    print(
        f"\n{args.runs} runs of {args.agents:,} people × 60 months, {args.repeats} repeats, "
        f"{cores} cores, {args.workers} workers"
    )
    print(f"{'how':<17} {'wall s (min/median/max)':>24} {'runs/min':>9} {'s per run':>10}")
    base = statistics.median(w for w, _ in results["serial"])
    for how, rows in results.items():
        walls = sorted(w for w, _ in rows)
        median = statistics.median(walls)
        per_run = statistics.median(s for _, s in rows)
        print(
            f"{how:<17} {walls[0]:6.2f} / {median:6.2f} / {walls[-1]:6.2f} "
            f"{60 * args.runs / median:9.1f} {per_run:10.3f}   ×{base / median:.2f} serial"
        )
    cold = statistics.median(w for w, _ in results["dask, cold"])
    warm = statistics.median(w for w, _ in results["dask, warm"])
    print(f"starting and closing a LocalCluster: {cold - warm:.1f} s; load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
