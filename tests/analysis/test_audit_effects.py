"""The audit's ``effects.acts``: what each act effect did, from the run's own counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_helpers import ONE_DOMAIN, one_act

from scslab import PopulationSpec, Scenario, Simulation
from scslab.analysis.audit import act_effects, audit
from scslab.behaviour.model import Adaptation, Deterrence
from scslab.schemes import parse_scheme

#: the one-domain scheme whose sanction halves arrears for the people under it
HALVING = ONE_DOMAIN.replace(
    "    effect: no bank loans\n",
    "    effect: no bank loans\n    effects:\n      - acts: {payment-arrears: 0.5}\n"
    "        assumed: true\n",
)


def test_the_audit_counts_what_an_act_effect_took_away(tmp_path: Path) -> None:
    """Arrears halve for people under the sanction: the audit names the sanction, its
    person-months as the run counted them, and the arrears it took away, expected."""
    still = Adaptation(deterrence=Deterrence(enabled=False))
    sc = Scenario(population=PopulationSpec(agents=10_000), years=1, seed=2, adaptation=still)
    sim = Simulation(sc, scheme=parse_scheme(HALVING), catalogue=one_act(0.0))
    results = sim.run(tmp_path / "run")
    (entry,) = audit(results)["effects"]["acts"]
    assert entry["consequences"] == ["no-loans"]
    exposure = "SELECT sum(people) FROM exposure WHERE item = 'no-loans'"
    months = results.sql(exposure).fetchall()[0][0]
    assert entry["person_months"] == months > 1000
    change = entry["acts"]["payment-arrears"]
    assert change["multiplier"] == 0.5
    # half the arrears rate (0.5 a year) a month, for the months after those under the
    # sanction (one month fewer: the last month's come after the run)
    last = results.sql(
        "SELECT sum(people) FROM exposure WHERE item = 'no-loans' AND step = 11"
    ).fetchall()[0][0]
    expected = -0.5 * 0.5 / 12 * (months - last)
    assert change["change_expected"] == pytest.approx(expected, abs=0.1)


def test_the_defaulter_lists_bans_are_counted_as_two_numbers() -> None:
    # the rates the spc-defaulters scenario fits, with judgments ten times as common
    rates = {"unpaid-judgment": 0.03, "buy-flight-ticket": 1.786, "buy-rail-ticket": 0.7011}
    sc = Scenario(
        scheme="defaulter-blacklist",
        population=PopulationSpec(agents=20_000),
        years=2,
        seed=11,
        rates=rates,
    )
    sim = Simulation(sc)
    record, _ = sim.execute()
    (entry,) = act_effects(sim, record)
    assert {"flight-ban", "high-speed-rail-ban"} <= set(entry["consequences"])
    flights = entry["acts"]["buy-flight-ticket"]["blocked"]
    rails = entry["acts"]["buy-rail-ticket"]["blocked"]
    assert flights == int(record.blocked[:, :, 0].sum()) and flights > 0
    assert rails == int(record.blocked[:, :, 1].sum())
    assert flights > 2 * rails > 100  # a flight ban refuses more than a rail ban
    # a ban on attempts changes no drawn act: one rate class serves the banned and the others
    assert sim.layout.class_mult.shape[0] == 1 and (sim.arrays.eff_cls == 0).all()
