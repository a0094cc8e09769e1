"""Months of history are calendar months: with a ``start:``, history month ``h`` before month 0
is the calendar month ``start - h``, and it draws at the rates dated for that month, with the
scheduled rules in force then deterring (and scoring) as they do in any month."""

from __future__ import annotations

from typing import Any

import numpy as np

from conftest import NO_ADAPTATION, catalogue, scenario, scheme
from scslab.behaviour.model import Adaptation
from scslab.engine.layers import LayeredSimulation
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation

# Listed on every recorded unpaid act, for good: a person's entry month stays in list_since.
KEPT = """
id: kept
name: A list that keeps its people
subject: individuals
description: listed on an unpaid act, never released
sources: {paper: the seed paper}
score: {base: 100, min: 0, max: 100, source: paper}
categories: [{id: debts}]
events:
  - {id: unpaid, category: debts, points: -10, domain: courts, source: paper}
lists:
  - id: defaulters
    kind: black
    entry: {events: [unpaid]}
    exit: {after_months: 600}
    source: paper
"""

# history months 2019-01 .. 2019-12 before 2020-01; the rate is 0 before 2019-09 (month -4)
DATED = {"unpaid": {"2019-06": 0.0, "2019-09": 3.0}}


def one_layer(rates: dict[str, Any], history: int = 12) -> Simulation:
    return Simulation(
        scenario(400, 2, seed=4, start="2020-01", history_months=history, rates=rates),
        scheme=scheme(KEPT),
        catalogue=catalogue({"unpaid": 0.5}),
    )


def test_a_history_month_draws_at_its_calendar_months_rate() -> None:
    """Unpaid acts at 0 a year before 2019-09 and 3 a year from then (2019-01 to 2019-05 come
    before the rate's first date, 2019-06, and take its first value): in 2020-01 the list holds
    only people listed from 2019-09 on, engine steps 8 to 11 of the twelve months of history."""
    sc = one_layer(DATED).scenario
    assert sc.rate_pieces(12) == ((-12, {"unpaid": 0.0}), (-4, {"unpaid": 3.0}))
    assert sc.rate_pieces(3) == ((0, {"unpaid": 3.0}),)  # 2019-10 on: no change in the history
    sim = one_layer(DATED)
    assert sim.pieces == (-12, -4) and sim.piece0 == 1 and sim.rates is sim.piece_rates[1]
    assert sim.draws_at(-12) is sim.draws_at(-5) is not sim.draws_at(-4)
    assert sim.draws_at(-4) is sim.draws_at(0) is sim.draws_at(1)
    sim.execute()
    since = sim.last_run.state.list_since[:, 0]
    entered = since[since >= 0]
    assert len(entered) > 100  # about 400 x (1 - e^(-1)) listed in the four months
    assert entered.min() >= 8 and set(entered[entered < 12].tolist()) == {8, 9, 10, 11}


def test_without_a_dated_change_in_the_history_a_run_is_bit_for_bit_as_before() -> None:
    """A dated rate whose only date before month 0 is its first (the history takes its first
    value) runs bit for bit as the plain rate, history and all; so does a run without history."""
    for history in (12, 0):
        plain, dated = (
            one_layer({"unpaid": 3.0}, history),
            one_layer({"unpaid": {"2019-06": 3.0, "2020-02": 3.0}}, history),
        )
        assert dated.pieces == (0, 1) and plain.pieces == (0,)
        (a, sa), (b, sb) = plain.execute(), dated.execute()
        for name, column in vars(a).items():
            if isinstance(column, np.ndarray):
                assert np.array_equal(column, getattr(b, name), equal_nan=True), name
        for x, y in zip(sa, sb, strict=True):
            assert np.array_equal(x, y)


def test_an_event_coming_into_force_in_the_history_deters_from_its_month() -> None:
    """With deterrence on, an event in force from 2019-09 (four months before the start) deters
    its act from that month of the history, not before: the rate tables change there, as the
    scheme's arrays do (scheduled rules follow the calendar in history months)."""
    text = KEPT.replace(
        "source: paper}\nlists", "source: paper, in_force: {from: 2019-09, assumed: true}}\nlists"
    )
    sim = Simulation(
        scenario(100, 2, start="2020-01", history_months=12).model_copy(
            update={"adaptation": Adaptation()}
        ),
        scheme=scheme(text),
        catalogue=catalogue({"unpaid": 0.6}),
    )
    assert sim.pieces == (-12, -4)
    assert (sim.piece_rates[0].deterrence[..., 0] == 1).all()
    assert (sim.piece_rates[1].deterrence[..., 0] < 1).all()
    assert sim.schedule is not None and sim.schedule.off(-5) != sim.schedule.off(-4)


def test_a_layers_history_draws_at_its_calendar_months_rates() -> None:
    """Two layers sharing their acts, the court's with 12 months of history: the dated rate
    (the scenario's, every layer's) is 0 before 2019-09, so the court's list in 2020-01 holds
    only people listed from its history's ninth month on; the other layer has no history and
    one piece, and the world's tables change where the court's rate does."""
    layered = Scenario.model_validate(
        {
            "population": {"agents": 600},
            "start": "2020-01",
            "years": 2 / 12,
            "seed": 2,
            "panel": 0,
            "adaptation": NO_ADAPTATION.model_dump(),
            "rates": {"unpaid-judgment": {"2019-06": 0.0, "2019-09": 3.0}},
            "layers": [
                {"id": "spc", "scheme": "defaulter-blacklist", "history_months": 12},
                {"id": "city", "scheme": "rongcheng-2014", "history_months": 0},
            ],
        }
    )
    lsim = LayeredSimulation(layered)
    spc, city = lsim.layers
    assert spc.sim.pieces == (-12, -4) and city.sim.pieces == (0,)
    assert lsim.world is not None and lsim.world.cuts == (-12, -4, 0, 2)
    run = lsim.execute()
    since = run.runs[0].state.list_since[:, 0]
    entered = since[since >= 0]
    assert len(entered) > 100 and entered.min() >= 8
    assert set(entered[entered < 12].tolist()) == {8, 9, 10, 11}
