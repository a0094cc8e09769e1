"""Scheme features that keep state of their own, in checkpoints and shards: appeals (each
person's pending appeals, in per-person slots) and a consequence's points effect (it moves scores
inside the step). That state is saved and split like every other column, so a resumed or sharded
run of a scheme with the feature writes the plain run's results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from scale_helpers import assert_same_tables, stopped_and_resumed, tables

from scslab.behaviour.model import Catalogue
from scslab.engine.scenario import Scenario
from scslab.population import PopulationSpec
from scslab.runs import Simulation, run_sharded
from scslab.schemes import parse_scheme
from scslab.store.results import Results
from scslab.store.writer import RESULTS

#: the scheme of each feature's runs, under the same preamble
HEAD = """
subject: individuals
sources: {paper: the seed paper}
score: {base: 100, min: 0, max: 200, source: paper}
"""

APPEALED = """
id: appealed
name: Deductions and listings open to appeal
description: a deduction that lists, a ban that follows the list, appeals decided in 3 months
categories: [{id: judgments, cap: 60, assumed: true}]
events:
  - {id: unpaid-judgment, category: judgments, points: -30, domain: courts, source: paper}
lists:
  - id: defaulters
    name: Defaulters
    kind: black
    entry: {events: [unpaid-judgment]}
    exit: {after_months: 6}
    source: paper
sanctions:
  - {id: rail-ban, trigger: {list: defaulters}, domain: transport, effect: no rail,
     duration_months: 4, source: paper}
appeals:
  objection: 0.6
  success_if_false: 0.9
  success_if_true: 0.2
  delay_months: 3
  assumed: true
"""

LISTED = """
id: listed-points
name: A listing that costs points as it starts
description: a deduction that lists for four months; the listing costs 40 points, 100 a year
categories: [{id: judgments}, {id: listings, cap: 100, assumed: true}]
events:
  - {id: unpaid-judgment, category: judgments, points: -10, domain: courts, source: paper}
grades:
  - {id: A, min: 90, max: 200, assumed: true}
  - {id: D, min: 0, max: 89, assumed: true}
lists:
  - {id: defaulters, kind: black, entry: {events: [unpaid-judgment]}, exit: {after_months: 4},
     source: paper}
sanctions:
  - id: listing-points
    trigger: {list: defaulters}
    domain: finance
    effect: points off as the listing starts
    assumed: true
    effects:
      - {points: -40, category: listings, assumed: true}
"""


def appeals_act(results: Results) -> None:
    lodged, won = results.sql(
        'SELECT sum("appeals__lodged"), sum("appeals__won_false") FROM steps'
    ).fetchall()[0]
    assert lodged > 100 and won > 20  # appeals are lodged and won on both sides of a cut


def points_move(results: Results) -> None:
    moved, logged = results.sql(
        'SELECT (SELECT sum("effect_points__listing-points") FROM steps), '
        "(SELECT count(*) FROM panel_events WHERE act = 'sanction:listing-points')"
    ).fetchall()[0]
    assert moved < -20000 and logged > 100  # points move on both sides of a cut


@dataclass(frozen=True)
class Feature:
    #: the scheme (its text after :data:`HEAD`)
    scheme: str
    #: unpaid judgments a person a year, and the court's false records to each true one
    rate: float
    false_record_ratio: float
    #: asserts that the whole run's results show the feature at work
    acts: Callable[[Results], None]


FEATURES = {
    # the checkpoint at month 5 holds appeals still pending
    "appeals": Feature(APPEALED, rate=0.3, false_record_ratio=0.5, acts=appeals_act),
    "points-effect": Feature(LISTED, rate=3.0, false_record_ratio=0.0, acts=points_move),
}


def simulation(feature: str) -> Simulation:
    f = FEATURES[feature]
    catalogue = Catalogue.model_validate(
        {
            "acts": [
                {
                    "id": "unpaid-judgment",
                    "name": "unpaid judgment",
                    "domain": "courts",
                    "lawful": False,
                    "rate": f.rate,
                    "channels": {"court": 0.9},
                    "assumed": True,
                }
            ],
            "channels": [
                {
                    "id": "court",
                    "name": "court",
                    "false_record_ratio": f.false_record_ratio,
                    "assumed": True,
                }
            ],
        }
    )
    sc = Scenario(population=PopulationSpec(agents=6000), years=1, seed=4, panel=600)
    scheme = parse_scheme(HEAD + f.scheme, f"{feature}.yaml")
    return Simulation(sc, scheme=scheme, catalogue=catalogue)


@pytest.fixture(scope="module", params=list(FEATURES))
def feature(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def whole(feature: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("whole") / "run"
    results = simulation(feature).run(folder)
    try:
        FEATURES[feature].acts(results)
    finally:
        results.close()
    return tables(folder / RESULTS)


def test_a_run_stopped_and_resumed_writes_the_uninterrupted_results(
    feature: str, whole: dict[str, Any], tmp_path: Path
) -> None:
    """Stopped after month 7 (checkpoint at month 5): resumed, every table equals the
    uninterrupted run's."""
    got = stopped_and_resumed(simulation(feature), tmp_path / "stopped", after=7, every=5)
    assert_same_tables(got, whole)


def test_a_sharded_run_writes_the_unsharded_results(
    feature: str, whole: dict[str, Any], cluster: Any, tmp_path: Path
) -> None:
    """Two shards on Dask workers: every table equals the unsharded run's."""
    run_sharded(simulation(feature), tmp_path, 2, cluster=cluster.scheduler_address, every=5)
    assert_same_tables(tables(tmp_path / RESULTS), whole)
