"""The step's lookup tables give, draw for draw, what the plain computations give."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from scslab.behaviour.rates import cumulative
from scslab.engine.compiled import MAX_BITS, compile_scheme
from scslab.engine.kernels import (
    MAX_EVENTS,
    NEVER_NEEDED,
    _bit_index,
    _count_below,
    _pick,
    _poisson_count,
    draws,
    friend_needs,
    guide_table,
    poisson_cdf,
)
from scslab.errors import SchemeError
from scslab.population.network import MAX_DEGREE
from scslab.schemes import parse_scheme

UNIFORMS = st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=50)


@njit(cache=True)
def _counts(
    cdf: np.ndarray, p0: float, lam: float, us: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    looked_up = np.empty(us.shape[0], np.int64)
    summed = np.empty(us.shape[0], np.int64)
    for j in range(us.shape[0]):
        looked_up[j] = _count_below(cdf, 0, 0, us[j])
        summed[j] = _poisson_count(us[j], p0, lam)
    return looked_up, summed


@njit(cache=True)
def _picks(cum: np.ndarray, guide: np.ndarray, us: np.ndarray) -> np.ndarray:
    out = np.empty(us.shape[0], np.int64)
    for j in range(us.shape[0]):
        out[j] = _pick(cum, guide, 0, 0, us[j])
    return out


@settings(max_examples=200, deadline=None)
@given(lam=st.floats(0, 40), us=UNIFORMS)
def test_counts_looked_up_in_the_table_equal_counts_summed_term_by_term(
    lam: float, us: list[float]
) -> None:
    """Poisson counts by table (the step) and by summing terms (unscored acts) agree bit for bit,
    in the tail beyond the four comparisons made without branches too."""
    u = np.array([*us, 0.0, np.nextafter(1.0, 0.0)])
    lams = np.array([[lam]])
    # e^-lam as numpy computes it, as the engine did before the table (numba's may differ in
    # the last bit, which moves counts for draws within an ulp of 1)
    looked_up, summed = _counts(poisson_cdf(lams), float(np.exp(-lams)[0, 0]), lam, u)
    assert np.array_equal(looked_up, summed)
    assert looked_up.max() <= MAX_EVENTS


@settings(max_examples=200, deadline=None)
@given(
    rates=st.lists(st.sampled_from([0.0, 1e-9, 0.001, 0.3, 1.0, 7.0]), min_size=1, max_size=40),
    us=UNIFORMS,
)
def test_kinds_found_from_the_guide_table_are_those_a_sorted_search_finds(
    rates: list[float], us: list[float]
) -> None:
    """The first kind whose running share exceeds the draw, as a binary search finds it."""
    _, cum = cumulative(np.array([[rates]]))
    u = np.array([*us, *cum[0, 0, :-1]])  # draws exactly on the edges too
    u = u[u < 1.0]
    found = _picks(cum, guide_table(cum), u)
    expected = np.minimum(np.searchsorted(cum[0, 0], u, side="right"), len(rates) - 1)
    assert np.array_equal(found, expected)


def test_the_guide_table_has_at_least_two_entries_per_kind() -> None:
    for kinds in (1, 2, 3, 10, 44, 129):
        _, cum = cumulative(np.ones((1, 1, kinds)))
        G = guide_table(cum).shape[-1]
        assert 2 * kinds <= G and G & (G - 1) == 0


def test_draws_refuse_a_running_sum_that_does_not_end_at_one() -> None:
    empty = np.zeros(0, np.int32)
    short = np.array([[[0.5, 0.9]]])
    with pytest.raises(ValueError, match="end at exactly 1"):
        draws(np.ones((1, 1)), short, empty, np.zeros(1), np.zeros((1, 0)), empty, *[empty] * 4)


@njit(cache=True)
def _indices() -> np.ndarray:
    out = np.empty(62, np.int64)
    for d in range(62):
        out[d] = _bit_index(np.int64(1) << d)
    return out


def test_bit_indices_of_every_mask_bit() -> None:
    assert np.array_equal(_indices(), np.arange(62))


def test_a_scheme_with_more_groups_than_mask_bits_is_refused() -> None:
    """Consequence groups are bits of one int64 in the step: the 63rd is refused, not wrapped."""
    rewards = "\n".join(
        f"  - {{id: r{k}, trigger: {{score_at_least: {k + 1}}}, domain: finance, effect: e,"
        " assumed: true}"
        for k in range(MAX_BITS + 1)
    )
    text = f"""
id: many
name: Many rewards
subject: individuals
description: one reward per score
sources: {{paper: the seed paper}}
score: {{base: 0, min: 0, max: 100, assumed: true}}
categories: [{{id: c}}]
events:
  - {{id: jaywalking, category: c, points: 1, domain: transport, assumed: true}}
rewards:
{rewards}
"""
    with pytest.raises(SchemeError, match=f"at most {MAX_BITS}"):
        compile_scheme(parse_scheme(text, "many.yaml"), ("jaywalking",))


def test_friend_needs_round_a_share_of_friends_up_and_never_fire_without_friends() -> None:
    indptr = np.array([0, 0, 1, 4, 14])  # 0, 1, 3 and 10 friends
    need = friend_needs(indptr, np.array([0.3, 0.0, 1.0]))
    assert need.tolist() == [
        [NEVER_NEEDED, 1, 1, 3],  # 0.3 x 3 = 0.9 needs one low friend; 0.3 x 10 needs three
        [NEVER_NEEDED, 0, 0, 0],
        [NEVER_NEEDED, 1, 3, 10],
    ]


def test_friend_needs_fit_the_largest_degree_the_generator_draws() -> None:
    assert NEVER_NEEDED == MAX_DEGREE
    need = friend_needs(np.array([0, MAX_DEGREE]), np.array([1.0]))
    assert need.tolist() == [[MAX_DEGREE]]  # all of them low: reachable, since counts fit too
    with pytest.raises(ValueError, match="uint16"):
        friend_needs(np.array([0, MAX_DEGREE + 1]), np.array([1.0]))
