"""observation.published_share: what was published of a list, compared with ours; the run is
left alone."""

from __future__ import annotations

import numpy as np
import pytest
from calibration_helpers import SCENARIO, TARGETS

from scslab.calibration.fit import prepare
from scslab.calibration.runs import Job, run_job
from scslab.calibration.targets import targets_from_text
from scslab.engine.scenario import Scenario, load_scenario

#: The helpers' targets, and one that is not of a list: flights refused by the ban.
BLOCKED = """\
  - id: flights-2020-12
    source: docs/sources.md#lists
    date: 2020-12
    observable: blocked
    of: buy-flight-ticket
    figure: 1000
    unit: count
    tolerance: 0.2
    role: check
fit:"""


def _job(share: float | None) -> Job:
    text = TARGETS.replace("fit:", BLOCKED, 1)
    if share is not None:
        text = text.replace("rates.unpaid-judgment: {range: [0.001, 0.05]}", "")
        text = text.replace(
            "parameters:\n", "parameters:\n    observation.published_share: {range: [0.01, 1]}\n"
        )
    base = Scenario.from_text(SCENARIO.replace("20000", "3000"))
    return prepare(base, targets_from_text(text), agents=3000)


def test_a_lists_figures_are_ours_times_the_published_share_and_the_run_is_the_same() -> None:
    """At a published share of 0.25 the list's stock targets (and their plotted trajectories)
    are exactly a quarter of ours at 1, while the refused flights, which are no list's figure,
    are the same to the last bit: the share never reaches the run."""
    job = _job(None)
    whole = run_job(job, {}, seed=3, trajectories=True)
    part = run_job(job, {"observation.published_share": 0.25}, seed=3, trajectories=True)
    assert whole.figures["stock-2020-12"] > 0
    for t in ("stock-2020-06", "stock-2020-12"):
        assert part.figures[t] == pytest.approx(0.25 * whole.figures[t], rel=1e-12)
        assert np.allclose(part.trajectories[t], 0.25 * whole.trajectories[t], rtol=1e-12)
    assert part.figures["flights-2020-12"] == whole.figures["flights-2020-12"] > 0
    assert np.array_equal(
        part.trajectories["flights-2020-12"], whole.trajectories["flights-2020-12"]
    )


def test_a_calibration_may_fit_the_published_share() -> None:
    """It is a free setting like any other dotted path: checked at both ends of its range."""
    job = _job(0.5)
    assert job.kinds == {"observation.published_share": "float"}


def test_suining_scores_every_record_and_fits_what_was_published() -> None:
    """The built-in suining-2010 reads the first list as a selective publication: every record
    reaches the scheme, and the published share is the fitted setting, inside its interval."""
    scenario = load_scenario("suining-2010")
    assert scenario.observation.record_share == 1.0
    fitted = scenario.fitted["observation.published_share"]
    assert scenario.observation.published_share == fitted.value
    low, high = fitted.interval
    assert 0 < low <= fitted.value <= high < 1
