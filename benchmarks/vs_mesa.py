"""scslab against Mesa on the reference model (benchmarks/REFERENCE.md), side by side in one run.

Both implementations run the same model on the same network file (100,000 people by default),
alternating scslab, Mesa, scslab, Mesa, ... so that a slow spell on a noisy machine hits both.
Each is warmed up once first (scslab compiles its kernels; Mesa imports and builds a small model).

**Speed** is agent-steps per second over the steps of one whole run, data collection included,
building the model excluded (reported apart as setup): ``N x steps / seconds``. scslab runs the
full 24 steps; Mesa fewer by default (``--mesa-steps``), since its cost per agent-step does not
depend on the month. Each repeat gives one ratio scslab / Mesa from a back-to-back pair; the
ratio is reported as min, median and max over repeats. scslab is timed through its public API,
``Simulation.execute()``, which also computes the ties' score assortativity every step (work the
reference model does not ask for), and through the bare step loop (``scslab_reference``,
``driver="loop"``); the JSON reports the public API.

**Memory** is measured in fresh subprocesses, one per implementation and method, so that neither
run's heap, compiled code or allocator caches count against the other:

- *peak RSS*: imports done, a tiny warm-up run made (kernels compiled) and the allocator's free
  memory handed back to the OS (``malloc_trim``), the child notes its resident set size, resets
  the kernel's peak mark (``/proc/self/clear_refs``), loads the network, builds the model, runs
  the steps, and reads the peak (``VmHWM``). (peak - before) / N is the peak memory per agent:
  agents, network (scslab's CSR arrays; Mesa's tuples of friends, built from the loaded arrays)
  and every temporary, as the OS sees it.
- *tracemalloc*: the same in another child under ``tracemalloc``, whose peak counts Python objects
  and numpy buffers (numpy reports its allocations to tracemalloc), without allocator slack;
  a cross-check. It slows Mesa down, so it runs two steps only, and ``--quick`` skips it.

    .venv/bin/python benchmarks/vs_mesa.py                   # 100,000 people, 5 pairs of runs
    .venv/bin/python benchmarks/vs_mesa.py --quick           # under a minute
    .venv/bin/python benchmarks/vs_mesa.py --quick --json    # one JSON line on stdout
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np
from mesa import __version__ as mesa_version

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import mesa_reference  # noqa: E402
import scslab_reference  # noqa: E402
from reference_network import draw, load_network, save_network  # noqa: E402


def log(msg: str, quiet: bool) -> None:
    """Progress and tables go to stderr under --json, so stdout holds the JSON alone."""
    print(msg, file=sys.stderr if quiet else sys.stdout, flush=True)


# ------------------------------------------------------------------------------------------------
# memory, in a child process


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _trim() -> None:
    """Hand the allocator's free memory back to the OS (glibc), so that RSS is what is held:
    otherwise a later allocation can reuse pages freed by the warm-up and go uncounted."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux 4.0+: write 5 to clear_refs); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def _peak() -> int:
    """The peak RSS since the last reset (VmHWM), in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_child(which: str, network: str, steps: int, method: str) -> dict[str, float]:
    """Run in a fresh process: bytes per agent of one whole run of ``which`` (see module doc)."""
    import tracemalloc

    if which == "scslab":
        scslab_reference.warm_up()
    else:
        tiny = draw(300)
        mesa_reference.run(tiny, 300, 2, 0)
        del tiny
    _trim()
    before = _rss()
    if not _reset_peak():  # then the peak may predate the run (compilation): say so
        print("vs_mesa: cannot reset the peak RSS; the figure is an upper bound", file=sys.stderr)
    if method == "tracemalloc":
        tracemalloc.start()
    indptr, indices = load_network(network)
    n = len(indptr) - 1
    if which == "scslab":
        sim = scslab_reference.simulation((indptr, indices), n, steps, 0)
        del indptr, indices  # the population holds the network now
        scslab_reference.execute(sim, "simulation")
    else:
        model = mesa_reference.ReferenceModel(indptr, indices, 0)
        del indptr, indices  # the agents hold their friends now
        for _ in range(steps):
            model.step()
    out: dict[str, float] = {"agents": n}
    if method == "tracemalloc":
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out["bytes_per_agent"] = peak / n
    else:
        peak = _peak()
        out["bytes_per_agent"] = (peak - before) / n
        out["end_bytes_per_agent"] = (_rss() - before) / n
    return out


def measure_memory(which: str, network: Path, steps: int, method: str) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--memory-child", which, str(network), str(steps), method]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory child {which} {method} failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ------------------------------------------------------------------------------------------------
# speed, alternating in this process


def compare(args: argparse.Namespace) -> dict[str, Any]:
    quiet = args.json
    n = args.agents
    with tempfile.TemporaryDirectory() as tmp:
        network = Path(tmp) / f"reference-{n}.npz"
        clock = time.perf_counter()
        save_network(network, *draw(n))
        arrays = load_network(network)
        drawn = time.perf_counter() - clock

        scslab_reference.warm_up()  # compile, or load the compiled kernels from the cache
        scslab_reference.run(arrays, n, 2, 0, "simulation")
        mesa_reference.timed(arrays, n, 1, 0)
        log(
            f"network: {n:,} people, {len(arrays[1]):,} half-ties, drawn and saved in "
            f"{drawn:.1f} s; numba threads {numba.get_num_threads()} "
            f"({numba.threading_layer()}); load average {os.getloadavg()[0]:.2f}",
            quiet,
        )

        rows: list[dict[str, float]] = []
        for rep in range(args.repeats):
            a = scslab_reference.timed(arrays, n, args.steps, rep, "simulation")
            lp = scslab_reference.timed(arrays, n, args.steps, rep, "loop")
            b = mesa_reference.timed(arrays, n, args.mesa_steps, rep)
            row = {
                "scslab": a["agent_steps_per_s"],
                "scslab_loop": lp["agent_steps_per_s"],
                "mesa": b["agent_steps_per_s"],
                "scslab_setup_s": a["setup_s"],
                "mesa_setup_s": b["setup_s"],
            }
            row["ratio"] = row["scslab"] / row["mesa"]
            row["ratio_loop"] = row["scslab_loop"] / row["mesa"]
            rows.append(row)
            log(
                f"  pair {rep + 1}: scslab {row['scslab'] / 1e6:7.2f} M/s (loop "
                f"{row['scslab_loop'] / 1e6:6.2f}), Mesa {row['mesa'] / 1e6:6.3f} M/s, "
                f"ratio {row['ratio']:6.0f} (loop {row['ratio_loop']:5.0f}); setup "
                f"{row['scslab_setup_s']:.2f} s / {row['mesa_setup_s']:.2f} s",
                quiet,
            )

        mem: dict[str, dict[str, float]] = {}
        for which, steps in (("scslab", args.steps), ("mesa", args.mesa_steps)):
            mem[which] = measure_memory(which, network, steps, "rss")
            if not args.quick:
                mem[which + "_traced"] = measure_memory(
                    which, network, min(steps, 2), "tracemalloc"
                )

    def col(k: str) -> np.ndarray:
        return np.array([r[k] for r in rows])

    summary = {
        "ratio_median": float(np.median(col("ratio"))),
        "scslab_agent_steps_per_s": float(np.median(col("scslab"))),
        "mesa_agent_steps_per_s": float(np.median(col("mesa"))),
        "scslab_bytes_per_agent": mem["scslab"]["bytes_per_agent"],
        "mesa_bytes_per_agent": mem["mesa"]["bytes_per_agent"],
    }
    ratio, ratio_loop = col("ratio"), col("ratio_loop")

    def traced(which: str) -> str:
        key = which + "_traced"
        return f"{mem[key]['bytes_per_agent']:,.0f}" if key in mem else "-"

    log(
        f"\n{n:,} people; scslab {args.steps} steps, Mesa {args.mesa_steps} steps per run; "
        f"{args.repeats} pairs; load average now {os.getloadavg()[0]:.2f}\n"
        f"| | agent-steps/s (median) | peak B/agent (RSS) | B/agent at end (RSS) "
        f"| peak B/agent (tracemalloc) |\n|---|---:|---:|---:|---:|\n"
        f"| scslab, Simulation.execute | {summary['scslab_agent_steps_per_s']:,.0f} "
        f"| {mem['scslab']['bytes_per_agent']:,.0f} | {mem['scslab']['end_bytes_per_agent']:,.0f} "
        f"| {traced('scslab')} |\n"
        f"| scslab, step loop | {np.median(col('scslab_loop')):,.0f} | | | |\n"
        f"| Mesa {mesa_version} | {summary['mesa_agent_steps_per_s']:,.0f} "
        f"| {mem['mesa']['bytes_per_agent']:,.0f} | {mem['mesa']['end_bytes_per_agent']:,.0f} "
        f"| {traced('mesa')} |\n\n"
        f"ratio scslab / Mesa, Simulation.execute: min {ratio.min():,.0f}, median "
        f"{np.median(ratio):,.0f}, max {ratio.max():,.0f}\n"
        f"ratio scslab / Mesa, step loop:          min {ratio_loop.min():,.0f}, median "
        f"{np.median(ratio_loop):,.0f}, max {ratio_loop.max():,.0f}",
        quiet,
    )
    return summary


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        which, network, steps, method = sys.argv[2:6]
        print(json.dumps(memory_child(which, network, int(steps), method)))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--agents", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=5, help="pairs of runs (default 5)")
    p.add_argument("--steps", type=int, default=24, help="scslab steps per run (default 24)")
    p.add_argument("--mesa-steps", type=int, default=12, help="Mesa steps per run (default 12)")
    p.add_argument("--quick", action="store_true", help="3 pairs, 3 Mesa steps: under a minute")
    p.add_argument("--json", action="store_true", help="print only the summary JSON on stdout")
    p.add_argument("--threads", type=int, default=0, help="numba threads (default: numba's)")
    args = p.parse_args()
    if args.threads:
        numba.set_num_threads(args.threads)
    if args.quick:
        args.repeats, args.mesa_steps = 3, 3
    summary = compare(args)
    if args.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    main()
