"""The marking of friends before each month, by kind of network rule, side by side.

Before each month the engine marks, for each network rule, who counts as a friend (a bit per
person, :func:`scslab.engine.kernels.mark_rules`): a score below a threshold (``friends-below``),
a place on a list (``friends-listed``) or a grade in a set (``friends-in-grade``). This times that
pass on one state of N people (default 1,000,000; scores spread over Rongcheng's 0..1200 with its
12 lists and 6 grades, 3 % on each list), one rule of each kind, in turns (below, listed, grade;
then the reverse) so that a load that comes and goes falls on each alike. It prints each kind's
median in ms and against friends-below, and the same for the month's whole marking step
(:func:`scslab.engine.simulation.mark_friends`: marks, then the friends' counts brought up to date
from those who crossed) on a friendship network of mean degree 20, with 2 % of people moving in
or out of the marked set between months.

    NUMBA_NUM_THREADS=2 .venv/bin/python benchmarks/network_marks.py [--agents 1000000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from scslab.engine.compiled import MARK_BELOW, MARK_GRADES, MARK_LISTED
from scslab.engine.kernels import count_low_friends, friend_needs, mark_rules
from scslab.engine.simulation import mark_friends
from scslab.population import PopulationSpec, generate
from scslab.population.network import NetworkSpec, generate_network

KINDS = {
    "friends-below": (MARK_BELOW, 600),
    "friends-listed": (MARK_LISTED, 4),
    "friends-in-grade": (MARK_GRADES, 0b110000),  # the two lowest of six grades
}


class _State:
    """The columns marking reads, as a run's state holds them."""

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        self.score = rng.integers(300, 1200, n).astype(np.int16)
        edges = np.array([1050, 1030, 960, 850, 600])
        self.grade = np.searchsorted(-edges, -self.score.astype(np.int64)).astype(np.uint8)
        self.list_since = np.where(rng.random((n, 12)) < 0.03, 5, -1).astype(np.int16)

    def move(self, rng: np.random.Generator, share: float = 0.02) -> None:
        """A month: ``share`` of people change score, grade and listings."""
        n = len(self.score)
        who = rng.choice(n, int(share * n), replace=False)
        fresh = _State(len(who), rng)
        self.score[who], self.grade[who] = fresh.score, fresh.grade
        self.list_since[who] = fresh.list_since


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--agents", type=int, default=1_000_000)
    p.add_argument("--rounds", type=int, default=10)
    args = p.parse_args()
    n = args.agents
    rng = np.random.default_rng(1)
    state = _State(n, rng)
    out = np.zeros((1, (n + 7) // 8), np.uint8)
    none = np.zeros(0, np.uint8)

    def marks(name: str) -> tuple[np.ndarray, np.ndarray]:
        kind, arg = KINDS[name]
        return np.array([kind], np.int64), np.array([arg], np.int64)

    # the marking pass alone
    times: dict[str, list[float]] = {k: [] for k in KINDS}
    for r in range(args.rounds + 1):
        for name in KINDS if r % 2 == 0 else reversed(KINDS):
            kind, arg = marks(name)
            t0 = time.perf_counter()
            mark_rules(state.score, state.grade, state.list_since, kind, arg, none, n, out)
            if r:  # the first round compiles
                times[name].append(time.perf_counter() - t0)
    report("marking pass (mark_rules)", n, times)

    # the whole marking step of a month, counts of marked friends kept up to date
    pop = generate(PopulationSpec(agents=n), seed=1, agents=n)
    net = generate_network(pop, NetworkSpec(mean_degree=20), 1)
    traits = {}
    for name in KINDS:
        kind, arg = marks(name)
        low = np.zeros((1, (n + 7) // 8), np.uint8)
        mark_rules(state.score, state.grade, state.list_since, kind, arg, none, n, low)
        counts = np.zeros((1, n), np.uint16)
        count_low_friends(net.indptr, net.indices, low, counts)
        traits[name] = _Traits(net.indptr, net.indices, low, counts)
    friend_needs(net.indptr, np.array([0.3]))
    times = {k: [] for k in KINDS}
    for r in range(args.rounds + 1):
        state.move(rng)
        for name in KINDS if r % 2 == 0 else reversed(KINDS):
            kind, arg = marks(name)
            t0 = time.perf_counter()
            mark_friends(traits[name], state, kind, arg, True, 1)  # type: ignore[arg-type]
            if r:
                times[name].append(time.perf_counter() - t0)
    report("a month's marking, counts kept up to date (mark_friends)", n, times)


class _Traits:
    def __init__(self, indptr: np.ndarray, friends: np.ndarray, low: np.ndarray, c: np.ndarray):
        self.indptr, self.friends, self.low, self.low_friends = indptr, friends, low, c


def report(what: str, n: int, times: dict[str, list[float]]) -> None:
    base = float(np.median(times["friends-below"]))
    print(f"{what}, {n:,} people, {os.environ.get('NUMBA_NUM_THREADS', 'all')} threads:")
    for name, ts in times.items():
        med = float(np.median(ts))
        print(f"  {name:17s} {1000 * med:8.2f} ms  ({med / base:.2f}x friends-below)")
    print(f"  load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
