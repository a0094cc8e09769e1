"""The reference model (benchmarks/REFERENCE.md) as an idiomatic Mesa 3 model.

One :class:`Person` agent per person, a :class:`ReferenceModel` that activates them in random order
with ``self.agents.shuffle_do("step")``, and a :class:`mesa.DataCollector` that records the grade
shares, the list size and the running restrictions after every step. Every random number comes
from the model's own ``self.random`` (Python's ``random.Random``, seeded by ``seed``).

Written the way a careful Mesa user would write it for speed, without leaving Mesa's idiom:

- friends are held as a tuple of agent references, built once from the shared network file (the
  network never changes, so there is no need to look neighbours up in a ``NetworkGrid`` each step);
- the friend rule is synchronous: each agent reads its friends' ``was_low`` marks, which say who
  scored below 850 at the start of the step and are set before any agent of the step acts;
- one pass over the agents after each step (and at the start) takes a census for the collector's
  reporters, instead of each reporter scanning every agent, and sets the ``was_low`` marks that the
  next step's friend rule reads (scores do not change between the end of one step and the start
  of the next).

    from mesa_reference import run
    run("/tmp/ref-2k.npz", 2000, 24, seed=0)
"""

from __future__ import annotations

import math
import sys
import time
from bisect import bisect_right
from collections import Counter
from pathlib import Path
from typing import Any

import mesa
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference_network import load_network

#: Acts: (name, rate per agent-year, points, enters the defaulter list).
ACTS = (
    ("payment-arrears", 2.4, -10, False),
    ("contract-breach", 0.6, -20, False),
    ("court-debt", 0.3, -30, False),
    ("utility-fee-arrears", 0.2, -50, False),
    ("utility-theft", 0.1, -60, False),
    ("vandalism", 0.06, -100, False),
    ("unpaid-judgment", 0.1, 0, True),
    ("helping-elderly", 1.0, 5, False),
)
SCORE_MIN, SCORE_MAX, BASE = 0, 1200, 1000
#: Grade bands, lowest first: (lowest score, grade).
BANDS = ((0, "D"), (600, "C"), (850, "B"), (960, "A"), (1030, "AA"), (1050, "AAA"))
GRADES = ("AAA", "AA", "A", "B", "C", "D")  # high to low, as scslab records them
LIST_MONTHS = 12
C_MONTHS, D_MONTHS = 24, 60
LOW, SHARE, FRIEND_POINTS = 850, 0.3, -5

_BAND_MINS = [lo for lo, _ in BANDS]
_BAND_GRADES = [g for _, g in BANDS]


def grade_of(score: int) -> str:
    return _BAND_GRADES[bisect_right(_BAND_MINS, score) - 1]


class Person(mesa.Agent):
    """One person: a score, a grade, a listing and two restrictions, and a tuple of friends."""

    def __init__(self, model: ReferenceModel) -> None:
        super().__init__(model)
        self.score = BASE
        self.grade = grade_of(BASE)
        self.listed_since: int | None = None
        self.c_until: int | None = None
        self.d_until: int | None = None
        self.friends: tuple[Person, ...] = ()
        self.was_low = False  # score below LOW at the start of this step

    def step(self) -> None:
        model = self.model
        t = model.t
        score = self.score

        # 1. acts: a Poisson(Λ/12) count by inversion, then each act's kind
        u = model.random.random()
        if u >= model.p_none:
            p = cdf = model.p_none
            n = 0
            while u >= cdf:
                n += 1
                p *= model.lam / n
                cdf += p
            for _, _, points, lists in model.random.choices(ACTS, cum_weights=model.cum, k=n):
                score = min(max(score + points, SCORE_MIN), SCORE_MAX)
                if lists and self.listed_since is None:
                    self.listed_since = t

        # 2. friends, as they scored at the start of the step
        friends = self.friends
        if friends:
            low = 0
            for f in friends:
                if f.was_low:
                    low += 1
            if low >= SHARE * len(friends):
                score = max(score + FRIEND_POINTS, SCORE_MIN)
        self.score = score

        # 3. grade
        grade = self.grade = grade_of(score)

        # 4. list exit
        if self.listed_since is not None and t - self.listed_since >= LIST_MONTHS:
            self.listed_since = None

        # 5. restrictions: C, then D
        if self.c_until is not None and t >= self.c_until:
            self.c_until = None
        if self.c_until is None and grade == "C":
            self.c_until = t + C_MONTHS
        if self.d_until is not None and t >= self.d_until:
            self.d_until = None
        if self.d_until is None and grade == "D":
            self.d_until = t + D_MONTHS


class ReferenceModel(mesa.Model):
    """``n`` people on the network ``(indptr, indices)``; ``seed`` seeds ``self.random``."""

    def __init__(
        self,
        indptr: np.ndarray,
        indices: np.ndarray,
        seed: int = 0,
        *,
        friend_rule: bool = True,
        rate_factor: dict[str, float] | None = None,
    ) -> None:
        super().__init__(seed=seed)
        factor = rate_factor or {}
        rates = [rate * factor.get(name, 1.0) for name, rate, _, _ in ACTS]
        self.lam = sum(rates) / 12  # acts per person-month
        self.p_none = math.exp(-self.lam)
        self.cum = [float(c) for c in np.cumsum(rates) / sum(rates)]  # Python floats: faster
        self.cum[-1] = 1.0
        self.t = 0  # the reference model's step index: 0 in the first step
        self.n = len(indptr) - 1

        people = [Person(self) for _ in range(self.n)]
        if friend_rule:
            ptr = indptr.tolist()
            for i, person in enumerate(people):
                person.friends = tuple([people[j] for j in indices[ptr[i] : ptr[i + 1]].tolist()])

        self.census: dict[str, int] = {}
        reporters: dict[str, Any] = {g: (lambda m, g=g: m.census[g] / m.n) for g in GRADES}
        for key in ("listed", "c_running", "d_running"):
            reporters[key] = lambda m, key=key: m.census[key]
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.take_census()
        self.datacollector.collect(self)

    def take_census(self) -> None:
        """Count grades, listings and restrictions for the collector, in one pass over the agents;
        the same pass marks who scores below 850 now, at the start of the next step."""
        grades: Counter[str] = Counter()
        listed = c_running = d_running = 0
        for a in self.agents:
            grades[a.grade] += 1
            listed += a.listed_since is not None
            c_running += a.c_until is not None
            d_running += a.d_until is not None
            a.was_low = a.score < LOW
        self.census = {g: grades[g] for g in GRADES}
        self.census.update(listed=listed, c_running=c_running, d_running=d_running)

    def step(self) -> None:
        self.t = self.steps - 1  # Mesa counts steps from 1; the reference model from 0
        # friends are read through was_low, set by the census at the end of the last step
        self.agents.shuffle_do("step")
        self.take_census()
        self.datacollector.collect(self)


def _arrays(network: str | Path | tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(network, tuple):
        return network
    return load_network(network)


def outcomes(model: ReferenceModel) -> dict[str, float]:
    """The outputs of REFERENCE.md after the last step, read from the DataCollector."""
    last = {k: v[-1] for k, v in model.datacollector.model_vars.items()}
    return {k: float(last[k]) for k in (*GRADES, "listed", "c_running", "d_running")}


def run(
    network: str | Path | tuple[np.ndarray, np.ndarray],
    n: int,
    steps: int = 24,
    seed: int = 0,
    **variant: Any,
) -> dict[str, float]:
    """One run: grade shares, list size, C and D restrictions running after ``steps`` steps.

    ``variant`` (``friend_rule=False``, ``rate_factor={...}``) changes the model, for tests that
    must tell a changed model apart.
    """
    indptr, indices = _arrays(network)
    if len(indptr) != n + 1:
        raise ValueError(f"the network has {len(indptr) - 1:,} people, not {n:,}")
    model = ReferenceModel(indptr, indices, seed, **variant)
    for _ in range(steps):
        model.step()
    return outcomes(model)


def timed(
    network: str | Path | tuple[np.ndarray, np.ndarray], n: int, steps: int, seed: int = 0
) -> dict[str, Any]:
    """One timed run: building the model (agents and friend tuples) and the ``steps`` apart."""
    indptr, indices = _arrays(network)
    clock = time.perf_counter()
    model = ReferenceModel(indptr, indices, seed)
    setup = time.perf_counter() - clock
    clock = time.perf_counter()
    for _ in range(steps):
        model.step()
    seconds = time.perf_counter() - clock
    return {
        "outcomes": outcomes(model),
        "setup_s": setup,
        "run_s": seconds,
        "agent_steps_per_s": n * steps / seconds,
    }


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("network", help="a .npz file written by reference_network.py")
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    arrays = load_network(a.network)
    print(timed(arrays, len(arrays[0]) - 1, a.steps, a.seed))
