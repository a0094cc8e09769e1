"""Playing a game: the state columns, the loop over generations, the averages a user asks for."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import psutil

from scslab.errors import ResourceError, ScenarioError
from scslab.games.kernels import (
    N_STRATEGIES,
    PAIRS,
    RANDOM,
    History,
    Rules,
    Tally,
    donation_actions,
    imitate,
    play_rounds,
    rule_bits,
    score_gains,
    table_bits,
)
from scslab.games.model import STRATEGIES, GameConfig
from scslab.games.norms import Norm, resolve_norm
from scslab.rng import STREAM_GAMES, step_key

#: Progress callback: (rounds done, rounds in all).
Progress = Callable[[int, int], None]

_BASE_OVERHEAD = 64 * 2**20  # interpreter, numba and compiled kernels


def judges_needed(size: int, strictness: float) -> int:
    """Judges who must say good for a good verdict: more than ``strictness × size``."""
    return math.floor(strictness * size + 1e-9) + 1


def institution_odds(size: int, strictness: float, e2: float) -> tuple[float, float]:
    """The shared protocol: P(public reputation good | the norm says good) and P(... | bad).

    Each of ``size`` judges applies the norm to the one observed donation and errs independently
    with probability ``e2``; the reputation is good when more than ``strictness × size`` judges
    say good.
    """
    need = judges_needed(size, strictness)
    if need > size:
        return 0.0, 0.0

    def at_most(k: int) -> float:  # P(Binomial(size, e2) <= k)
        if k < 0:
            return 0.0
        if e2 <= 0.0 or k >= size:
            return 1.0
        if e2 >= 1.0:
            return 0.0
        lp, lq, lf = math.log(e2), math.log1p(-e2), math.lgamma(size + 1)
        terms = (
            math.exp(lf - math.lgamma(i + 1) - math.lgamma(size - i + 1) + i * lp + (size - i) * lq)
            for i in range(k + 1)
        )
        return min(1.0, math.fsum(terms))

    # good verdict: size - flips >= need; bad verdict: flips >= need
    return at_most(size - need), 1.0 - at_most(need - 1)


def rules_for(config: GameConfig) -> Rules:
    """The kernels' view of a configuration."""
    norm = config.norm
    judges = need = 0
    if config.observation == "institution" and config.institution_protocol == "independent":
        judges, need = (
            config.institution_size,
            judges_needed(config.institution_size, config.strictness),
        )
        p_good, p_bad = 1.0 - config.e2, config.e2  # unused: judges reassess after each round
    elif config.observation == "institution":
        p_good, p_bad = institution_odds(config.institution_size, config.strictness, config.e2)
    else:
        p_good, p_bad = 1.0 - config.e2, config.e2
    score = norm.kind == "score"
    return Rules(
        bits=0 if score else table_bits(norm.table()),
        gains=score_gains(norm.table()[0]) if score else 0,
        rule=rule_bits(norm.rule()),
        score=score,
        threshold=config.threshold if score else 1,
        b=float(config.b),
        c=float(config.c),
        e1=float(config.e1),
        e2=float(config.e2),
        q_know=float(config.q_know),
        p_good=p_good,
        p_bad=p_bad,
        judges=judges,
        need=need,
        q_obs=float(config.q_obs),
        pairing=PAIRS if config.pairing == "pairs" else RANDOM,
    )


def estimate_memory(config: GameConfig) -> int:
    """Bytes a game needs at its peak, before anything is allocated."""
    n = config.agents
    per_agent = 1 + 1 + 8 + 4 + 2 * 1 + 8  # strategy, rep, payoff, perm, imitation, payoff copy
    need = _BASE_OVERHEAD + n * per_agent + config.steps * (8 + 8 + 8 * N_STRATEGIES)
    if config.observation == "institution" and config.institution_protocol == "independent":
        need += n  # the new reputations of a round
    if config.observation == "private":
        need += n * _words(n) * 8  # the views
        need += n * 8 + n // 2  # good views per row; the round's actions
    return need


def check_memory(config: GameConfig) -> None:
    """Refuse, before allocating, a game that would not fit in the memory free now."""
    need = estimate_memory(config)
    have = psutil.virtual_memory().available
    if need > 0.9 * have:
        what = (
            f"private views of {config.agents:,} agents ({config.agents:,}² bits)"
            if config.observation == "private"
            else f"a game of {config.agents:,} agents"
        )
        raise ResourceError(
            f"{what} need about {_size(need)} and the machine has {_size(have)} free; "
            "use fewer agents (--agents), or public or institution observation"
        )


def _words(n: int) -> int:
    return (n + 63) // 64


def _size(nbytes: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if nbytes < 1024 or unit == "TiB":
            return f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError  # unreachable


@dataclass(frozen=True)
class GameResult:
    """Averages over the measured rounds (those from ``config.measured_from`` on)."""

    config: GameConfig
    #: Over pairs of distinct agents (observer, other): the share in which the other is seen good.
    good_fraction: float
    #: Share of donations that were cooperations.
    cooperation: float
    #: The good fraction over pairs whose second agent plays each strategy (None: nobody played it).
    good_fraction_by_strategy: dict[str, float | None]
    #: Mean payoff per agent and round, rounds weighted by ``discount**t`` within a generation.
    payoff_by_strategy: dict[str, float | None]
    #: Shares of each strategy after the last round.
    final_shares: dict[str, float]
    history: History
    seconds: float

    def summary(self) -> dict[str, Any]:
        """The four figures ``scslab game --json`` prints."""
        return {
            "good_fraction": self.good_fraction,
            "cooperation": self.cooperation,
            "good_fraction_by_strategy": self.good_fraction_by_strategy,
            "payoff_by_strategy": self.payoff_by_strategy,
        }


class Game:
    """A population, its reputations and its strategies; :meth:`play` runs every round.

    The state columns are public attributes: ``strategy`` (codes 0 ALLD, 1 ALLC, 2 DISC),
    ``rep`` (public reputations: 0/1, or image scores) or ``views`` (private: bit ``k`` of row
    ``t`` set when agent ``k`` thinks agent ``t`` good), and ``payoff`` (this generation's).
    """

    def __init__(self, config: GameConfig) -> None:
        check_memory(config)
        self.config = config
        self.rules = rules_for(config)
        n = config.agents
        self.allowed = np.array([STRATEGIES.index(s) for s in config.strategies], np.int8)
        self.strategy = np.empty(n, np.int8)
        self.payoff = np.zeros(n, np.float64)
        self.perm = np.empty(n, np.int32)
        if config.observation == "private":
            self.rep = np.zeros(0, np.int8)
            self.views = np.empty((n, _words(n)), np.uint64)
            self.work = np.zeros(n // 2, np.int8)
        else:
            self.rep = np.empty(n, np.int8)
            self.views = np.zeros((0, 1), np.uint64)
            self.work = np.zeros(n if self.rules.judges else 0, np.int8)
        self._start()

    def _start(self) -> None:
        """The state before the first round."""
        self.strategy[:] = _assign(self.config.strategies, self.config.agents)
        self.payoff[:] = 0.0
        self.perm[:] = np.arange(self.config.agents, dtype=np.int32)
        self._reset_reputations()

    def _reset_reputations(self) -> None:
        """Everyone good (image score 0); private views: everyone thinks everyone good."""
        if self.views.shape[0]:
            n = self.config.agents
            self.views[:] = np.uint64(0xFFFFFFFFFFFFFFFF)
            if n % 64:
                self.views[:, -1] = np.uint64((1 << (n % 64)) - 1)
        else:
            self.rep[:] = 0 if self.rules.score else 1

    def play(self, progress: Progress | None = None) -> GameResult:
        """Every round from the start (a second call plays the same game again)."""
        cfg = self.config
        self._start()
        steps, gen = cfg.steps, cfg.generation
        start = time.perf_counter()
        tally = Tally(
            acts=np.zeros(2, np.int64),
            good_pairs=np.zeros(N_STRATEGIES, np.int64),
            pairs=np.zeros(N_STRATEGIES, np.int64),
            pay=np.zeros(N_STRATEGIES, np.float64),
            weight=np.zeros(N_STRATEGIES, np.float64),
        )
        history = History(
            good=np.zeros(steps, np.float64),
            cooperation=np.zeros(steps, np.float64),
            counts=np.zeros((steps, N_STRATEGIES), np.int64),
        )
        chunk = max(1, steps // 100)
        t = 0
        weights = 0.0
        while t < steps:
            g0 = t - t % gen
            if t == g0:
                self.payoff[:] = 0.0
                weights = 0.0
                if cfg.fresh_reputations and t > 0:
                    self._reset_reputations()
            end = min(steps, g0 + gen, t + chunk)
            weights += play_rounds(
                self.rules,
                cfg.seed,
                t,
                end,
                g0,
                cfg.discount,
                cfg.measured_from,
                self.strategy,
                self.rep,
                self.views,
                self.payoff,
                self.perm,
                self.work,
                tally,
                history,
            )
            t = end
            if cfg.evolve and t == g0 + gen:
                per_round = self.payoff / weights
                key = step_key(cfg.seed, STREAM_GAMES, t - 1)  # its own sub-draws (J_MUTATE..)
                imitate(key, self.strategy, per_round, cfg.selection, cfg.mutation, self.allowed)
            if progress is not None:
                progress(t, steps)
        return self._result(tally, history, time.perf_counter() - start)

    def _result(self, tally: Tally, history: History, seconds: float) -> GameResult:
        cfg = self.config
        named = list(cfg.strategies)
        idx = {s: STRATEGIES.index(s) for s in named}
        pairs = int(tally.pairs.sum())
        counts = np.bincount(self.strategy, minlength=N_STRATEGIES)

        def ratio(num: float, den: float) -> float | None:
            return float(num / den) if den > 0 else None

        return GameResult(
            config=cfg,
            good_fraction=float(tally.good_pairs.sum() / pairs),
            cooperation=float(tally.acts[0] / tally.acts[1]) if tally.acts[1] else 0.0,
            good_fraction_by_strategy={
                s: ratio(tally.good_pairs[i], tally.pairs[i]) for s, i in idx.items()
            },
            payoff_by_strategy={s: ratio(tally.pay[i], tally.weight[i]) for s, i in idx.items()},
            final_shares={s: float(counts[i] / cfg.agents) for s, i in idx.items()},
            history=history,
            seconds=seconds,
        )


def _assign(shares: dict[str, float], n: int) -> np.ndarray:
    """Strategy codes in contiguous blocks; counts by largest remainder, so they sum to ``n``."""
    names = list(shares)
    exact = np.array([shares[s] * n for s in names])
    counts = np.floor(exact).astype(np.int64)
    short = n - int(counts.sum())
    counts[np.argsort(-(exact - counts), kind="stable")[:short]] += 1
    codes = np.array([STRATEGIES.index(s) for s in names], np.int8)
    return np.repeat(codes, counts)


def play(config: GameConfig, progress: Progress | None = None) -> GameResult:
    """Play ``config`` from the start; the same config gives the same result bit for bit."""
    return Game(config).play(progress)


def play_donations(
    donors: np.ndarray,
    recipients: np.ndarray,
    strategy: np.ndarray,
    good: np.ndarray,
    *,
    norm: str | Norm = "stern-judging",
    e1: float = 0.0,
    q_know: float = 1.0,
    seed: int = 0,
    step: int = 0,
) -> np.ndarray:
    """Which of the donations ``donors[i] -> recipients[i]`` are cooperations (a bool array).

    ``strategy`` holds each agent's code (0 ALLD, 1 ALLC, 2 DISC); ``good`` a public reputation
    that the caller supplies (1 good, 0 bad), e.g. a grade at or above a band, or not being on a
    list. Discriminators follow ``norm``'s action rule; an intended cooperation fails with
    probability ``e1``; a discriminator knows the recipient's reputation with probability
    ``q_know`` and otherwise assumes it good. The draws are keyed by ``(seed, step, i)``.
    """
    for name, p in (("e1", e1), ("q_know", q_know)):
        if not 0.0 <= p <= 1.0:
            raise ScenarioError(f"{name}: a probability must lie between 0 and 1, not {p:g}")
    n = len(strategy)
    if len(good) != n:
        raise ScenarioError(f"good has {len(good)} entries and strategy {n}; give one per agent")
    if len(donors) != len(recipients):
        raise ScenarioError(f"{len(donors)} donors but {len(recipients)} recipients")
    for name, idx in (("donors", donors), ("recipients", recipients)):
        if len(idx) and (np.min(idx) < 0 or np.max(idx) >= n):
            raise ScenarioError(f"{name}: agent indices must lie in 0 .. {n - 1}")
    try:
        rule = rule_bits(resolve_norm(norm).rule())
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None
    key = step_key(seed, STREAM_GAMES, step)
    out = donation_actions(
        key,
        np.ascontiguousarray(donors, np.int64),
        np.ascontiguousarray(recipients, np.int64),
        np.ascontiguousarray(strategy, np.int8),
        np.ascontiguousarray(good, np.int8),
        rule,
        float(e1),
        float(q_know),
    )
    return np.asarray(out, dtype=bool)
