"""A history before month 0, and decay by a share of the distance from base.

A scheme that has run for years (Sesame Credit) or firms that are going concerns start a run where
their unrecorded history left them. The history is the same months, run and not recorded; with a
decay that fades old records by a share of their distance from base, the score distribution is
then in its steady state from month 0, so shares do not depend on the horizon chosen.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import catalogue, scenario, scheme
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation
from scslab.errors import ScenarioError
from scslab.population import PopulationSpec
from scslab.population.network import NetworkSpec

FADING = """
id: fading
name: Good deeds that fade
subject: individuals
description: one positive event, decay by a share of the distance from base
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 2000, cap_window_months: 1200, source: paper}
categories: [{id: civic}]
events:
  - {id: blood-donation, category: civic, points: 10, domain: civic, source: paper}
decay: {half_life_months: 6, direction: both, assumed: true}
"""


def test_a_share_of_the_distance_fades_each_month_so_scores_settle() -> None:
    """Ten points at 0.5 events a month, then a sixth of a half-life's share of the excess fades:
    the steady excess is (0.5 x 10)(1 - s)/s, reached after ten half-lives of history. Rounding a
    share of a few points down every time would stop the fading short and leave it higher."""
    share = 1 - 2 ** (-1 / 6)
    expected = 0.5 * 10 * (1 - share) / share  # 40.8 points above base
    sim = Simulation(
        scenario(4000, 12, history_months=60),
        scheme=scheme(FADING),
        catalogue=catalogue({"blood-donation": 6.0}),
    )
    record, _ = sim.execute()
    mean_excess = record.score_sum.sum(axis=1) / 4000 - 1000
    # each month's mean has a sampling sd of about 0.25 points over 4,000 people
    assert np.abs(mean_excess - expected).max() < 1.5
    assert abs(mean_excess.mean() - expected) < 0.75


def test_decay_needs_exactly_one_speed() -> None:
    from scslab.errors import SchemeError

    both = FADING.replace("half_life_months: 6", "half_life_months: 6, points_per_month: 2")
    with pytest.raises(SchemeError, match="exactly one of points_per_month and half_life_months"):
        scheme(both)
    with pytest.raises(SchemeError, match="exactly one of points_per_month and half_life_months"):
        scheme(FADING.replace("half_life_months: 6, ", ""))


def _sesame(agents: int, months: int, seed: int = 0, **kw: object) -> Scenario:
    return Scenario(
        scheme="sesame-credit",
        population=PopulationSpec(agents=agents),
        network=NetworkSpec(),
        years=months / 12,
        seed=seed,
        panel=200,
        **kw,  # type: ignore[arg-type]
    )


def test_a_history_is_the_same_months_run_and_not_recorded() -> None:
    """A run with 24 months of history records exactly months 24.. of the run without one, and
    its panel starts from the scores those 24 months left."""
    with_history, _ = Simulation(_sesame(3000, 12, history_months=24)).execute()
    plain, _ = Simulation(_sesame(3000, 36, history_months=0)).execute()
    assert with_history.steps == 12
    for name in ("grade", "score_sum", "hist", "ev_rec", "flow"):
        assert np.array_equal(getattr(with_history, name), getattr(plain, name)[24:]), name
    assert np.array_equal(with_history.panel_score, plain.panel_score[24:])
    assert np.array_equal(with_history.panel_start, plain.panel_score[23])
    assert (with_history.panel_start != 550).any()  # the history moved the scores


def _shares(record: object, month: int) -> np.ndarray:
    grade = record.grade.sum(axis=1)  # type: ignore[attr-defined]
    return 100.0 * grade[month] / grade[month].sum()


def test_sesame_grade_shares_do_not_depend_on_the_horizon() -> None:
    """With its default history, Sesame's grade shares after 3 and after 10 years differ by under
    2 points each (sampling sd of a difference: about 0.5 points at 20,000 people). Without the
    history the same comparison fails: scores still climb from the base everyone started at."""
    for seed in (0, 1):
        record, _ = Simulation(_sesame(20_000, 120, seed=seed)).execute()
        gap = np.abs(_shares(record, 35) - _shares(record, 119))
        assert gap.max() < 2.0, (seed, gap)
    fresh, _ = Simulation(_sesame(20_000, 120, history_months=0)).execute()
    assert np.abs(_shares(fresh, 35) - _shares(fresh, 119)).max() > 2.0


def test_a_firm_run_takes_its_history_from_the_firms() -> None:
    with pytest.raises(ScenarioError, match=r"firms\.history_months"):
        Simulation(Scenario(scheme="corporate-scs", history_months=12))
