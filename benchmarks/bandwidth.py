"""The limit: this machine's memory bandwidth, the bytes a reference step touches, the ceiling.

1. **Bandwidth.** STREAM-like copy (``a = b``) and triad (``a = b + s * c``) on float64 arrays much
   larger than the caches (default 2**25 elements, 256 MiB each), in numpy (one thread; numpy's
   triad takes two passes) and in numba with ``prange`` (all numba threads). Bytes are counted
   the STREAM way: 16 per element for copy, 24 for triad (write-allocate traffic not counted).
   Best and median of ``--reps``.
2. **Bytes per agent-step** of the reference model in scslab's layout, from
   ``scslab.engine.compiled.state_bytes_per_person`` and the CSR sizes: every state column read
   and written back once, the traits the step reads (cell, region), the friend lists (``indptr``
   and ``indices``), and the pass that marks last month's low scorers (reads ``score``, writes one
   bit per person; the bits, N/8 bytes, are then read at random but stay in cache up to tens of
   millions of people). A second, strict count keeps only what the model itself needs (score,
   grade, list entry step, restriction end steps, friends).
3. **Ceiling** = bandwidth / bytes per agent-step, in agent-steps per second.
4. ``--profile N``: scslab's month on the reference model at ``N`` people (``Simulation.start``
   and ``Run.advance`` without assortativity), timed whole and without the friend rule, without
   restrictions and without acts, and the per-step score assortativity that
   ``Simulation.execute`` adds; median ms per step.

    .venv/bin/python benchmarks/bandwidth.py [--elements 33554432] [--profile 10000000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numba
import numpy as np
from numba import njit, prange

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import scslab_reference  # noqa: E402
from reference_network import MEAN_DEGREE, draw  # noqa: E402
from scslab.engine.compiled import state_bytes_per_person  # noqa: E402
from scslab.population import score_assortativity  # noqa: E402


@njit(parallel=True, cache=True)
def _copy(a: np.ndarray, b: np.ndarray) -> None:
    for i in prange(a.shape[0]):
        a[i] = b[i]


@njit(parallel=True, cache=True)
def _triad(a: np.ndarray, b: np.ndarray, c: np.ndarray, s: float) -> None:
    for i in prange(a.shape[0]):
        a[i] = b[i] + s * c[i]


def _best_median(fn: Any, reps: int) -> tuple[float, float]:
    times = []
    for _ in range(reps):
        clock = time.perf_counter()
        fn()
        times.append(time.perf_counter() - clock)
    return min(times), float(np.median(times))


def bandwidth(elements: int, reps: int) -> dict[str, tuple[float, float]]:
    """GB/s (1e9 bytes), best and median, of each kernel."""
    a = np.zeros(elements)
    b = np.full(elements, 1.0)
    c = np.full(elements, 2.0)
    _copy(a, b)  # compile, and touch every page
    _triad(a, b, c, 3.0)
    tmp = np.empty_like(a)

    def numpy_triad() -> None:
        np.multiply(c, 3.0, out=tmp)
        np.add(b, tmp, out=a)

    kernels_ = {
        "numpy copy (1 thread)": (lambda: np.copyto(a, b), 16),
        "numpy triad (1 thread, 2 passes)": (numpy_triad, 24),
        f"numba copy ({numba.get_num_threads()} threads)": (lambda: _copy(a, b), 16),
        f"numba triad ({numba.get_num_threads()} threads)": (lambda: _triad(a, b, c, 3.0), 24),
    }
    out = {}
    for name, (fn, per) in kernels_.items():
        best, med = _best_median(fn, reps)
        out[name] = (per * elements / best / 1e9, per * elements / med / 1e9)
    return out


def bytes_per_agent_step(mean_degree: float = MEAN_DEGREE) -> dict[str, float]:
    """Bytes one reference step moves per agent, counted two ways (see the module doc)."""
    sim = scslab_reference.simulation(draw(2000), 2000, 1, 0)
    layout = sim.layout
    state = state_bytes_per_person(layout)
    C, L, Q = len(layout.categories), len(layout.lists), len(layout.groups)
    csr = 8 + 4 * mean_degree  # indptr int64 + indices int32 per friend
    traits = 2 + 1  # cell uint16, region uint8
    mark = 2 + 1 / 8  # the mark pass: read score, write a bit
    every = 2 * state + traits + csr + mark
    strict = (2 + 2) + 1 + 2 + 2 * 2 * Q + csr + mark  # score r/w, grade w, list r, groups r/w
    return {
        "state_bytes_per_person": state,
        "categories": C,
        "lists": L,
        "groups": Q,
        "csr": csr,
        "every_column": every,
        "strict": strict,
    }


def profile(n: int, steps: int) -> dict[str, float]:
    """Median ms per step of each part of the reference step at ``n`` people."""
    arrays = draw(n)
    scslab_reference.warm_up()
    base = scslab_reference.simulation(arrays, n, steps, 0)
    scheme = base.scheme
    catalogue = base.catalogue
    variants = {
        "whole step": (scheme, catalogue),
        "step, no friend rule": (scheme.model_copy(update={"network": ()}), catalogue),
        "step, no restrictions": (scheme.model_copy(update={"sanctions": ()}), catalogue),
        "step, no acts": (
            scheme,
            catalogue.model_copy(
                update={"acts": tuple(a.model_copy(update={"rate": 0.0}) for a in catalogue.acts)}
            ),
        ),
    }
    from scslab.engine.simulation import Simulation

    out: dict[str, float] = {}
    pop = base.population()
    for name, (sch, cat) in variants.items():
        sim = Simulation(base.scenario, scheme=sch, catalogue=cat, population=pop)
        run = sim.start()  # the engine's own month, as Simulation.execute drives it
        stepping, assort = [], []
        for t in range(steps):
            clock = time.perf_counter()
            run.advance(t, assortativity=False)
            stepping.append(time.perf_counter() - clock)
            if name == "whole step":
                clock = time.perf_counter()
                score_assortativity(pop.network, run.state.score)
                assort.append(time.perf_counter() - clock)
        out[name] = float(np.median(stepping)) * 1e3
        if name == "whole step":
            out["assortativity (Simulation.execute only)"] = float(np.median(assort)) * 1e3
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--elements", type=int, default=1 << 25, help="float64 elements per array")
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--profile", type=int, default=0, help="also profile the step at N people")
    p.add_argument("--steps", type=int, default=12, help="steps for --profile")
    p.add_argument(
        "--measured",
        type=float,
        default=0.0,
        help="scslab agent-steps/s to set against the ceiling",
    )
    args = p.parse_args()

    mib = args.elements * 8 / 2**20
    print(
        f"STREAM-like bandwidth, 3 arrays of {mib:,.0f} MiB, "
        f"numba threads {numba.get_num_threads()}"
    )
    bw = bandwidth(args.elements, args.reps)
    for name, (best, med) in bw.items():
        print(f"  {name:34s} best {best:6.1f} GB/s   median {med:6.1f} GB/s")
    b = bytes_per_agent_step()
    print(
        f"\nbytes per agent-step, reference scheme (C={b['categories']}, L={b['lists']}, "
        f"Q={b['groups']}; state {b['state_bytes_per_person']} B/person), mean degree "
        f"{MEAN_DEGREE:g} (CSR {b['csr']:.0f} B/person):\n"
        "  every state column read and written, traits, CSR, mark pass: "
        f"{b['every_column']:.1f} B\n"
        f"  strict (score r/w, grade w, list r, restrictions r/w, CSR, mark pass): "
        f"{b['strict']:.1f} B"
    )
    triad = max(v[0] for k, v in bw.items() if k.startswith("numba triad"))
    copy = max(v[0] for k, v in bw.items() if k.startswith("numba copy"))
    print("\nbandwidth-bound ceiling (agent-steps/s):")
    for label, gbs in (("numba triad", triad), ("numba copy", copy)):
        print(
            f"  {label:12s} {gbs:5.1f} GB/s: {gbs * 1e9 / b['every_column'] / 1e6:6.0f} M "
            f"(every column), {gbs * 1e9 / b['strict'] / 1e6:6.0f} M (strict)"
        )
    if args.measured:
        ceiling = triad * 1e9 / b["every_column"]
        print(
            f"  measured {args.measured / 1e6:.1f} M agent-steps/s: "
            f"{ceiling / args.measured:.1f}x below the triad ceiling (every column)"
        )
    if args.profile:
        n = args.profile
        print(f"\nprofile at {n:,} people, {args.steps} steps, median ms per step:")
        for name, ms in profile(n, args.steps).items():
            print(f"  {name:42s} {ms:8.2f} ms   {n / ms / 1e3:7.1f} M agents/s")


if __name__ == "__main__":
    main()
