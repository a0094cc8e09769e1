"""Norm tables: the built-ins as published and as a second implementation has them; user tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from scslab.errors import ScenarioError
from scslab.games import NORMS, Norm, load_norm, resolve_norm
from scslab.games.norms import C, D

#: The leading eight as yohm/sim_indirect_recip_stochastic (Norm.hpp, commit 0a2fba55) writes
#: them: assessment P(G | donor, recipient, action) at index 4·donor + 2·recipient + action, and
#: action rule P(C | donor, recipient) at index 2·donor + recipient (0 = B or D, 1 = G or C).
SECOND_IMPLEMENTATION = {
    "L1": ("01011101", "1101"),
    "L2": ("01011001", "1101"),
    "L3": ("11011101", "0101"),
    "L4": ("10011101", "0101"),
    "L5": ("11011001", "0101"),
    "L6": ("10011001", "0101"),
    "L7": ("00011101", "0101"),
    "L8": ("00011001", "0101"),
    "scoring": ("01010101", "0101"),  # its ImageScoring() with the discriminator rule DISC()
}


@pytest.mark.parametrize("name", list(SECOND_IMPLEMENTATION))
def test_tables_agree_with_a_second_public_implementation(name: str) -> None:
    """Every assessment and action entry matches yohm/sim_indirect_recip_stochastic's Norm.hpp."""
    assess, action = SECOND_IMPLEMENTATION[name]
    table, rule = NORMS[name].table(), NORMS[name].rule()
    for d in (0, 1):
        for r in (0, 1):
            assert rule[d, r] == int(action[2 * d + r]), (name, d, r)
            for a in (D, C):
                assert table[d, a, r] == int(assess[4 * d + 2 * r + a]), (name, d, r, a)


@pytest.mark.parametrize("name", [f"L{i}" for i in range(1, 9)])
def test_each_leading_norm_cooperates_exactly_where_cooperation_is_judged_better(
    name: str,
) -> None:
    """The published action rules are the ones Ohtsuki & Iwasa derive from the assessments."""
    norm = NORMS[name]
    derived = Norm(name="derived", assessment=norm.assessment).rule()
    np.testing.assert_array_equal(derived, norm.rule())


def test_the_second_order_norms_have_their_usual_cells() -> None:
    """L3 is Simple Standing and L6 is Stern Judging, both independent of the donor; Shunning
    judges every action toward a bad recipient bad; Scoring looks at the action only."""
    for third, second in (("L3", "simple-standing"), ("L6", "stern-judging")):
        np.testing.assert_array_equal(NORMS[third].table(), NORMS[second].table())
    assert NORMS["stern-judging"].order == 2 and NORMS["L1"].order == 3
    shun, score = NORMS["shunning"].table(), NORMS["scoring"].table()
    assert (shun[:, :, 0] == 0).all() and (shun[:, C, 1] == 1).all() and (shun[:, D, 1] == 0).all()
    assert (score[:, C, :] == 1).all() and (score[:, D, :] == 0).all()
    np.testing.assert_array_equal(NORMS["stern-judging"].rule(), [[D, C], [D, C]])


def test_names_are_forgiving_and_unknown_ones_get_a_suggestion() -> None:
    assert resolve_norm("l1") is NORMS["L1"]
    assert resolve_norm("Stern_Judging") is NORMS["stern-judging"]
    with pytest.raises(ValueError, match="did you mean 'shunning'"):
        resolve_norm("shuning")


def test_a_users_norm_file_in_letters_or_numbers(tmp_path: Path) -> None:
    """A second-order table in letters and a third-order one in 0/1 both load; the third-order
    one without an action rule gets the derived one."""
    letters = tmp_path / "mine.yaml"
    letters.write_text("name: mine\nassessment:\n  - [G, B]\n  - [B, G]\naction: [D, C]\n")
    np.testing.assert_array_equal(load_norm(letters).table(), NORMS["stern-judging"].table())
    numbers = tmp_path / "l8.json"
    numbers.write_text('{"assessment": [[[0, 0], [0, 1]], [[1, 0], [0, 1]]]}')
    loaded = load_norm(numbers)
    assert loaded.name == "l8" and loaded.order == 3
    np.testing.assert_array_equal(loaded.table(), NORMS["L8"].table())
    np.testing.assert_array_equal(loaded.rule(), NORMS["L8"].rule())


@pytest.mark.parametrize(
    ("assessment", "message"),
    [
        ("[[G, B], [B, G], [G, G]]", "this one is 3×2"),
        ("[[G, B], [B]]", "ragged"),
        ("[G, B]", "this one is 2"),
        ("[[G, X], [B, G]]", "entries must be G or B"),
        ("[[[G, B], [B, G]], [[G, B], [B, G]], [[G, B], [B, G]]]", "this one is 3×2×2"),
    ],
)
def test_a_table_of_the_wrong_shape_is_refused_where_it_stands(
    tmp_path: Path, assessment: str, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: bad\nassessment: {assessment}\n")
    with pytest.raises(ScenarioError, match=message) as err:
        load_norm(path)
    assert f"{path}:2:" in str(err.value)


def test_an_action_rule_of_the_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="an action rule is 2"):
        Norm(name="x", assessment=[[1, 0], [0, 1]], action=[[1, 0, 1], [0, 1, 1]])
