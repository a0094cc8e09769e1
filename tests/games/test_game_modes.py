"""The three ways of seeing reputations; errors, image scores, evolution; the scheme entry point."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import numba_threads
from scslab.errors import ScenarioError
from scslab.games import (
    ALLC,
    ALLD,
    DISC,
    Game,
    GameConfig,
    GameResult,
    institution_odds,
    play,
    play_donations,
)
from scslab.games.kernels import measure_private


def game(**settings: Any) -> GameResult:
    return play(GameConfig(**settings))


MIXED = dict(
    norm="L1", strategies="disc=0.6,allc=0.2,alld=0.2", e1=0.05, q_know=0.8, agents=400, steps=150
)


@pytest.mark.parametrize("pairing", ["pairs", "random"])
def test_one_judge_and_error_free_private_views_are_public_reputations(pairing: str) -> None:
    """A shared institution of one judge who needs a majority is the public model, draw for
    draw; so
    are private views when everyone sees everything and nobody misjudges."""
    public = game(**MIXED, pairing=pairing, e2=0.02, seed=5)
    one_judge = game(
        **MIXED,
        pairing=pairing,
        e2=0.02,
        seed=5,
        observation="institution",
        institution_size=1,
        institution_protocol="shared",
    )
    np.testing.assert_array_equal(public.history.good, one_judge.history.good)
    np.testing.assert_array_equal(public.history.cooperation, one_judge.history.cooperation)
    exact = game(**MIXED, pairing=pairing, e2=0.0, seed=5)
    private = game(**MIXED, pairing=pairing, e2=0.0, seed=5, observation="private", q_obs=1.0)
    np.testing.assert_array_equal(exact.history.good, private.history.good)
    assert exact.summary() == private.summary()


def _binomial_at_most(n: int, p: float, k: int) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


def test_institution_odds_count_judges_who_err_independently() -> None:
    """Good needs more than q × Q judges saying good; each of Q judges errs with e2."""
    p_good, p_bad = institution_odds(11, 0.5, 0.3)  # six of eleven must say good
    assert p_good == pytest.approx(_binomial_at_most(11, 0.3, 5))
    assert p_bad == pytest.approx(1 - _binomial_at_most(11, 0.3, 5))
    p_good, p_bad = institution_odds(10, 0.7, 0.2)  # eight of ten
    assert p_good == pytest.approx(_binomial_at_most(10, 0.2, 2))
    assert p_bad == pytest.approx(1 - _binomial_at_most(10, 0.2, 7))
    assert institution_odds(5, 1.0, 0.1) == (0.0, 0.0)  # nobody can be more than all


def test_an_institution_filters_assessment_errors_as_its_odds_predict() -> None:
    """The shared protocol (all judges assess the one observed donation). Under Simple
    Standing (L3) with discriminators only, a donor is judged good unless it defected against a
    good recipient, so h = (1 - e h) P_G + e h P_B, i.e. h = P_G / (1 + e (P_G - P_B)). Eleven
    judges at e2 = 0.3 keep h far above one judge."""
    e, e2 = 0.05, 0.3
    settings = dict(norm="L3", pairing="random", e1=e, e2=e2, agents=1000, steps=2100, burn_in=100)
    p_good, p_bad = institution_odds(11, 0.5, e2)
    expected = p_good / (1 + e * (p_good - p_bad))
    judged = game(
        **settings,
        observation="institution",
        institution_size=11,
        strictness=0.5,
        institution_protocol="shared",
    )
    assert judged.good_fraction == pytest.approx(expected, abs=0.003)
    alone = game(**settings, observation="public")
    assert alone.good_fraction == pytest.approx((1 - e2) / (1 + e * (1 - 2 * e2)), abs=0.003)
    assert judged.good_fraction > alone.good_fraction + 0.1


def test_private_views_of_unconditional_players_settle_where_the_errors_put_them() -> None:
    """Under Scoring an observer's view of a player is its judgement of the last action it saw:
    good with (1 - e1)(1 - e2) + e1 e2 for ALLC and e2 for ALLD, whatever q_obs."""
    e1, e2 = 0.1, 0.05
    r = game(
        norm="scoring",
        observation="private",
        q_obs=0.5,
        strategies="allc=0.5,alld=0.5",
        e1=e1,
        e2=e2,
        agents=400,
        steps=600,
        burn_in=100,
    )
    by = r.good_fraction_by_strategy
    assert by["allc"] == pytest.approx((1 - e1) * (1 - e2) + e1 * e2, abs=0.005)
    assert by["alld"] == pytest.approx(e2, abs=0.005)


def test_a_view_of_oneself_is_not_counted() -> None:
    """Good fractions run over pairs of distinct agents: the diagonal of the views is left out."""
    n = 3
    strategy = np.array([DISC, DISC, ALLD], np.int8)
    views = np.zeros((n, 1), np.uint64)
    for t in range(n):
        views[t, 0] = np.uint64(1 << t)  # each agent thinks only itself good
    good, pairs = np.zeros(3, np.int64), np.zeros(3, np.int64)
    measure_private(views, strategy, good, pairs)
    assert good.sum() == 0 and pairs.sum() == n * (n - 1)
    views[:, 0] = np.uint64(0b111) ^ views[:, 0]  # everyone thinks the others good, not itself
    good[:], pairs[:] = 0, 0
    measure_private(views, strategy, good, pairs)
    assert list(good) == [2, 0, 4] and list(pairs) == [2, 0, 4]


def test_sparse_and_dense_observation_agree() -> None:
    """Observers found by geometric gaps (q_obs < 0.3) and by one draw each (q_obs ≥ 0.3) see
    donations at the same rate: the private good fraction moves smoothly across the switch."""
    settings = dict(
        norm="stern-judging", observation="private", agents=300, steps=400, e1=0.02, e2=0.02
    )
    below = game(**settings, q_obs=0.299).good_fraction
    above = game(**settings, q_obs=0.301).good_fraction
    assert below == pytest.approx(above, abs=0.01)


def test_rarely_seen_donations_are_seen_by_donor_and_recipient_only() -> None:
    """With q_obs = 0, or so small that the first gap overshoots everyone, a defector is judged
    bad only by the agents it refused: after r rounds of pairs an agent has escaped a given other
    agent's refusal with probability (1 - 1/(2(N - 1)))^r."""
    n, steps = 1000, 1000
    miss = 1 - 1 / (2 * (n - 1))
    expected = float(np.mean([miss ** (r + 1) for r in range(steps // 5, steps)]))
    for q in (0.0, 1e-300):
        r = game(norm="scoring", observation="private", q_obs=q, strategies="alld=1", e2=0.0)
        assert r.good_fraction == pytest.approx(expected, abs=0.005)


def test_the_same_seed_gives_the_same_game_on_any_number_of_threads() -> None:
    """Bit for bit, in every mode; private pairs run in parallel, so one thread is compared with
    two; another seed gives another game."""
    for observation in ("public", "institution", "private"):
        config = GameConfig(**MIXED, observation=observation, seed=11, q_obs=0.4)
        with numba_threads(2):
            first = play(config)
        with numba_threads(1):
            again = play(config)
        np.testing.assert_array_equal(first.history.good, again.history.good)
        assert first.summary() == again.summary()
        other = play(config.model_copy(update={"seed": 12}))
        assert not np.array_equal(first.history.good, other.history.good)


def test_image_scores_climb_for_helpers_and_fall_for_defectors() -> None:
    """Image scoring: +1 for helping, -1 for refusing, kept within [-5, 5]; a discriminator helps
    recipients whose score is at least its threshold k (at k = -5 everyone, at k = 6 nobody)."""
    helpers = Game(GameConfig(norm="image-scoring", strategies="allc=1", e1=0, e2=0, steps=30))
    helpers.play()
    assert (helpers.rep == 5).all()
    defectors = Game(GameConfig(norm="image-scoring", strategies="alld=1", e1=0, e2=0, steps=30))
    r = defectors.play()
    assert (defectors.rep == -5).all() and r.good_fraction < 0.2
    settings = dict(norm="image-scoring", strategies="disc=0.5,alld=0.5", e1=0.0, steps=100)
    assert game(**settings, threshold=-5).cooperation == pytest.approx(0.5, abs=0.03)
    assert game(**settings, threshold=6).cooperation == 0.0  # nobody reaches 6


def test_image_scoring_punishes_justified_defection() -> None:
    """Refusing a defector lowers a discriminator's own score, so with enough defectors the
    discriminators' scores sink below the threshold and cooperation collapses, the flaw that
    standing norms repair (Leimar & Hammerstein 2001; Panchanathan & Boyd 2003)."""
    r = game(norm="image-scoring", strategies="disc=0.5,alld=0.5", threshold=0, steps=200)
    assert r.history.cooperation[0] > 0.4 and r.cooperation < 0.05
    standing = game(norm="simple-standing", strategies="disc=0.5,alld=0.5", steps=200)
    assert standing.cooperation > 0.2  # discriminators go on helping each other
    assert (standing.good_fraction_by_strategy["disc"] or 0.0) > 0.9


def test_execution_errors_turn_cooperation_into_defection_only() -> None:
    """ALLC cooperates at exactly 1 - e1 (up to sampling), and ALLD never cooperates."""
    r = game(norm="scoring", strategies="allc=1", e1=0.25, agents=1000, steps=200)
    assert r.cooperation == pytest.approx(0.75, abs=0.01)
    assert game(norm="scoring", strategies="alld=1", e1=0.25, steps=50).cooperation == 0.0


def test_evolution_spreads_the_better_paid_strategy() -> None:
    """Defectors displace unconditional cooperators; Stern Judging's discriminators displace
    defectors, who are judged bad and refused help."""
    evolve = dict(evolve=True, selection=10.0, mutation=0.0, agents=500, steps=400, generation=5)
    r = game(norm="stern-judging", strategies="allc=0.5,alld=0.5", **evolve)
    assert r.final_shares["alld"] > 0.95
    r = game(norm="stern-judging", strategies="disc=0.5,alld=0.5", **evolve)
    assert r.final_shares["disc"] > 0.95
    counts = r.history.counts
    assert (counts.sum(axis=1) == 500).all() and counts[-1, DISC] > counts[0, DISC]


def test_mutation_keeps_every_named_strategy_present() -> None:
    r = game(strategies="allc=0.5,alld=0.5,disc=0", evolve=True, mutation=0.2, steps=200)
    assert all(share > 0.02 for share in r.final_shares.values())


def test_play_donations_decides_against_a_reputation_the_caller_supplies() -> None:
    """The scheme entry point: ALLC always helps, ALLD never, a discriminator only good
    recipients; an execution error of one turns every cooperation into a defection."""
    strategy = np.array([ALLC, ALLD, DISC, DISC], np.int8)
    good = np.array([1, 0, 1, 0], np.int8)  # e.g. not on a blacklist
    donors = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    recipients = np.array([1, 2, 0, 2, 1, 3, 0, 1])
    acts = play_donations(donors, recipients, strategy, good, norm="stern-judging")
    np.testing.assert_array_equal(acts, [1, 1, 0, 0, 0, 0, 1, 0])
    assert not play_donations(donors, recipients, strategy, good, e1=1.0).any()
    blind = play_donations(donors, recipients, strategy, good, q_know=0.0)
    np.testing.assert_array_equal(blind, [1, 1, 0, 0, 1, 1, 1, 1])  # unknown means good
    with pytest.raises(ScenarioError, match="agent indices"):
        play_donations(np.array([4]), np.array([0]), strategy, good)
    with pytest.raises(ScenarioError, match="probability"):
        play_donations(donors, recipients, strategy, good, e1=1.5)


@settings(max_examples=25, deadline=None)
@given(
    observation=st.sampled_from(["public", "private", "institution"]),
    pairing=st.sampled_from(["pairs", "random"]),
    norm=st.sampled_from(["L1", "L7", "stern-judging", "shunning", "scoring"]),
    agents=st.integers(2, 70),
    shares=st.tuples(st.integers(0, 4), st.integers(0, 4), st.integers(1, 4)),
    e1=st.floats(0, 1),
    e2=st.floats(0, 1),
    q=st.floats(0, 1),
    seed=st.integers(0, 2**40),
)
def test_every_game_keeps_its_books(
    observation: str,
    pairing: str,
    norm: str,
    agents: int,
    shares: tuple[int, int, int],
    e1: float,
    e2: float,
    q: float,
    seed: int,
) -> None:
    """Whatever the settings: fractions lie in [0, 1], strategy counts add up to N, and the
    payoffs add up to (b - c) per cooperation (a donation moves value, it creates b - c)."""
    total = sum(shares)
    strategies = dict(zip(("allc", "alld", "disc"), (s / total for s in shares), strict=True))
    b, c = 3.0, 1.0
    r = game(
        observation=observation,
        pairing=pairing,
        norm=norm,
        agents=agents,
        strategies=strategies,
        e1=e1,
        e2=e2,
        q_obs=q,
        q_know=q,
        b=b,
        c=c,
        steps=12,
        seed=seed,
    )
    assert 0.0 <= r.good_fraction <= 1.0 and 0.0 <= r.cooperation <= 1.0
    assert (r.history.counts.sum(axis=1) == agents).all()
    donations = agents // 2 if pairing == "pairs" else agents
    paid = sum((r.payoff_by_strategy[s] or 0.0) * r.final_shares[s] * agents for s in strategies)
    assert paid == pytest.approx((b - c) * r.cooperation * donations, abs=1e-9)
