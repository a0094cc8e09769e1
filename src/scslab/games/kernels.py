"""Compiled rounds of the donation game under public, institutional and private reputations.

State is columns: ``strategy`` (int8, one of :data:`ALLD`, :data:`ALLC`, :data:`DISC`), ``payoff``
(float64, this generation's), and either ``rep`` (int8: 0/1 for good/bad, or an image score) for
public and institutional reputations, or ``views`` (uint64[N, ceil(N/64)], bit ``k`` of row ``t``
set when agent ``k`` thinks agent ``t`` good) for private ones. A row is everyone's opinion of one
agent, so a donation writes one row and reads another, both contiguous.

A round is either ``N // 2`` disjoint donor–recipient pairs (pairing :data:`PAIRS`, a fresh random
permutation each round) or ``N`` donations in sequence, each between a random donor and a random
other recipient, with reputations updated after each (pairing :data:`RANDOM`). Every draw is
``uniform(step_key(seed, STREAM_GAMES, round), index, J_*)``, so a run is a pure function of its
seed. With private views the observers' draws come from a key derived from the donation; with
pairs the donations run in parallel (each writes only its donor's row, and no recipient donates);
payoffs by strategy are summed in order afterwards, so results do not depend on the number of
threads.

Institutions: with the shared protocol a donation sets the donor's public reputation at once, good
with the precomputed odds of ``Q`` judges erring on that one donation (``p_good``, ``p_bad``); with
the independent protocol (``judges > 0``) donations leave reputations alone and after the round
every agent is reassessed by ``Q`` judges, each watching it act towards a recipient of its own
(:func:`_reassess`, O(N × Q), parallel over agents).

The donor and the recipient always see a donation; every other agent with probability ``q_obs``.
Below :data:`SPARSE`, observers are found by geometric gaps rather than by testing every agent, so
that a donation costs O(q_obs × N).

The hot helpers are written without branches where the outcome is a coin flip (a branch predictor
cannot learn it: four times faster), and take scalars rather than arrays taken from ``Rules`` (an
array handed to an inlined helper costs reference counting on every call).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import int8, int64, njit, prange, uint64

from scslab.rng import STREAM_GAMES, bits, step_key, uniform

ALLD, ALLC, DISC = 0, 1, 2
N_STRATEGIES = 3
PAIRS, RANDOM = 0, 1
SCORE_MIN, SCORE_MAX = -5, 5  # image scores (Nowak & Sigmund 1998)
SPARSE = 0.3  # below this q_obs, observers are found by geometric gaps

# sub-draw indices j of uniform(key, index, j) within one round
J_PERM, J_DONOR, J_RECIP, J_KNOW, J_EXEC, J_ASSESS, J_OBS = 0, 1, 2, 3, 4, 5, 6
J_MUTATE, J_MUTANT, J_MODEL, J_IMITATE = 7, 8, 9, 10
J_JUDGES = 11  # independent institutions: the key of one agent's judges' draws (see _reassess)
# sub-draws under a derived observer key
J_GAP, J_ERR = 0, 1

_ONE = uint64(1)


class Rules(NamedTuple):
    """Everything a round needs besides the state; built by :func:`scslab.games.run.rules_for`."""

    bits: int  # good/bad norms: bit 4 × donor good + 2 × action + recipient good set where good
    gains: int  # image scores: the change for (action, recipient good) in byte 2 × action + r, +128
    rule: int  # bit 2 × donor good + recipient good is set where a discriminator cooperates
    score: bool  # reputations are image scores (table holds changes) rather than good/bad
    threshold: int  # a reputation counts as good when it is at least this (1 for good/bad)
    b: float
    c: float
    e1: float  # an intended cooperation becomes a defection
    e2: float  # a judgement is flipped
    q_know: float  # a discriminator knows the recipient's reputation; else it assumes good
    p_good: float  # P(public reputation set good | the norm says good)
    p_bad: float  # P(public reputation set good | the norm says bad)
    judges: int  # independent institution: Q judges reassess everyone each round (0: no)
    need: int  # independent institution: judges who must say good
    q_obs: float  # private views: an agent observes a donation
    pairing: int  # PAIRS or RANDOM


# ---------------------------------------------------------------------------------------------
# one donor's decision: shared by every mode and by donation_actions()


@njit(cache=True, inline="always")
def _act(
    key: int,
    i: int,
    rule: int,
    strategy: int,
    d_good: int,
    r_good: int,
    e1: float,
    q_know: float,
) -> int:
    """The action (1 cooperate, 0 defect) of donation ``i``: knowledge, rule, execution error.

    ALLD and ALLC intend their own code (0, 1); a discriminator follows the rule, taking an unknown
    recipient for good. ``rule`` is :func:`rule_bits`.
    """
    knows = int(uniform(key, i, J_KNOW) < q_know)
    seen = r_good | (1 - knows)
    intent = (rule >> (2 * d_good + seen)) & 1 if strategy == DISC else int(strategy)
    return intent & int(uniform(key, i, J_EXEC) >= e1)


def rule_bits(rule: np.ndarray) -> int:
    """An action rule ``int8[2, 2]`` ``[donor good, recipient good]`` as bits for :func:`_act`."""
    return sum(int(rule[d, r]) << (2 * d + r) for d in (0, 1) for r in (0, 1))


def table_bits(table: np.ndarray) -> int:
    """A good/bad table ``int8[2, 2, 2]`` ``[donor, action, recipient]`` as ``Rules.bits``."""
    return sum(
        int(table[d, a, r]) << (4 * d + 2 * a + r) for d in (0, 1) for a in (0, 1) for r in (0, 1)
    )


def score_gains(table: np.ndarray) -> int:
    """An image score table of changes ``[action, recipient]`` (each within ±127) as
    ``Rules.gains``."""
    return sum((int(table[a, r]) + 128) << (8 * (2 * a + r)) for a in (0, 1) for r in (0, 1))


@njit(cache=True)
def donation_actions(
    key: int,
    donors: np.ndarray,
    recipients: np.ndarray,
    strategy: np.ndarray,
    good: np.ndarray,
    rule: int,
    e1: float,
    q_know: float,
) -> np.ndarray:
    """Actions (uint8, 1 = cooperate) of donations ``donors[i] -> recipients[i]``.

    ``good`` is a public reputation supplied by the caller (1 good, 0 bad), for instance a grade or
    a list flag; ``rule`` is a norm's action rule as :func:`rule_bits`.
    """
    out = np.empty(donors.size, np.uint8)
    for i in range(donors.size):
        d, r = donors[i], recipients[i]
        out[i] = _act(key, i, rule, int(strategy[d]), int(good[d]), int(good[r]), e1, q_know)
    return out


# ---------------------------------------------------------------------------------------------
# pairing


@njit(cache=True)
def _shuffle(key: int, perm: np.ndarray) -> None:
    """Fisher–Yates on ``perm`` in place (any starting order gives a uniform permutation)."""
    for i in range(perm.size - 1, 0, -1):
        j = int(uniform(key, i, J_PERM) * (i + 1))
        perm[i], perm[j] = perm[j], perm[i]


@njit(cache=True, inline="always")
def _random_pair(key: int, i: int, n: int) -> tuple[int, int]:
    donor = int(uniform(key, i, J_DONOR) * n)
    recipient = int(uniform(key, i, J_RECIP) * (n - 1))
    if recipient >= donor:
        recipient += 1
    return donor, recipient


@njit(cache=True, inline="always")
def _pay(
    action: int, payoff: np.ndarray, donor: int, recipient: int, b: float, c: float, weight: float
) -> None:
    payoff[donor] -= weight * c * action
    payoff[recipient] += weight * b * action


# ---------------------------------------------------------------------------------------------
# public and institutional reputations


@njit(cache=True, inline="always")
def _donate_public(
    rules: Rules,
    key: int,
    i: int,
    donor: int,
    recipient: int,
    strategy: np.ndarray,
    rep: np.ndarray,
    payoff: np.ndarray,
    weight: float,
) -> int:
    d_good = int(rep[donor] >= rules.threshold)
    r_good = int(rep[recipient] >= rules.threshold)
    action = _act(key, i, rules.rule, int(strategy[donor]), d_good, r_good, rules.e1, rules.q_know)
    _pay(action, payoff, donor, recipient, rules.b, rules.c, weight)
    if rules.judges > 0:  # an independent institution reassesses everyone after the round
        return action
    u = uniform(key, i, J_ASSESS)
    if rules.score:
        change = ((rules.gains >> (8 * (2 * action + r_good))) & 255) - 128
        if u < rules.e2:
            change = -change
        rep[donor] = min(max(int(rep[donor]) + change, SCORE_MIN), SCORE_MAX)
    else:
        verdict = (rules.bits >> (4 * d_good + 2 * action + r_good)) & 1
        rep[donor] = int8(u < (rules.p_good if verdict else rules.p_bad))
    return action


@njit(cache=True)
def round_public(
    rules: Rules,
    key: int,
    strategy: np.ndarray,
    rep: np.ndarray,
    payoff: np.ndarray,
    perm: np.ndarray,
    weight: float,
    work: np.ndarray,
) -> tuple[int, int]:
    """One round under public (or institutional) reputations; returns (cooperations, donations).

    Serial: a donation costs tens of nanoseconds, mostly waiting on memory, and two threads were
    no faster than one on the benchmark machine (benchmarks/RESULTS.md). Under an independent
    institution (``rules.judges > 0``) the donations leave reputations alone and everyone is
    reassessed after them (:func:`_reassess`, ``work`` is int8[N] for the new reputations).
    """
    n = strategy.size
    coop = 0
    if rules.pairing == PAIRS:
        _shuffle(key, perm)
        for m in range(n // 2):
            coop += _donate_public(
                rules, key, m, perm[2 * m], perm[2 * m + 1], strategy, rep, payoff, weight
            )
        donations = n // 2
    else:
        for i in range(n):
            donor, recipient = _random_pair(key, i, n)
            coop += _donate_public(rules, key, i, donor, recipient, strategy, rep, payoff, weight)
        donations = n
    if rules.judges > 0:
        _reassess(
            rules.bits, rules.rule, rules.e1, rules.e2, rules.q_know, rules.judges, rules.need,
            key, strategy, rep, work,
        )  # fmt: skip
        rep[:] = work
    return coop, donations


@njit(cache=True, parallel=True)
def _reassess(
    table: int,
    rule: int,
    e1: float,
    e2: float,
    q_know: float,
    judges: int,
    need: int,
    key: int,
    strategy: np.ndarray,
    rep: np.ndarray,
    new: np.ndarray,
) -> None:
    """An independent institution's verdict on every agent, from this round's reputations.

    The synchronous scheme of Radzvilavicius, Kessinger & Plotkin (2021, their published code):
    each of ``judges`` judges picks a recipient of its own at random among the others, sees the
    agent act towards it (knowledge, rule and execution error as in any donation), applies the
    norm and errs with ``e2``; the agent is good when at least ``need`` judges say good. Judge
    ``s`` of agent ``t`` draws ``uniform(k_t, s, J_*)`` with ``k_t = bits(key, t, J_JUDGES)``,
    so verdicts do not depend on the order or the number of threads. O(N × Q) a round; the
    count stops as soon as the verdict is settled, which changes no draw.
    """
    n = strategy.size
    for t in prange(n):
        jkey = int(int64(bits(key, t, J_JUDGES)))
        d_good = int(rep[t])
        s_t = int(strategy[t])
        good = 0
        for s in range(judges):
            if good >= need or good + judges - s < need:
                break
            r = int(uniform(jkey, s, J_RECIP) * (n - 1))
            if r >= t:
                r += 1
            r_good = int(rep[r])
            action = _act(jkey, s, rule, s_t, d_good, r_good, e1, q_know)
            verdict = (table >> (4 * d_good + 2 * action + r_good)) & 1
            good += verdict ^ int(uniform(jkey, s, J_ASSESS) < e2)
        new[t] = int8(good >= need)


@njit(cache=True)
def measure_public(
    rep: np.ndarray, strategy: np.ndarray, threshold: int, good_pairs: np.ndarray, pairs: np.ndarray
) -> None:
    """Add this round's (observer, other agent) pairs, and the good ones, by the other's
    strategy."""
    n = rep.size
    good = np.zeros(N_STRATEGIES, np.int64)
    count = np.zeros(N_STRATEGIES, np.int64)
    for t in range(n):
        s = strategy[t]
        count[s] += 1
        if rep[t] >= threshold:
            good[s] += 1
    for s in range(N_STRATEGIES):
        good_pairs[s] += good[s] * (n - 1)
        pairs[s] += count[s] * (n - 1)


# ---------------------------------------------------------------------------------------------
# private reputations: bit-packed views, one row per agent viewed


@njit(cache=True, inline="always")
def _observer_key(key: int, i: int) -> int:
    """The key of donation ``i``'s observers' draws, derived from the round's key."""
    return int(int64(bits(key, i, J_OBS)))


@njit(cache=True, inline="always")
def _bit(word: np.uint64, k: int) -> int:
    return int(int64((word >> uint64(k & 63)) & _ONE))  # signed: uint64 would spread to floats


@njit(cache=True, inline="always")
def _seen_by_all(
    table: int,
    e2: float,
    q_obs: float,
    log_miss: float,
    views: np.ndarray,
    okey: int,
    donor: int,
    recipient: int,
    action: int,
) -> None:
    """Every observer of the donation judges the donor by its own views and updates row ``donor``.

    The donor and the recipient always observe; every other agent with probability ``q_obs``.
    Writes row ``donor`` only, reads rows ``donor`` and ``recipient``, a word of 64 observers at a
    time. From :data:`SPARSE` up, each candidate is tested with one draw and its judgement kept or
    not without a branch; below, observers are found by geometric gaps (one draw and a log each),
    so that a donation costs O(q_obs × N).
    """
    n, words = views.shape
    if q_obs >= SPARSE:
        for w in range(words):
            word, rword = views[donor, w], views[recipient, w]
            for k in range(w << 6, min(n, (w + 1) << 6)):
                seen = uniform(okey, k, J_GAP) < q_obs and k != donor and k != recipient
                judged = _judged(table, e2, okey, k, word, rword, action)
                word = judged if seen else word
            views[donor, w] = word
    elif q_obs > 0.0:
        cur = -1
        word = rword = uint64(0)
        k, j = -1, 0
        while True:
            gap = math.log(1.0 - uniform(okey, j, J_GAP)) / log_miss  # may be huge: test first
            j += 1
            if k + 1 + gap >= n:
                break
            k += 1 + int(gap)
            w = k >> 6
            if w != cur:
                if cur >= 0:
                    views[donor, cur] = word
                cur, word, rword = w, views[donor, w], views[recipient, w]
            if k != donor and k != recipient:
                word = _judged(table, e2, okey, k, word, rword, action)
        if cur >= 0:
            views[donor, cur] = word
    for k in (donor, recipient):  # they always observe, and were left out above
        w = k >> 6
        views[donor, w] = _judged(table, e2, okey, k, views[donor, w], views[recipient, w], action)


@njit(cache=True, inline="always")
def _judged(
    table: int,
    e2: float,
    okey: int,
    k: int,
    word: np.uint64,
    rword: np.uint64,
    action: int,
) -> np.uint64:
    """``word`` (observers' views of the donor) with observer ``k``'s new judgement in bit k."""
    shift = uint64(k & 63)
    verdict = (table >> (4 * _bit(word, k) + 2 * action + _bit(rword, k))) & 1
    verdict ^= int(uniform(okey, k, J_ERR) < e2)
    return (word & ~(_ONE << shift)) | (uint64(verdict) << shift)


@njit(cache=True, inline="always")
def _act_private(
    rules: Rules,
    key: int,
    i: int,
    strategy: np.ndarray,
    views: np.ndarray,
    donor: int,
    recipient: int,
) -> int:
    """The donor decides by its own view of itself and of the recipient."""
    d_good = _bit(views[donor, donor >> 6], donor)
    r_good = _bit(views[recipient, donor >> 6], donor)
    return _act(key, i, rules.rule, int(strategy[donor]), d_good, r_good, rules.e1, rules.q_know)


@njit(cache=True)
def round_private(
    rules: Rules,
    key: int,
    strategy: np.ndarray,
    views: np.ndarray,
    payoff: np.ndarray,
    perm: np.ndarray,
    weight: float,
    actions: np.ndarray,
) -> tuple[int, int]:
    """One round under private views; returns (cooperations, donations).

    ``views[t]`` holds, bit-packed, what every agent thinks of agent ``t``. ``actions`` is a work
    array of at least ``N // 2`` entries.
    """
    n = strategy.size
    table = rules.bits
    log_miss = math.log1p(-rules.q_obs) if 0.0 < rules.q_obs < SPARSE else 0.0
    coop = 0
    if rules.pairing == RANDOM:
        for i in range(n):
            donor, recipient = _random_pair(key, i, n)
            action = _act_private(rules, key, i, strategy, views, donor, recipient)
            _pay(action, payoff, donor, recipient, rules.b, rules.c, weight)
            coop += action
            okey = _observer_key(key, i)
            _seen_by_all(
                table, rules.e2, rules.q_obs, log_miss, views, okey, donor, recipient, action
            )
        return coop, n
    _shuffle(key, perm)
    pairs = n // 2
    _pairs_private(rules, key, views, strategy, perm, actions, pairs, log_miss)
    for m in range(pairs):
        action = int(actions[m])
        _pay(action, payoff, perm[2 * m], perm[2 * m + 1], rules.b, rules.c, weight)
        coop += action
    return coop, pairs


@njit(cache=True, parallel=True)
def _pairs_private(
    rules: Rules,
    key: int,
    views: np.ndarray,
    strategy: np.ndarray,
    perm: np.ndarray,
    actions: np.ndarray,
    pairs: int,
    log_miss: float,
) -> None:
    """All pairs of a round at once. Pair ``m`` reads rows ``donor`` and ``recipient`` and writes
    row ``donor``; donors are distinct and no recipient donates, so pairs share nothing."""
    table = rules.bits
    for m in prange(pairs):
        donor, recipient = perm[2 * m], perm[2 * m + 1]
        action = _act_private(rules, key, m, strategy, views, donor, recipient)
        actions[m] = action
        okey = _observer_key(key, m)
        _seen_by_all(table, rules.e2, rules.q_obs, log_miss, views, okey, donor, recipient, action)


@njit(cache=True, inline="always")
def _popcount(x: np.uint64) -> int:
    x = x - ((x >> uint64(1)) & uint64(0x5555555555555555))
    x = (x & uint64(0x3333333333333333)) + ((x >> uint64(2)) & uint64(0x3333333333333333))
    x = (x + (x >> uint64(4))) & uint64(0x0F0F0F0F0F0F0F0F)
    return int(int64((x * uint64(0x0101010101010101)) >> uint64(56)))


@njit(cache=True, parallel=True)
def measure_private(
    views: np.ndarray, strategy: np.ndarray, good_pairs: np.ndarray, pairs: np.ndarray
) -> None:
    """Add this round's (observer, other agent) pairs, and the good ones, by the other's strategy.

    An agent's view of itself is left out.
    """
    n, words = views.shape
    per_row = np.zeros(n, np.int64)
    for t in prange(n):
        total = 0
        for w in range(words):
            total += _popcount(views[t, w])
        per_row[t] = total - _bit(views[t, t >> 6], t)
    for t in range(n):
        s = strategy[t]
        good_pairs[s] += per_row[t]
        pairs[s] += n - 1


# ---------------------------------------------------------------------------------------------
# evolution


@njit(cache=True)
def imitate(
    key: int,
    strategy: np.ndarray,
    payoff: np.ndarray,
    selection: float,
    mutation: float,
    allowed: np.ndarray,
) -> None:
    """Everyone revises at once: with probability ``mutation`` a random strategy of ``allowed``;
    otherwise copy a random other agent's strategy with probability
    ``1 / (1 + exp(-selection × (its payoff - own payoff)))`` (pairwise comparison, Fermi rule).
    """
    n = strategy.size
    new = strategy.copy()
    for i in range(n):
        if uniform(key, i, J_MUTATE) < mutation:
            new[i] = allowed[int(uniform(key, i, J_MUTANT) * allowed.size)]
            continue
        model = int(uniform(key, i, J_MODEL) * (n - 1))
        if model >= i:
            model += 1
        p = 1.0 / (1.0 + math.exp(-selection * (payoff[model] - payoff[i])))
        if uniform(key, i, J_IMITATE) < p:
            new[i] = strategy[model]
    strategy[:] = new


# ---------------------------------------------------------------------------------------------
# a block of rounds inside one generation


class Tally(NamedTuple):
    """Sums over the measured rounds, by strategy where indexed [3]."""

    acts: np.ndarray  # int64[2]: cooperations, donations
    good_pairs: np.ndarray  # int64[3]: (observer, other) pairs in which the other is seen good
    pairs: np.ndarray  # int64[3]: (observer, other) pairs
    pay: np.ndarray  # float64[3]: weighted payoffs received and paid
    weight: np.ndarray  # float64[3]: round weight × agents, the payoffs' denominator


class History(NamedTuple):
    """One row per round."""

    good: np.ndarray  # float64[T]: good fraction over pairs of distinct agents
    cooperation: np.ndarray  # float64[T]: share of donations that were cooperations
    counts: np.ndarray  # int64[T, 3]: agents by strategy


@njit(cache=True)
def _by_strategy(
    strategy: np.ndarray, payoff: np.ndarray, counts: np.ndarray, paid: np.ndarray
) -> None:
    """Agents and their payoffs so far, by strategy (strategies change only between generations,
    so a round's payoffs by strategy are the difference of two of these)."""
    counts[:] = 0
    paid[:] = 0.0
    for i in range(strategy.size):
        counts[strategy[i]] += 1
        paid[strategy[i]] += payoff[i]


@njit(cache=True)
def play_rounds(
    rules: Rules,
    seed: int,
    t0: int,
    t1: int,
    generation_start: int,
    discount: float,
    measured_from: int,
    strategy: np.ndarray,
    rep: np.ndarray,
    views: np.ndarray,
    payoff: np.ndarray,
    perm: np.ndarray,
    work: np.ndarray,
    tally: Tally,
    history: History,
) -> float:
    """Rounds ``t0 .. t1 - 1`` of the generation that began at ``generation_start``.

    Private views are used when ``views`` has rows, public reputations ``rep`` otherwise.
    ``work`` is int8[N // 2] for private pairs and int8[N] under an independent institution.
    Returns the sum of the rounds' weights.
    """
    private = views.shape[0] > 0
    paid = np.zeros(N_STRATEGIES, np.float64)  # this generation's payoffs so far, by strategy
    good_pairs = np.zeros(N_STRATEGIES, np.int64)
    pairs = np.zeros(N_STRATEGIES, np.int64)
    counts = np.zeros(N_STRATEGIES, np.int64)
    _by_strategy(strategy, payoff, counts, paid)
    weights = 0.0
    for t in range(t0, t1):
        key = step_key(seed, STREAM_GAMES, t)
        weight = discount ** (t - generation_start)
        weights += weight
        if private:
            coop, donations = round_private(rules, key, strategy, views, payoff, perm, weight, work)
        else:
            coop, donations = round_public(rules, key, strategy, rep, payoff, perm, weight, work)
        good_pairs[:] = 0
        pairs[:] = 0
        if private:
            measure_private(views, strategy, good_pairs, pairs)
        else:
            measure_public(rep, strategy, rules.threshold, good_pairs, pairs)
        before = paid.copy()
        _by_strategy(strategy, payoff, counts, paid)
        history.good[t] = good_pairs.sum() / pairs.sum()
        history.cooperation[t] = coop / donations if donations else math.nan
        history.counts[t, :] = counts
        if t >= measured_from:
            tally.acts[0] += coop
            tally.acts[1] += donations
            for s in range(N_STRATEGIES):
                tally.good_pairs[s] += good_pairs[s]
                tally.pairs[s] += pairs[s]
                tally.pay[s] += paid[s] - before[s]
                tally.weight[s] += weight * counts[s]
    return weights
