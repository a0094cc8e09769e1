"""Effects on acts: a consequence's multipliers on named acts, looked up by rate class."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import scenario, scheme
from scslab.behaviour.model import Catalogue
from scslab.engine.simulation import Simulation
from scslab.errors import SchemeError

BAN = """
id: ban
name: C brings a six-month ban
subject: individuals
description: one deduction, fast decay
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, cap_window_months: 1200, source: paper}
categories: [{id: finance}]
events:
  - {id: payment-arrears, category: finance, points: -200, domain: finance, source: paper}
grades:
  - {id: A, min: 900, max: 1000, source: paper}
  - {id: C, min: 0, max: 899, source: paper}
sanctions:
  - id: ban
    trigger: {grades: [C]}
    domain: transport
    effect: no jaywalking, half of the flights refused
    duration_months: 6
    effects:
      - acts: {jaywalking: 0, buy-flight-ticket: 0.5}
        source: paper
    source: paper
decay: {points_per_month: 500, after_clean_months: 1, assumed: true}
"""


def acts_catalogue() -> Catalogue:
    def act(ident: str, rate: float, **kw: object) -> dict[str, object]:
        return {
            "id": ident,
            "name": ident,
            "domain": "public-order",
            "lawful": False,
            "rate": rate,
            "channels": {"court": 1.0},
            "assumed": True,
            **kw,
        }

    return Catalogue.model_validate(
        {
            "acts": [
                act("payment-arrears", 0.3),
                act("jaywalking", 12.0),
                act("littering", 12.0),
                act("buy-flight-ticket", 12.0, lawful=True, attempt=True),
            ],
            "channels": [
                {"id": "court", "name": "court", "false_record_ratio": 0.0, "assumed": True}
            ],
        }
    )


@pytest.fixture(scope="module")
def banned() -> tuple[Simulation, object]:
    sim = Simulation(
        scenario(3000, 30),
        scheme=scheme(BAN),
        catalogue=acts_catalogue(),
        also_personal=("littering",),
    )
    record, _ = sim.execute()
    return sim, record


def test_a_ban_stops_exactly_the_act_it_names_for_exactly_its_months_person_by_person(
    banned: tuple[Simulation, object],
) -> None:
    """Acts are drawn before the month's records: a ban running at the end of month t - 1
    stops the person's acts of month t. Person by person, no jaywalking falls in those months,
    jaywalking goes on in all others, and littering, which the ban does not name, goes on
    alike inside and outside them."""
    sim, rec = banned
    ids = sim.rates.act_ids
    jay, lit = ids.index("jaywalking"), ids.index("littering")
    under = rec.panel_until[:, :, 0] >= 0  # [steps, people]: under the ban at the month's end
    assert under.sum() > 1000
    months = rec.panel_until.shape[0]
    ev = np.concatenate(rec.panel_events)  # step, person, act, false, recorded, points, event
    count = np.zeros((3, months, under.shape[1]), np.int64)  # jaywalking, littering
    for k, a in enumerate((jay, lit)):
        rows = ev[ev[:, 2] == a]
        np.add.at(count[k], (rows[:, 0], rows[:, 1]), 1)
    affected = np.zeros_like(under)
    affected[1:] = under[:-1]  # the months whose acts a running ban changes
    assert count[0][affected].sum() == 0  # not one jaywalking under the ban
    free = ~affected
    # outside the ban, jaywalking at its rate of one a month; littering at one a month everywhere
    assert count[0][free].mean() == pytest.approx(1.0, rel=0.05)
    assert count[1][affected].mean() == pytest.approx(1.0, rel=0.08)
    assert count[1][free].mean() == pytest.approx(1.0, rel=0.05)
    # the month a ban starts is not yet affected: jaywalking goes on in it
    started = under[1:] & ~under[:-1]
    assert count[0][1:][started].mean() == pytest.approx(1.0, rel=0.15)


def test_an_attempt_multiplier_refuses_its_share_of_the_banned_peoples_attempts(
    banned: tuple[Simulation, object],
) -> None:
    """A multiplier of 0.5 on an attempt: the people under the ban try at the act's own rate
    and half of the attempts are refused; the others' attempts and the rest go through."""
    sim, rec = banned
    assert sim.layout.blocked == ("buy-flight-ticket",)
    person_months = int((rec.panel_until[:, :, 0] >= 0).sum())
    blocked = int(rec.blocked.sum())
    assert blocked == pytest.approx(0.5 * person_months, rel=0.08)
    flights = int(rec.ev_true[:, :, sim.rates.act_ids.index("buy-flight-ticket")].sum())
    everyone = rec.panel_until.shape[0] * rec.panel_until.shape[1]
    assert flights + blocked == pytest.approx(everyone, rel=0.03)  # one attempt a month each
    assert flights == pytest.approx(everyone - 0.5 * person_months, rel=0.03)


def test_act_effect_classes_are_tables_and_their_number_is_capped() -> None:
    """Each distinct act effect is a bit of the rate class; rates of other acts stay exact."""
    from scslab.behaviour.rates import with_act_effects

    sim = Simulation(scenario(100, 1), scheme=scheme(BAN), catalogue=acts_catalogue())
    mult = sim.layout.act_mult
    assert mult.shape[0] == 2 and sim.arrays.grp_effbit.tolist() == [1]
    rate = sim.rates.rate
    full = with_act_effects(rate, mult[:, sim.rates.personal])
    assert full.shape == (rate.shape[0], 4, rate.shape[2])
    jay = list(sim.rates.personal).index(sim.rates.act_ids.index("jaywalking"))
    assert (full[:, :2] == rate).all()
    assert (full[:, 2:, jay] == 0).all()
    others = [k for k in range(rate.shape[2]) if k != jay]
    assert (full[:, 2:, others] == rate[:, :, others]).all()
    many = BAN.replace(
        "sanctions:\n",
        "sanctions:\n"
        + "".join(
            f"""  - id: ban{d}
    trigger: {{grades: [C]}}
    domain: transport
    effect: ban
    duration_months: {d}
    effects: [{{acts: {{littering: 0.{d}}}, assumed: true}}]
    source: paper
"""
            for d in range(1, 6)
        ),
    )
    with pytest.raises(SchemeError, match=r"6 groups of consequences .* at most 5 fit"):
        Simulation(scenario(100, 1), scheme=scheme(many), catalogue=acts_catalogue())


def test_blocks_is_the_zero_effect_on_an_attempt_bit_for_bit() -> None:
    """The defaulter list's bans written as `blocks:` and as `effects: [{acts: {ACT: 0}}]`
    give the same run, every tally equal."""
    from scslab.engine.scenario import Scenario
    from scslab.population import PopulationSpec
    from scslab.schemes import load_scheme
    from scslab.schemes.model import Scheme

    doc = load_scheme("defaulter-blacklist").model_dump()
    for s in doc["sanctions"]:
        acts = [a for e in s["effects"] for a in (e["acts"] or {})]
        s["effects"] = [e for e in s["effects"] if not e["acts"]]
        s["blocks"] = acts
    as_blocks = Scheme.model_validate(doc)
    assert any(s.blocks for s in as_blocks.sanctions)
    rates = {"unpaid-judgment": 0.03, "buy-flight-ticket": 1.786, "buy-rail-ticket": 0.7011}
    sc = Scenario(
        scheme="defaulter-blacklist", population=PopulationSpec(agents=20_000), years=1, rates=rates
    )
    a, _ = Simulation(sc).execute()
    b, _ = Simulation(sc, scheme=as_blocks).execute()
    assert a.blocked.sum() > 0
    for name in ("ev_true", "ev_rec", "blocked", "grp_active", "listed", "flow", "lflow"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
