"""What a rate means: a latent propensity, or a flow observed under a scheme, which already holds
that scheme's deterrence. The engine solves for the latent rate so that a run under that scheme,
deterrence on, reproduces the observed flow, and is not deterred twice."""

from __future__ import annotations

import numpy as np
import pytest

from scslab.behaviour.model import Adaptation, Catalogue, Deterrence
from scslab.behaviour.rates import load_catalogue
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation
from scslab.errors import ScenarioError
from scslab.population import PopulationSpec

ACT = "unpaid-judgment"
ANCHOR = 0.00195  # the catalogue's rate: 2.46 M entries in 2024 per 1.4 billion, per recorded act
PEOPLE = 300_000


def run(deterrence: bool) -> tuple[Simulation, float, float]:
    """One year of defaulter-blacklist: the acts people under no sanction truly commit, and the
    expected count at the anchored rate (the few under a sanction at their own, lower, rate)."""
    sc = Scenario(
        scheme="defaulter-blacklist",
        population=PopulationSpec(agents=PEOPLE),
        years=1,
        seed=21,
        panel=0,
        adaptation=Adaptation(deterrence=Deterrence(enabled=deterrence)),
    )
    sim = Simulation(sc)
    rec, _ = sim.execute()
    a = sim.rates.act_ids.index(ACT)
    s = list(sim.rates.personal).index(a)
    acts = float(rec.ev_true[:, :, a].sum())
    sanctioned = rec.anyc[:, :, 0].astype(np.float64)  # person-months, per step and cell
    people = np.bincount(sim.population().cell, minlength=sanctioned.shape[1])
    free = people[None, :] - sanctioned
    # what the sanctioned commit is known from the tables; what the rest commit is the anchor
    by_sanctioned = float((sanctioned * sim.rates.rate[None, :, 1, s]).sum())
    expected = ANCHOR / 12 * float(free.sum()) + by_sanctioned
    return sim, acts, expected


def test_an_observed_rate_is_realised_under_its_scheme_with_deterrence_on() -> None:
    """unpaid-judgment is anchored to the SPC's flow under defaulter-blacklist: a run of that
    scheme, deterrence on, commits it at the anchored rate within sampling error."""
    sim, acts, expected = run(deterrence=True)
    assert sim.catalogue.act(ACT).measured_under == "defaulter-blacklist"
    assert expected > 500  # a sampling error under 5 %
    assert abs(acts - expected) < 3 * np.sqrt(expected)


def test_switching_deterrence_off_raises_offending_above_the_anchor() -> None:
    """Without deterrence people act on the latent propensity, which the solve made about six
    times the observed flow (a list entry deters 84 % of unpaid judgments)."""
    sim, acts, anchored = run(deterrence=False)
    assert acts > anchored + 10 * np.sqrt(anchored)
    a = sim.rates.act_ids.index(ACT)
    assert sim.rates.latent[a] > 6 * ANCHOR
    # the rate realised is the latent one: the population's mean multiplier times the latent rate
    mean = float(
        sim.rates.rate[:, 0, list(sim.rates.personal).index(a)]
        @ (sim.scenario.population.cell_shares())
    )
    assert acts == pytest.approx(mean * 12 * PEOPLE, rel=0.05)  # twelve months


def test_the_solve_is_exact_and_the_same_whichever_scheme_runs() -> None:
    """The observed rate equals the population's mean of latent rate times multiplier times the
    named scheme's deterrence, to rounding; a run of another scheme starts from the same latent
    rate (and deters it by its own rules); a latent rate is left as it is."""
    small = {"population": PopulationSpec(agents=1000), "years": 0.1}
    there = Simulation(Scenario(scheme="defaulter-blacklist", **small))
    elsewhere = Simulation(Scenario(scheme="rongcheng-2014", **small))
    a = there.rates.act_ids.index(ACT)
    s = list(there.rates.personal).index(a)
    weights = there.scenario.population.cell_shares()
    realised = float(weights @ there.rates.rate[:, 0, s]) * 12
    assert realised == pytest.approx(ANCHOR, rel=1e-12)
    assert elsewhere.rates.latent[a] == there.rates.latent[a]
    plain = there.rates.act_ids.index("theft")
    assert there.rates.latent[plain] == there.catalogue.act("theft").rate


def _measured(under: str) -> Catalogue:
    cat = load_catalogue()
    acts = tuple(
        a.model_copy(update={"measured_under": under}) if a.id == "theft" else a for a in cat.acts
    )
    return cat.model_copy(update={"acts": acts})


@pytest.mark.parametrize(
    ("under", "why"),
    [("no-such-scheme", "not a scheme scslab knows"), ("defaulter-blacklist", "does not score it")],
)
def test_a_rate_measured_under_an_unknown_or_unrelated_scheme_is_refused(
    under: str, why: str
) -> None:
    """measured_under must name a scheme, and one that scores the act."""
    sc = Scenario(scheme="defaulter-blacklist", population=PopulationSpec(agents=100), years=0.1)
    with pytest.raises(ScenarioError, match=why):
        Simulation(sc, catalogue=_measured(under))
