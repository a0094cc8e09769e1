"""A scenario's ``rates`` replace the act catalogue's base rates, so calibration can vary them."""

from __future__ import annotations

import pytest

from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation
from scslab.errors import ScenarioError
from scslab.population.individuals import PopulationSpec
from scslab.sweep.spec import setting_kind


def test_a_rate_override_replaces_the_catalogues_rate_and_changes_the_draws() -> None:
    """Ten times the unpaid-judgment rate lists many more people than the catalogue's rate."""
    base = Scenario(scheme="defaulter-blacklist", population=PopulationSpec(agents=20_000), years=1)
    high = base.model_copy(update={"rates": {"unpaid-judgment": 0.2}})
    sim = Simulation(high)
    assert sim.catalogue.act("unpaid-judgment").rate == 0.2
    listed = []
    for sc in (base, high):
        s = Simulation(sc)
        rec, _ = s.execute()
        listed.append(int(rec.listed[rec.done - 1].sum()))
    assert listed[1] > 5 * max(listed[0], 1)


def test_a_rate_for_an_unknown_act_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ScenarioError, match=r"rates\.unpaid-judgmen: .*'unpaid-judgment'\?"):
        Simulation(Scenario(rates={"unpaid-judgmen": 0.01}, population=PopulationSpec(agents=100)))


def test_rates_are_a_dotted_path_a_sweep_or_a_calibration_may_vary() -> None:
    assert setting_kind("rates.unpaid-judgment") == "float"
    assert setting_kind("rates.unpaid-judgment.2017-01") == "float"  # a dated piece
    with pytest.raises(KeyError, match="single value"):
        setting_kind("rates.unpaid-judgment.2017-01.x")
