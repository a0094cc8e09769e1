"""Institutions as Radzvilavicius, Kessinger & Plotkin (2021) define them, against their model.

Radzvilavicius, A. L., Kessinger, T. A. & Plotkin, J. B. (2021) Adherence to public institutions
that foster cooperation. *Nat. Commun.* 12:3567. Their code: github.com/tkessinger/institutions,
``module/Institutions.jl`` (commit e8aa98e).

The published model, as that code plays it (``update_actions_and_fitnesses!`` and
``update_reputations!``): every round each donor acts towards recipients according to the
institution's public reputations, an intended cooperation failing with probability ``u_p`` (our
e1). Then each of the Q institution members, for every donor, picks a random recipient of its
own, applies the norm to the donor's action towards it and that recipient's public reputation,
and errs with probability ``u_a`` (our e2). The donor is broadcast good when more than ``q × Q``
members say good; all reputations change at once.

For a population of discriminators in a large population this gives the recursion below
(:func:`published`): a member judges a donor good with probability
``h(g) = g ε + (1 − g)(1 − e2)`` under Stern Judging, ``ε = (1 − e1)(1 − e2) + e1 e2``
(cooperating with a good recipient, kept or failed, and judged with error; defecting against a
bad one), the members judge independently, so ``g' = P(Binomial(Q, h(g)) > qQ)``; cooperation is
``(1 − e1) g``. It is written here from the paper's model, not from scslab's code.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from scslab.cli.game import game
from scslab.games import GameConfig, institution_odds, play

E1 = E2 = 0.02  # the paper's u_p and u_a (submit/paper_institutions_noRDisc.json)


def published(size: int, strictness: float, e1: float, e2: float) -> tuple[float, float]:
    """The published model's stationary good fraction and cooperation, discriminators only,
    Stern Judging: the fixed point of ``g' = P(Binomial(Q, g ε + (1 − g)(1 − e2)) > qQ)``
    reached from everyone good, and ``(1 − e1) g``."""
    eps = (1 - e1) * (1 - e2) + e1 * e2
    need = math.floor(strictness * size + 1e-9) + 1  # more than q × Q members
    g = 1.0
    for _ in range(100_000):
        h = g * eps + (1 - g) * (1 - e2)
        new = math.fsum(
            math.comb(size, j) * h**j * (1 - h) ** (size - j) for j in range(need, size + 1)
        )
        if abs(new - g) < 1e-15:
            break
        g = new
    return g, (1 - e1) * g


def institution(size: int, strictness: float, **settings: Any) -> GameConfig:
    base: dict[str, Any] = dict(
        norm="stern-judging",
        observation="institution",
        institution_size=size,
        strictness=strictness,
        e1=E1,
        e2=E2,
        strategies="disc=1",
        agents=1000,
        steps=600,
        burn_in=100,
        seed=3,
    )
    return GameConfig(**{**base, **settings})


# the paper's Q and q (Fig. 3: Q = 1, 2, 50; q = 0.1 ... 0.9), and the Q = 5, q = 0.9
CASES = [(1, 0.5), (2, 0.3), (2, 0.7), (5, 0.9), (50, 0.5), (50, 0.9)]


@pytest.mark.parametrize(("size", "strictness"), CASES)
def test_independent_institution_reproduces_the_published_model(
    size: int, strictness: float
) -> None:
    """Good fraction and cooperation within 0.005 of the published model's, for the paper's
    institution sizes and strictness (a run's standard error is under 0.001)."""
    good, cooperation = published(size, strictness, E1, E2)
    r = play(institution(size, strictness))
    assert r.good_fraction == pytest.approx(good, abs=0.005)
    assert r.cooperation == pytest.approx(cooperation, abs=0.005)


def test_the_protocols_agree_for_one_judge_and_part_for_five() -> None:
    """One judge: a shared action is the judge's own, so both settle on the same good fraction.
    Five judges who must all agree: a shared action lets one execution error reach every judge
    at once, and the shared protocol follows its own closed form, not the published one."""
    one = [play(institution(1, 0.5, institution_protocol=p)) for p in ("independent", "shared")]
    assert one[0].good_fraction == pytest.approx(one[1].good_fraction, abs=0.005)
    independent = play(institution(5, 0.9))
    shared = play(institution(5, 0.9, institution_protocol="shared"))
    p_good, p_bad = institution_odds(5, 0.9, E2)
    # shared, Stern Judging, discriminators: a donor is judged by the norm's verdict on its one
    # donation, bad only when an intended cooperation with a good recipient failed
    assert shared.good_fraction == pytest.approx(p_good / (1 + E1 * (p_good - p_bad)), abs=0.005)
    assert shared.good_fraction > independent.good_fraction + 0.04


def test_a_discriminator_who_does_not_know_assumes_good() -> None:
    """q_know reaches the judges' observations too: with q_know = 0 every discriminator helps,
    and under Stern Judging an agent helping a bad recipient is judged bad."""
    r = play(institution(5, 0.5, q_know=0.0, steps=300))
    blind = published(5, 0.5, E1, E2)[1]
    assert r.cooperation == pytest.approx(1 - E1, abs=0.005)  # every intent is to cooperate
    assert r.cooperation > blind


def test_the_documented_command_agrees_with_the_published_model() -> None:
    """The command of issue 19 (1,000 agents, 1,000 rounds, Q = 5, q = 0.9): the published model
    gives good fraction 0.8326 and cooperation 0.8159; ``--json`` echoes every setting."""
    app = typer.Typer()
    app.command()(game)
    app.command(name="unused")(lambda: None)  # keeps "game" a subcommand, as in scslab
    done = CliRunner().invoke(app, [
        "game", "--norm", "stern-judging", "--observation", "institution",
        "--institution-size", "5", "--strictness", "0.9",
        "--institution-protocol", "independent", "--e1", "0.02",
        "--e2", "0.02", "--strategies", "disc=1", "--no-evolve", "--agents", "1000", "--json",
    ])  # fmt: skip
    assert done.exit_code == 0, done.stderr
    out = json.loads(done.stdout)
    good, cooperation = published(5, 0.9, 0.02, 0.02)
    assert (round(good, 4), round(cooperation, 4)) == (0.8326, 0.8159)
    assert out["good_fraction"] == pytest.approx(good, abs=0.005)
    assert out["cooperation"] == pytest.approx(cooperation, abs=0.005)
    settings = out["settings"]
    assert settings["institution_protocol"] == "independent"
    assert settings["institution_size"] == 5 and settings["strictness"] == 0.9
    assert settings["burn_in"] == 200 and settings["steps"] == 1000 and settings["q_know"] == 1.0
    assert set(settings) == set(GameConfig.model_fields) | {"norm_table", "norm_action"}


if __name__ == "__main__":  # the "ours" column of docs/validation.md
    for size in (1, 2, 50):
        for strictness in (0.1, 0.3, 0.5, 0.7, 0.9):
            good, coop = published(size, strictness, E1, E2)
            r = play(institution(size, strictness))
            s = play(institution(size, strictness, institution_protocol="shared"))
            print(
                f"| {size} | {strictness} | {good:.4f} | {r.good_fraction:.4f} | {coop:.4f} "
                f"| {r.cooperation:.4f} | {s.good_fraction:.4f} | {s.cooperation:.4f} |"
            )
