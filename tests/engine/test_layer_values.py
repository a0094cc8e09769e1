"""A layer's own ``scheme_values``: the values a calibration fitted, for that layer's scheme only.

A layer's ``scheme_values`` are a scenario's (same paths, same checks) applied to its scheme
alone: the layer gives exactly the tables its scheme gives alone with those values at the
scenario's top, and the other layers give what they give without them (docs/layers.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers import assert_same_tables
from helpers import tables as stored_tables
from scslab import Simulation
from scslab.engine.layers import LayeredSimulation
from scslab.engine.scenario import Scenario, load_scenario
from scslab.errors import ScenarioError
from scslab.layered import run_layered

RUN_COLUMNS = "scheme, subjects, scheme_yaml, acts_yaml, seed, agents, steps, steps_done, start"
VALUES = {
    "lists": {"judgment-defaulters": {"exit": {"after_months": 2}}},
    "repair": {"monthly_probability": 0.3},
}


def test_a_layer_s_scheme_values_reach_that_layer_alone(tmp_path: Path) -> None:
    """Layer `spc` with its own values gives the tables of defaulter-blacklist run alone with
    them; layer `other` (the same scheme, no values) gives those of the scheme as built in; and
    the values do change the court's tables (short listings and frequent repair). Nothing makes
    one layer's people act otherwise than the other's (no deterrence or chilling), so each
    layer is its scheme alone drawing the same acts (docs/layers.md)."""
    base: dict[str, Any] = {
        "population": {"agents": 1500},
        "years": 0.5,
        "seed": 3,
        "panel": 20,
        "rates": {"unpaid-judgment": 0.6},
        "adaptation": {"deterrence": {"enabled": False}, "chilling": {"enabled": False}},
    }
    layered = Scenario.model_validate(
        {
            **base,
            "layers": [
                {"id": "spc", "scheme": "defaulter-blacklist", "scheme_values": VALUES},
                {"id": "other", "scheme": "defaulter-blacklist"},
            ],
        }
    )
    results = run_layered(LayeredSimulation(layered), tmp_path / "layered")
    fitted = Simulation(
        Scenario.model_validate({**base, "scheme": "defaulter-blacklist", "scheme_values": VALUES})
    ).run(tmp_path / "fitted")
    built_in = Simulation(Scenario.model_validate({**base, "scheme": "defaulter-blacklist"})).run(
        tmp_path / "built-in"
    )
    got = {k: stored_tables(results[k], sort=True, runs=RUN_COLUMNS) for k in ("spc", "other")}
    want_fitted = stored_tables(fitted, sort=True, runs=RUN_COLUMNS)
    want_built_in = stored_tables(built_in, sort=True, runs=RUN_COLUMNS)
    assert_same_tables(got["spc"], want_fitted, "spc")
    assert_same_tables(got["other"], want_built_in, "other")
    assert got["spc"]["steps"] != got["other"]["steps"]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "layers:\n  - id: spc\n    scheme: defaulter-blacklist\n    scheme_values:\n"
            "      repair: {monthly_probability: 1.5}\n",
            "5:37",
            "layers.0.scheme_values.repair.monthly_probability:",
        ),
        (
            "layers:\n  - id: spc\n    scheme: defaulter-blacklist\n    scheme_values:\n"
            "      score: {base: 7}\n",
            "5:21",
            "layers.0.scheme_values.score.base:",
        ),
        (
            "scheme_values: {repair: {monthly_probability: 0.2}}\nlayers:\n"
            "  - {id: spc, scheme: defaulter-blacklist}\n  - {id: b, scheme: rongcheng-2014}\n",
            "1:16",
            "scheme_values: scheme_values with several layers: give each layer its own",
        ),
        (
            "scheme_values: {repair: {monthly_probability: 0.2}}\nlayers:\n  - id: spc\n"
            "    scheme: defaulter-blacklist\n"
            "    scheme_values: {repair: {monthly_probability: 0.1}}\n",
            "1:16",
            "scheme_values: scheme_values both here and in a layer",
        ),
    ],
)
def test_a_wrong_layer_value_is_refused_at_its_place(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{path}:{where}: {message}" in str(caught.value)


def test_patchwork_2018_runs_its_court_with_the_fitted_values() -> None:
    """The built-in patchwork's court layer has spc-defaulters' fitted listing and repair."""
    fitted = load_scenario("spc-defaulters").scheme_values
    lsim = LayeredSimulation(load_scenario("patchwork-2018"))
    spc = next(ls for ls in lsim.layers if ls.id == "spc")
    assert spc.sim.scenario.scheme_values == fitted
    assert spc.sim.scheme.repair is not None
    assert spc.sim.scheme.repair.monthly_probability == 0.1366
    others = [ls for ls in lsim.layers if ls.id != "spc"]
    assert all(not ls.sim.scenario.scheme_values for ls in others)


def test_a_layer_s_history_months_are_that_layer_s_alone(tmp_path: Path) -> None:
    """Layer `spc` with `history_months: 4` is its scheme alone with four months of history
    (its list holds people at month 0); layer `other` lives none. (`other` is not its scheme
    alone: people `spc` lists in its history act otherwise in the one world of acts.)"""
    base: dict[str, Any] = {
        "population": {"agents": 1500},
        "years": 0.25,
        "seed": 5,
        "panel": 20,
        "rates": {"unpaid-judgment": 0.6},
        "adaptation": {"deterrence": {"enabled": False}, "chilling": {"enabled": False}},
    }
    layered = Scenario.model_validate(
        {
            **base,
            "layers": [
                {"id": "spc", "scheme": "defaulter-blacklist", "history_months": 4},
                {"id": "other", "scheme": "defaulter-blacklist"},
            ],
        }
    )
    lsim = LayeredSimulation(layered)
    assert [ls.sim.history_months for ls in lsim.layers] == [4, 0]
    acts = lsim.layers[0].sim.also_personal
    results = run_layered(lsim, tmp_path / "layered")
    alone = Simulation(
        Scenario.model_validate({**base, "scheme": "defaulter-blacklist", "history_months": 4}),
        also_personal=acts,
    ).run(tmp_path / "alone")
    got = stored_tables(results["spc"], sort=True, runs=RUN_COLUMNS)
    assert_same_tables(got, stored_tables(alone, sort=True, runs=RUN_COLUMNS), "spc")
    # the other layer lives no month of history: it is in force from month 0 only
    assert [lsim.layers[1].live(t) for t in (-4, -1, 0)] == [False, False, True]
    assert [lsim.layers[0].live(t) for t in (-5, -4, -1)] == [False, True, True]
    query = 'SELECT "list__judgment-defaulters" FROM steps WHERE step = 0'
    first = results["spc"].sql(query).fetchall()
    none = results["other"].sql(query).fetchall()
    assert first[0][0] > none[0][0]  # listed in its history, still listed at month 0


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "start: 2018-01\nlayers:\n  - {id: spc, scheme: defaulter-blacklist}\n"
            "  - {id: b, scheme: rongcheng-2014, from: 2018-03, history_months: 6}\n",
            "4:68",
            "layers.1.history_months: the layer comes into force at '2018-03'",
        ),
        (
            "layers:\n  - {id: spc, scheme: defaulter-blacklist}\n"
            "  - {id: f, scheme: corporate-scs, people: spc, history_months: 6}\n",
            "3:65",
            "layers.1.history_months: a layer of firms lives firms.history_months",
        ),
    ],
)
def test_a_wrong_layer_history_is_refused_at_its_place(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{path}:{where}: {message}" in str(caught.value)
