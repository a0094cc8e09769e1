"""Months of several runs timed in turn on a busy machine: the part that ``benchmarks/layers.py``
and ``benchmarks/patchwork.py`` share.

:func:`options` reads ``--agents``, ``--months`` and ``--threads`` (and sets numba's threads);
:func:`months_in_turn` times month ``t`` of each run, month after month, in an order that
rotates by one run each month (with two runs: alternating which goes first), so that a load that
comes and goes falls on all alike; :func:`medians` takes each run's median month.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np


def options(doc: str | None, agents: int, months: int, threads: str) -> argparse.Namespace:
    """The command line's ``--agents``, ``--months`` and ``--threads`` (these are the defaults);
    ``NUMBA_NUM_THREADS`` is set before scslab is imported."""
    p = argparse.ArgumentParser(description=doc)
    p.add_argument("--agents", type=int, default=agents)
    p.add_argument("--months", type=int, default=months)
    p.add_argument("--threads", default=threads)
    args = p.parse_args()
    os.environ["NUMBA_NUM_THREADS"] = args.threads
    return args


def months_in_turn(
    month: dict[str, Callable[[int], object]], months: int
) -> dict[str, list[float]]:
    """Each run's seconds for its months ``0 .. months - 1`` (``month[name](t)`` does month
    ``t`` of run ``name``), the runs taking month ``t`` in turn, rotated by ``t``."""
    names = list(month)
    times: dict[str, list[float]] = {n: [] for n in names}
    for t in range(months):
        shift = t % len(names)
        for name in names[shift:] + names[:shift]:
            t0 = time.perf_counter()
            month[name](t)
            times[name].append(time.perf_counter() - t0)
    return times


def medians(times: dict[str, list[float]]) -> dict[str, float]:
    """Each run's median month, in seconds."""
    return {n: float(np.median(v)) for n, v in times.items()}
