"""The game layer reproduces two classic published results (docs/validation.md).

Each test simulates the published model with scslab's kernels and compares the simulated figure
with the number printed in the paper's table (as quoted in docs/validation.md). Nothing is
computed from the expected values. Run this file as a script to print our numbers.
"""

from __future__ import annotations

import pytest

from scslab.games import GameConfig, play

# --- A. Nowak & Sigmund (1998) Nature 393:573, the simplified image-scoring model -------------

W = 0.9  # probability that another round follows
ROUNDS = 100  # rounds per generation simulated; w**100 < 3e-5, so later rounds weigh nothing here
AGENTS = 1000

#: x (discriminators' share), q (chance the donor knows the recipient's image), D_i - D_e
TABLE_A = [(0.9, 0.10, -0.1307), (0.9, 0.20, +0.2318), (0.5, 0.20, -0.0828), (0.5, 0.30, +0.0977)]
TOLERANCE_A = 0.02


def nowak_sigmund(x: float, q: float, seed: int = 1) -> float:
    """Simulated D_i - D_e: discriminators' minus defectors' payoff, Σ_t w^t × payoff in round t.

    Everyone starts a generation with image 1 (good); each round the population is split into
    random pairs with random roles; a discriminator knows the recipient's image with probability
    q and helps unless it knows the image is 0; the donor's image becomes 1 if it helped, 0 if
    not (the 'scoring' norm, no errors). With few defectors (x = 0.9) their mean payoff is noisy,
    so more generations are played.
    """
    generations = 2000 if x > 0.7 else 800
    config = GameConfig(
        norm="scoring",
        pairing="pairs",
        strategies={"disc": x, "alld": round(1 - x, 12)},
        q_know=q,
        e1=0.0,
        e2=0.0,
        b=1.0,
        c=0.1,
        agents=AGENTS,
        discount=W,
        generation=ROUNDS,
        fresh_reputations=True,
        steps=ROUNDS * generations,
        burn_in=0,
        seed=seed,
    )
    result = play(config)
    per_round = result.payoff_by_strategy
    assert per_round["disc"] is not None and per_round["alld"] is not None
    # payoff_by_strategy is per round, rounds weighted w^t; a generation weighs Σ_t w^t
    weight = sum(W**t for t in range(ROUNDS))
    return (per_round["disc"] - per_round["alld"]) * weight


@pytest.mark.parametrize(("x", "q", "published"), TABLE_A)
def test_nowak_sigmund_1998_discriminators_minus_defectors(
    x: float, q: float, published: float
) -> None:
    """D_i - D_e at b=1, c=0.1, w=0.9, N=1000 matches the published table within ±0.02,
    including its sign: discriminators win only when x > c(2-w)/(bqw)."""
    simulated = nowak_sigmund(x, q)
    assert simulated == pytest.approx(published, abs=TOLERANCE_A)
    assert (simulated > 0) == (published > 0)


# --- B. Ohtsuki & Iwasa (2004, 2006), the leading eight under public reputations --------------

#: norm, e (execution error), μ (assessment error), published h*, published cooperation
TABLE_B = [
    *[(n, 0.05, 0.02, 0.9349, 0.8922) for n in ("L1", "L2")],
    *[(n, 0.05, 0.02, 0.9351, 0.8884) for n in ("L3", "L4", "L5", "L6")],
    *[(n, 0.05, 0.02, 0.9307, 0.8842) for n in ("L7", "L8")],
    ("L1", 0.1, 0.1, 0.8312, 0.7737),
    *[(n, 0.1, 0.1, 0.8333, 0.7500) for n in ("L3", "L6")],
    ("L8", 0.1, 0.1, 0.8052, 0.7247),
]
TOLERANCE_B = 0.003


def ohtsuki_iwasa(norm: str, e: float, mu: float, seed: int = 7) -> tuple[float, float]:
    """Simulated (h*, cooperation): everyone uses ``norm``; each step a random donor acts toward
    a random other recipient; an intended C becomes D with probability e; only the donor is
    reassessed, then its reputation flipped with probability μ. 5,000 rounds of N steps after
    100 rounds of burn-in."""
    config = GameConfig(
        norm=norm,
        pairing="random",
        strategies="disc=1",
        e1=e,
        e2=mu,
        agents=AGENTS,
        steps=5100,
        burn_in=100,
        seed=seed,
    )
    result = play(config)
    return result.good_fraction, result.cooperation


@pytest.mark.parametrize(("norm", "e", "mu", "h", "cooperation"), TABLE_B)
def test_ohtsuki_iwasa_leading_eight_equilibrium(
    norm: str, e: float, mu: float, h: float, cooperation: float
) -> None:
    """The good fraction h* and the cooperation rate match the published values within ±0.003."""
    good, coop = ohtsuki_iwasa(norm, e, mu)
    assert good == pytest.approx(h, abs=TOLERANCE_B)
    assert coop == pytest.approx(cooperation, abs=TOLERANCE_B)


if __name__ == "__main__":
    print("A. Nowak & Sigmund 1998: x, q, published, ours")
    for x, q, published in TABLE_A:
        print(f"  {x:.1f}  {q:.2f}  {published:+.4f}  {nowak_sigmund(x, q):+.4f}")
    print("B. Ohtsuki & Iwasa: norm, e, mu, published h*, ours, published cooperation, ours")
    for norm, e, mu, h, cooperation in TABLE_B:
        good, coop = ohtsuki_iwasa(norm, e, mu)
        print(f"  {norm} {e:.2f} {mu:.2f}  {h:.4f} {good:.4f}  {cooperation:.4f} {coop:.4f}")
