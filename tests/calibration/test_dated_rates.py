"""Dated rates: a scenario's rate for an act may change on calendar dates, piece by piece; each
month draws from its piece's tables, and a scenario without dated rates runs as it always has."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import yaml

from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation
from scslab.errors import ScenarioError
from scslab.sweep.spec import with_values

OFF = {"deterrence": {"enabled": False}, "chilling": {"enabled": False}}


def scenario(rates: dict[str, Any], **kw: Any) -> Scenario:
    return Scenario.model_validate(
        {
            "scheme": "defaulter-blacklist",
            "population": {"agents": 20_000},
            "start": "2020-01",
            "years": 2,
            "seed": 5,
            "panel": 0,
            "adaptation": OFF,
            "rates": rates,
            **kw,
        }
    )


def acts_per_month(sc: Scenario, act: str) -> np.ndarray:
    sim = Simulation(sc)
    rec, _ = sim.execute()
    return rec.ev_true[:, :, sim.rates.act_ids.index(act)].sum(axis=1)


def test_the_realised_rate_changes_in_the_month_a_piece_begins() -> None:
    """Unpaid judgments at 0.02 a year to December 2020 and 0.2 from January 2021: from the
    breakpoint's month exactly, ten times as many a month (whatever the catalogue says the rate
    was measured against, the same factor turns each piece into the rate drawn)."""
    monthly = acts_per_month(
        scenario({"unpaid-judgment": {"2020-01": 0.02, "2021-01": 0.2}}), "unpaid-judgment"
    )
    before, after = monthly[:12], monthly[12:]
    assert before.sum() > 200  # enough acts for the ratio to be measured
    assert before.max() < np.sqrt(10) * before.mean() < after.min()
    # the ratio of two means of 12 Poisson months is 10 within about 4 standard errors
    ratio = after.mean() / before.mean()
    assert abs(ratio - 10) < 4 * ratio * np.sqrt(1 / before.sum() + 1 / after.sum())


def test_a_scenario_without_dated_rates_runs_bit_for_bit_as_before() -> None:
    """One piece from the start, or a second one after the horizon, is the plain rate: every
    column of the record and of the state is equal."""
    plain = scenario({"unpaid-judgment": 0.05, "buy-flight-ticket": 2.0})
    for rates in (
        {"unpaid-judgment": {"2019-05": 0.05}, "buy-flight-ticket": 2.0},
        {"unpaid-judgment": {"2020-01": 0.05, "2030-01": 9.0}, "buy-flight-ticket": 2.0},
    ):
        dated = scenario(rates)
        assert Simulation(dated).pieces == (0,)
        (a, sa), (b, sb) = Simulation(plain).execute(), Simulation(dated).execute()
        for name, column in vars(a).items():
            if isinstance(column, np.ndarray):
                assert np.array_equal(column, getattr(b, name), equal_nan=True), name
        for x, y in zip(sa, sb, strict=True):
            assert np.array_equal(x, y)


def test_one_table_is_built_per_distinct_piece_and_history_months_take_the_first() -> None:
    sc = scenario(
        {
            "unpaid-judgment": {"2019-01": 0.01, "2020-07": 0.02, "2021-03": 0.03},
            "buy-flight-ticket": {"2020-01": 1.0, "2020-07": 2.0},
        },
        history_months=3,
    )
    assert sc.rate_pieces() == (
        (0, {"unpaid-judgment": 0.01, "buy-flight-ticket": 1.0}),
        (6, {"unpaid-judgment": 0.02, "buy-flight-ticket": 2.0}),
        (14, {"unpaid-judgment": 0.03, "buy-flight-ticket": 2.0}),
    )
    sim = Simulation(sc)
    assert sim.pieces == (0, 6, 14) and len(sim.piece_rates) == 3
    assert sim.draws_at(-3) is sim.draws_at(0) is sim.draws_at(5)
    assert sim.draws_at(6) is sim.draws_at(13) is not sim.draws_at(14)


def test_a_piece_is_a_dotted_path_a_calibration_may_fit() -> None:
    base = scenario({"unpaid-judgment": {"2020-01": 0.02, "2021-01": 0.05}})
    moved = Scenario.model_validate(
        with_values(base.model_dump(), {"rates.unpaid-judgment.2021-01": 0.3})
    )
    assert moved.rates["unpaid-judgment"] == {"2020-01": 0.02, "2021-01": 0.3}


@pytest.mark.parametrize(
    ("rates", "extra", "message"),
    [
        ({"unpaid-judgment": {"2020-01": 0.01}}, {"start": None}, "dated rates need `start"),
        ({"unpaid-judgment": {"2020-03": 0.01}}, {}, "first piece begins 2020-03, after the start"),
        ({"unpaid-judgment": {"2020-13": 0.01}}, {}, "'2020-13' is not a calendar month"),
        ({"unpaid-judgment": {"2020-01": -1}}, {}, "greater than or equal to 0"),
        ({"unpaid-judgment": {}}, {}, "at least one piece"),
    ],
)
def test_a_dated_rate_that_cannot_be_placed_is_refused(
    rates: dict[str, Any], extra: dict[str, Any], message: str
) -> None:
    data = {"scheme": "defaulter-blacklist", "start": "2020-01", "rates": rates, **extra}
    with pytest.raises(ScenarioError, match=rf"^s\.yaml:\d+:\d+: rates.*{re.escape(message)}"):
        Scenario.from_text(yaml.safe_dump(data), "s.yaml")
