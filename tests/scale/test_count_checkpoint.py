"""Counts of records in a window keep per-person state (``State.ev_ring``): a run stopped and
resumed from a checkpoint, or split in shards, gives the results of one never stopped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scale_helpers import assert_same_tables, stopped_and_resumed, tables

from scslab.engine.scenario import Scenario
from scslab.population import PopulationSpec
from scslab.runs import Simulation
from scslab.store.writer import RESULTS

# rongcheng-2014's redlist: two records of volunteer work within 24 months, not in grade C or D
RONGCHENG = Scenario(
    scheme="rongcheng-2014",
    population=PopulationSpec(agents=4000),
    years=1.5,
    seed=5,
    panel=400,
    rates={"volunteering": 3.0},
)


@pytest.fixture(scope="module")
def whole(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("whole")
    Simulation(RONGCHENG).run(folder / "run")
    return tables(folder / "run" / RESULTS)


def test_the_records_a_count_keeps_are_in_the_state_and_fill_the_redlist() -> None:
    sim = Simulation(RONGCHENG)
    assert sim.arrays.ev_ring_len.sum() == 2  # volunteering's latest two records
    record, state = sim.execute()
    assert state.ev_ring.shape == (4000, 2)
    assert (state.ev_ring[:, 0] >= 0).mean() > 0.5  # most volunteered at least once
    redlist = sim.layout.lists.index("model-residents")
    assert record.listed[:, :, redlist].sum() > 0
    # everyone on the redlist had two records within 24 months of their entry
    on = state.list_since[:, redlist] >= 0
    assert np.all(state.list_since[on, redlist] - state.ev_ring[on, 1] < 24)


def test_a_run_with_a_count_stopped_and_resumed_gives_the_whole_runs_results(
    whole: dict[str, Any], tmp_path: Path
) -> None:
    got = stopped_and_resumed(Simulation(RONGCHENG), tmp_path / "stopped", after=9, every=4)
    assert_same_tables(got, whole)
