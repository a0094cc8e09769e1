"""Morris screening designs and log-scale parameters in a sweep spec."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest
from sweep_helpers import TINY_BASE

from scslab.errors import ScenarioError
from scslab.sweep import Sweep, run_sweep

MORRIS = """\
parameters:
  rates.religious-practice: {range: [0.05, 5.0], scale: log}
  adaptation.deterrence.elasticity: {range: [0.5, 2.0]}
design: {kind: morris, trajectories: 3, levels: 4, seed: 2}
outputs: [events.true]
"""


def test_morris_design_has_r_times_d_plus_one_points_on_the_log_grid(tmp_path: Path) -> None:
    """R trajectories of D + 1 points; a log-scale parameter takes values evenly spaced in its
    logarithm (levels 4: low, low·k, low·k², high with k³ = high / low), within its range."""
    sweep = Sweep.from_text(TINY_BASE + MORRIS, tmp_path)
    assert len(sweep.points) == 3 * (2 + 1)
    rates = sorted({round(p[0], 9) for p in sweep.points})
    grid = [round(0.05 * 100 ** (k / 3), 9) for k in range(4)]
    assert set(rates) <= set(grid) and len(rates) >= 2
    assert all(0.05 <= p[0] <= 5.0 and 0.5 <= p[1] <= 2.0 for p in sweep.points)
    # each step of a trajectory moves exactly one parameter
    for r in range(3):
        path = sweep.points[r * 3 : r * 3 + 3]
        for a, b in itertools.pairwise(path):
            assert sum(not math.isclose(x, y) for x, y in zip(a, b, strict=True)) == 1


def test_morris_ranks_the_parameter_that_moves_the_output(tmp_path: Path) -> None:
    """True religious practice counts move with its own rate a hundredfold across the range, and
    barely with the deterrence elasticity (practice is lawful, so never deterred)."""
    sweep = Sweep.from_text(TINY_BASE + MORRIS, tmp_path)
    report = run_sweep(sweep, tmp_path / "out", serial=True)
    assert report.screening is not None and report.indices is None
    by = report.screening["events.true"]
    rate, elasticity = by["rates.religious-practice"], by["adaptation.deterrence.elasticity"]
    assert rate["mu_star"] is not None and elasticity["mu_star"] is not None
    assert rate["mu_star"] > 5 * elasticity["mu_star"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "parameters:\n  rates.religious-practice: {range: [0, 1], scale: log}\n"
            "design: {kind: morris, trajectories: 2}\n",
            "a log scale needs a low end above 0",
        ),
        (
            "parameters:\n  scheme: {values: [rongcheng-2014]}\n"
            "design: {kind: morris, trajectories: 2}\n",
            "a Morris design needs a `range` for every parameter",
        ),
        (
            "parameters:\n  rates.religious-practice: {range: [0.1, 1]}\n"
            "design: {kind: morris, trajectories: 1}\n",
            "greater than or equal to 2",
        ),
    ],
)
def test_bad_morris_specs_are_refused(tmp_path: Path, body: str, message: str) -> None:
    """A log scale from zero, listed values or a single trajectory: one message, located."""
    with pytest.raises(ScenarioError, match="<sweep>:") as err:
        Sweep.from_text(TINY_BASE + body, tmp_path)
    assert message in str(err.value)
