"""Network benchmark: building the friendship network, and the per-step friend-share pass.

For each size (default 1 million and 10 million people, mean degree 20, default homophily and
tail) prints the time to draw the population and to build the network, the realised mean and
maximum degree, the network's bytes per person, then the speed of the pass that network rules
make every step (for each person, the share of friends whose score is below a threshold) in
people per second, median of 10 repetitions, and the peak resident memory of the process so far.
Results go to benchmarks/RESULTS.md by hand, with the machine noted.

    .venv/bin/python benchmarks/network.py [--sizes 1000000 10000000] [--mean-degree 20]
"""

from __future__ import annotations

import argparse
import resource
import time

import numba
import numpy as np
from numba import njit, prange

from scslab.population import PopulationSpec, generate
from scslab.population.network import BLOCK, NetworkSpec, generate_network, score_assortativity


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


@njit(cache=True, parallel=True)
def friend_share(
    indptr: np.ndarray, friends: np.ndarray, score: np.ndarray, below: int, out: np.ndarray
) -> None:
    """``out[i]`` = share of ``i``'s friends whose score is below ``below`` (0 without friends)."""
    n = indptr.shape[0] - 1
    for b in prange((n + BLOCK - 1) // BLOCK):
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            lo = indptr[i]
            hi = indptr[i + 1]
            low = 0
            for f in range(lo, hi):
                if score[friends[f]] < below:
                    low += 1
            out[i] = low / (hi - lo) if hi > lo else 0.0


def measure(n: int, mean_degree: float, seed: int) -> dict[str, float]:
    start = time.perf_counter()
    pop = generate(PopulationSpec(agents=n), seed)
    population_s = time.perf_counter() - start

    start = time.perf_counter()
    net = generate_network(pop, NetworkSpec(mean_degree=mean_degree), seed)
    build_s = time.perf_counter() - start
    deg = net.degrees()

    rng = np.random.default_rng(seed)  # benchmark input only; the package never uses np.random
    score = rng.integers(600, 1300, n).astype(np.int16)
    share = np.empty(n, np.float32)
    times = []
    for _ in range(10):
        start = time.perf_counter()
        friend_share(net.indptr, net.indices, score, 1000, share)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    score_assortativity(net, score)
    assort_s = time.perf_counter() - start
    return {
        "people": n,
        "population_s": population_s,
        "build_s": build_s,
        "mean_degree": float(deg.mean()),
        "max_degree": int(deg.max()),
        "bytes_per_person": net.nbytes / n,
        "pass_people_per_s": n / float(np.median(times)),
        "assortativity_s": assort_s,
        "peak_gib": peak_gib(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--mean-degree", type=float, default=20.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    # warm-up: compile (or load from cache) every kernel on a small run of the same types
    measure(20_000, args.mean_degree, args.seed)
    print(f"threads: {numba.get_num_threads()}")
    for n in args.sizes:
        r = measure(n, args.mean_degree, args.seed)
        print(
            f"{n:>12,} people: population {r['population_s']:.2f} s, network {r['build_s']:.2f} s"
            f" (realised mean degree {r['mean_degree']:.2f}, max {r['max_degree']:,},"
            f" {r['bytes_per_person']:.0f} B/person);"
            f" friend-share pass {r['pass_people_per_s'] / 1e6:.1f} M people/s;"
            f" assortativity {r['assortativity_s']:.2f} s; peak RSS {r['peak_gib']:.2f} GiB"
        )


if __name__ == "__main__":
    main()
