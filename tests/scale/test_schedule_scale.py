"""Scheduled rules (``in_force:``) in sharded and checkpointed runs: the results of the plain run,
bit for bit, though rules come into and go out of force mid-run (and after a restart)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from scale_helpers import assert_same_tables, stopped_and_resumed, tables

from scslab.engine.scenario import Scenario
from scslab.runs import Simulation, run_sharded
from scslab.store.writer import RESULTS

ROOT = Path(__file__).resolve().parents[2]
#: the example's dated defaulter list (the rail ban from 2015-07, two bans from 2016-10), with a
#: ban and the twelve-month spending restriction going out of force mid-run
DATED = (ROOT / "examples" / "memoranda" / "defaulter-blacklist-dated.yaml").read_text()
ENDS = {
    "luxury-hotel-ban": "{until: 2016-03, assumed: true}",
    "spending-restriction": "{until: 2016-06, assumed: true}",
}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    text = DATED
    for rule, when in ENDS.items():
        head = f"  - id: {rule}\n"
        text = text.replace(head, f"{head}    in_force: {when}\n", 1)
    path = tmp_path_factory.mktemp("scheme") / "dated.yaml"
    path.write_text(text, encoding="utf-8")
    return Scenario.model_validate(
        {
            "scheme": str(path),
            "population": {"agents": 4000},
            "start": "2015-04",
            "years": 1.75,  # to 2016-12: every date above falls within
            "seed": 5,
            "panel": 400,
            "rates": {"unpaid-judgment": 0.2},
        }
    )


@pytest.fixture(scope="module")
def whole(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("whole")
    results = Simulation(scenario).run(folder / "run")
    # the dates act: no rail ticket blocked before 2015-07, no hotel ban from 2016-03 on
    rail = results.sql(
        'SELECT step, sum("blocked__buy-rail-ticket") FROM steps GROUP BY step ORDER BY step'
    ).fetchall()
    assert all(n == 0 for t, n in rail if t < 3) and sum(n for t, n in rail if t >= 3) > 0
    hotels = results.sql(
        'SELECT step, sum("sanction__hotels-leisure") FROM steps GROUP BY step ORDER BY step'
    ).fetchall()
    assert all(n == 0 for t, n in hotels if t >= 11) and sum(n for t, n in hotels) > 0
    return tables(results)


def test_a_sharded_run_of_a_scheduled_scheme_gives_the_unsharded_results(
    scenario: Scenario, whole: dict[str, Any], cluster: Any, tmp_path: Path
) -> None:
    run_sharded(Simulation(scenario), tmp_path, 2, cluster=cluster.scheduler_address, every=4)
    assert_same_tables(tables(tmp_path / RESULTS), whole)


def test_a_scheduled_run_stopped_and_resumed_gives_the_whole_runs_results(
    scenario: Scenario, whole: dict[str, Any], tmp_path: Path
) -> None:
    """Stopped after month 13 (checkpoint at 12, after the hotel ban's end and before the
    spending restriction's): resumed, the run ends with the results of one never stopped."""
    got = stopped_and_resumed(Simulation(scenario), tmp_path / "stopped", after=13, every=4)
    assert_same_tables(got, whole)
