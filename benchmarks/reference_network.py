"""The reference model's friendship network (benchmarks/REFERENCE.md), drawn once and saved.

scslab's generator with mean degree 10, homophily 0.7, degree tail exponent 2.5 and network seed 1,
over a population of ``N`` people drawn with the same seed (only its region, hukou and income
groups matter, for homophily). The network is saved with ``numpy.savez`` as ``indptr`` (int64,
``N + 1``) and ``indices`` (int32), CSR form: the friends of agent ``i`` are
``indices[indptr[i]:indptr[i + 1]]``. Both implementations read it with :func:`load_network`.

    .venv/bin/python benchmarks/reference_network.py --agents 100000 --out /tmp/ref-100k.npz
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from scslab.population import NetworkSpec, PopulationSpec, generate, generate_network

#: The reference network's parameters (REFERENCE.md, "Agents and space").
MEAN_DEGREE = 10.0
HOMOPHILY = 0.7
TAIL = 2.5
NETWORK_SEED = 1
SPEC = NetworkSpec(mean_degree=MEAN_DEGREE, homophily=HOMOPHILY, tail=TAIL)


def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr, indices)`` of the reference network over ``n`` people."""
    pop = generate(PopulationSpec(agents=n), NETWORK_SEED)
    net = generate_network(pop, SPEC, NETWORK_SEED)
    return net.indptr, net.indices


def save_network(path: str | Path, indptr: np.ndarray, indices: np.ndarray) -> Path:
    """Write the CSR arrays with ``numpy.savez`` (uncompressed); return the path written."""
    path = Path(path)
    with path.open("wb") as f:  # a file object, so that numpy does not append ".npz"
        np.savez(f, indptr=indptr.astype(np.int64, copy=False), indices=indices)
    return path


def load_network(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr, indices)`` as saved by :func:`save_network`, checked for shape and range."""
    with np.load(path) as f:
        indptr = np.ascontiguousarray(f["indptr"], dtype=np.int64)
        indices = np.ascontiguousarray(f["indices"], dtype=np.int32)
    n = len(indptr) - 1
    if n < 0 or indptr[0] != 0 or indptr[-1] != len(indices) or np.any(np.diff(indptr) < 0):
        raise ValueError(f"{path}: not a CSR network (indptr does not fit indices)")
    if len(indices) and (indices.min() < 0 or indices.max() >= n):
        raise ValueError(f"{path}: a friend index is outside 0 .. {n - 1}")
    return indptr, indices


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--agents", type=int, default=100_000, help="people N (default 100,000)")
    p.add_argument("--out", required=True, help="the .npz file to write")
    args = p.parse_args()
    clock = time.perf_counter()
    indptr, indices = draw(args.agents)
    path = save_network(args.out, indptr, indices)
    deg = np.diff(indptr)
    print(
        f"{path}: {args.agents:,} people, {len(indices):,} half-ties, mean degree "
        f"{deg.mean():.2f}, max {deg.max()}, without friends {np.mean(deg == 0):.1%}, "
        f"drawn in {time.perf_counter() - clock:.1f} s"
    )


if __name__ == "__main__":
    main()
