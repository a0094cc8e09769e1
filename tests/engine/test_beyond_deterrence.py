"""Behaviour beyond deterrence: reward seeking, gaming and avoidance, each a switch."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import scenario, scheme
from scslab.behaviour.model import Adaptation, Avoidance, Catalogue, Gaming, RewardSeeking
from scslab.engine.simulation import Simulation

REWARDS = """
id: rewards
name: One reward, one penalty
subject: individuals
description: volunteering earns, jaywalking costs
sources: {paper: the seed paper}
score: {base: 500, min: 0, max: 1000, source: paper}
categories: [{id: civic}]
events:
  - {id: volunteering, category: civic, points: 50, domain: civic, source: paper}
  - {id: jaywalking, category: civic, points: -20, domain: transport, source: paper}
  - {id: blood-donation, category: civic, points: 0, domain: health, source: paper}
sanctions:
  - id: watched
    trigger: {score_at_least: 1}
    domain: finance
    effect: everyone is under it
    source: paper
"""


def catalogue() -> Catalogue:
    def act(ident: str, lawful: bool, channel: str = "court") -> dict[str, object]:
        return {
            "id": ident,
            "name": ident,
            "domain": "civic",
            "lawful": lawful,
            "rate": 6.0,
            "channels": {channel: 0.8},
            "assumed": True,
        }

    return Catalogue.model_validate(
        {
            "acts": [
                act("volunteering", True),
                act("jaywalking", False),
                act("blood-donation", True),
                act("helping-elderly", True),
                act("on-time-bill-payment", True, "bank"),
            ],
            "channels": [
                {"id": c, "name": c, "false_record_ratio": 0.0, "assumed": True}
                for c in ("court", "bank")
            ],
        }
    )


def tables(adaptation: Adaptation) -> np.ndarray:
    sim = Simulation(
        scenario(200, 1).model_copy(update={"adaptation": adaptation}),
        scheme=scheme(REWARDS),
        catalogue=catalogue(),
        also_personal=("helping-elderly", "on-time-bill-payment"),
    )
    r = sim.rates
    out = np.zeros((r.rate.shape[0], r.rate.shape[1], len(r.act_ids)))
    out[:, :, r.personal] = r.rate
    return out


@pytest.mark.parametrize(
    ("switch", "factor"),
    [
        (Adaptation(reward_seeking=RewardSeeking(enabled=True, elasticity=0.5)), None),
        (Adaptation(gaming=Gaming(enabled=True, share=0.2, shift=1.5)), 1.3),
    ],
)
def test_reward_seeking_and_gaming_raise_the_rewarded_acts_and_nothing_else(
    switch: Adaptation, factor: float | None
) -> None:
    """Only volunteering, lawful and worth points, rises; every other act's rate, in every cell
    and class, stays exactly as it was."""
    before, after = tables(Adaptation()), tables(switch)
    vol = 0  # catalogue order
    if factor is None:  # exp(0.5 * P(recorded) * 50 / 100) with P = 0.8
        factor = float(np.exp(0.5 * 0.8 * 0.5))
    assert after[:, :, vol] == pytest.approx(before[:, :, vol] * factor, rel=1e-12)
    assert (after[:, :, 1:] == before[:, :, 1:]).all()


def test_avoidance_hides_the_sanctioned_peoples_platform_acts_only() -> None:
    """Everyone is under a sanction from the end of month 0. With avoidance of the bank channel
    at share 1, bill payments go unrecorded from month 1 on; acts the court records do not."""
    on = Adaptation(avoidance=Avoidance(enabled=True, share=1.0, channels=("bank",)))
    runs = {}
    for name, adaptation in (("off", Adaptation()), ("on", on)):
        sim = Simulation(
            scenario(2000, 3).model_copy(update={"adaptation": adaptation}),
            scheme=scheme(REWARDS),
            catalogue=catalogue(),
            also_personal=("helping-elderly", "on-time-bill-payment"),
        )
        runs[name] = sim.execute()[0]
    bill = 4
    off, hidden = runs["off"], runs["on"]
    assert off.ev_rec[1:, :, bill].sum() > 1000
    assert hidden.ev_rec[1:, :, bill].sum() == 0
    assert hidden.ev_rec[0, :, bill].sum() == off.ev_rec[0, :, bill].sum()  # not yet sanctioned
    assert (hidden.ev_true == off.ev_true).all()  # the acts themselves are as they were
    assert (hidden.ev_rec[:, :, :bill] == off.ev_rec[:, :, :bill]).all()


def test_the_switches_are_off_by_default_and_checked() -> None:
    a = Adaptation()
    assert not (a.reward_seeking.enabled or a.gaming.enabled or a.avoidance.enabled)
    with pytest.raises(ValueError, match="less than or equal to 1"):
        Gaming(share=1.5)
