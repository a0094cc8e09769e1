"""scslab alone on the reference model (benchmarks/REFERENCE.md) from 10**4 to 10**8 people.

For each size, in a fresh subprocess (so that each peak is that size's own): draw the reference
network (mean degree 10, homophily 0.7, tail 2.5, seed 1) in memory with the same function that
``reference_network.py`` saves to a file, warm up, then time whole runs with scslab's bare step
loop (``scslab_reference``, ``driver="loop"``) and, up to 10**7, through ``Simulation.execute()``
(which adds a score-assortativity pass over the ties every step). Speed is agent-steps per second
over the steps, setup excluded. Memory is the peak RSS per agent as the kernel reports it (VmHWM,
reset after the warm-up; network build and runs included, so the build's temporaries usually set
it), and the bytes a run holds per agent, counted from its arrays (state columns, traits, network,
the low-score bits). 10**8 people are tried only if the 10**7 child's whole peak, scaled, fits in
90 % of the memory available; otherwise the estimate is printed and the size skipped.

Writes ``benchmarks/scaling.png`` and prints a Markdown table.

    .venv/bin/python benchmarks/scaling.py [--sizes 10000 100000 1000000 10000000 100000000]
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

#: Steps per run by size: whole runs where cheap, fewer where a step takes seconds.
STEPS = {10**4: 24, 10**5: 24, 10**6: 24, 10**7: 12, 10**8: 6}


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def child(n: int, steps: int, execute: bool, threads: int) -> dict[str, Any]:
    """One size, in this (fresh) process."""
    import numba

    if threads:
        numba.set_num_threads(threads)
    import scslab_reference
    from reference_network import draw
    from scslab.engine.compiled import state_bytes_per_person

    scslab_reference.warm_up()
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)  # free heap back to the OS: RSS is what is held
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak mark: the warm-up's peak is not this size's
    base = _status("VmRSS")
    clock = time.perf_counter()
    arrays = draw(n)
    built = time.perf_counter() - clock
    out: dict[str, Any] = {
        "agents": n,
        "steps": steps,
        "threads": numba.get_num_threads(),
        "network_s": built,
        "mean_degree": float(len(arrays[1]) / n),
    }
    loop = scslab_reference.timed(arrays, n, steps, 0, "loop")
    out["loop_agent_steps_per_s"] = loop["agent_steps_per_s"]
    out["setup_s"] = loop["setup_s"]
    if execute:
        sim = scslab_reference.timed(arrays, n, steps, 0, "simulation")
        out["execute_agent_steps_per_s"] = sim["agent_steps_per_s"]
    out["whole_peak_bytes_per_agent"] = (_status("VmHWM") - base) / n
    # what a run holds per agent, counted from the arrays: state columns, traits, network, bits
    tiny = scslab_reference.simulation(draw(100), 100, 1, 0)
    network = (arrays[0].nbytes + arrays[1].nbytes) / n
    out["network_bytes_per_agent"] = network
    out["held_bytes_per_agent"] = (
        state_bytes_per_person(tiny.layout) + tiny.population().nbytes / 100 + network + 1 / 8
    )
    out["load_average"] = os.getloadavg()[0]
    return out


def run_child(n: int, steps: int, execute: bool, threads: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", str(n), str(steps), str(int(execute)), str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"size {n:,} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def plot(rows: list[dict[str, Any]], path: Path, skipped: dict[int, float]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [r["agents"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.plot(n, [r["loop_agent_steps_per_s"] / 1e6 for r in rows], "o-", label="step loop")
    ex = [r for r in rows if "execute_agent_steps_per_s" in r]
    if ex:
        left.plot(
            [r["agents"] for r in ex],
            [r["execute_agent_steps_per_s"] / 1e6 for r in ex],
            "s--",
            label="Simulation.execute (adds assortativity)",
        )
    left.set_xscale("log")
    left.set_ylim(bottom=0)
    left.set_xlabel("agents (people)")
    left.set_ylabel("speed (million agent-steps per second)")
    left.set_title("Speed")
    left.grid(True, which="both", alpha=0.3)
    left.legend()
    right.plot(
        n,
        [r["whole_peak_bytes_per_agent"] for r in rows],
        "o-",
        label="peak RSS: network build and run",
    )
    right.plot(
        n,
        [r["held_bytes_per_agent"] for r in rows],
        "s--",
        label="held by a run (state, traits, network), counted",
    )
    right.set_xscale("log")
    right.set_ylim(bottom=0)
    right.set_xlabel("agents (people)")
    right.set_ylabel("peak resident memory (bytes per agent)")
    right.set_title("Peak memory")
    right.grid(True, which="both", alpha=0.3)
    right.legend()
    threads = rows[0]["threads"] if rows else 0
    note = ""
    if skipped:
        note = "; skipped: " + ", ".join(
            f"{k:.0e} (needs ~{v:.0f} GiB)" for k, v in skipped.items()
        )
    fig.suptitle(
        "scslab on the reference model (mean degree 10), "
        f"{threads} numba threads, 2-core 24 GiB machine{note}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        n, steps, execute, threads = (int(x) for x in sys.argv[2:6])
        print(json.dumps(child(n, steps, bool(execute), threads)))
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=sorted(STEPS))
    p.add_argument("--threads", type=int, default=0, help="numba threads (default: numba's)")
    p.add_argument("--out", default=str(HERE / "scaling.png"))
    args = p.parse_args()

    import psutil

    rows: list[dict[str, Any]] = []
    skipped: dict[int, float] = {}
    for n in sorted(args.sizes):
        if rows and n > 10**7:
            largest = rows[-1]
            need = largest["whole_peak_bytes_per_agent"] * n + 0.5 * 2**30
            have = psutil.virtual_memory().available
            if need > 0.9 * have:
                skipped[n] = need / 2**30
                print(
                    f"{n:,} people: skipped; the {largest['agents']:,} run's peak of "
                    f"{largest['whole_peak_bytes_per_agent']:.0f} B/agent scales to "
                    f"{need / 2**30:.1f} GiB, above 90 % of the {have / 2**30:.1f} GiB available",
                    flush=True,
                )
                continue
        steps = STEPS.get(n, 12)
        clock = time.perf_counter()
        r = run_child(n, steps, n <= 10**7, args.threads)
        rows.append(r)
        print(
            f"{n:>12,} people x {steps:2d} steps: loop {r['loop_agent_steps_per_s'] / 1e6:6.1f} M/s"
            + (
                f", execute {r['execute_agent_steps_per_s'] / 1e6:6.1f} M/s"
                if "execute_agent_steps_per_s" in r
                else ""
            )
            + f"; peak {r['whole_peak_bytes_per_agent']:.0f} B/agent (held "
            f"{r['held_bytes_per_agent']:.0f}); network {r['network_s']:.1f} s; "
            f"{time.perf_counter() - clock:.0f} s in all; load {r['load_average']:.2f}",
            flush=True,
        )

    print(
        "\n| agents | steps | step loop, M agent-steps/s | Simulation.execute, M/s | "
        "peak RSS B/agent | held B/agent (counted) | of which network | network build |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ex = r.get("execute_agent_steps_per_s")
        print(
            f"| {r['agents']:,} | {r['steps']} | {r['loop_agent_steps_per_s'] / 1e6:.1f} | "
            f"{'-' if ex is None else f'{ex / 1e6:.1f}'} | "
            f"{r['whole_peak_bytes_per_agent']:.0f} | {r['held_bytes_per_agent']:.0f} | "
            f"{r['network_bytes_per_agent']:.0f} | {r['network_s']:.1f} s |"
        )
    for n, gib in skipped.items():
        print(f"| {n:,} | skipped: needs about {gib:.1f} GiB | | | | | | |")
    plot(rows, Path(args.out), skipped)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
