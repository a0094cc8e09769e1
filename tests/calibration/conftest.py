"""A tiny dated scenario and a targets file for it, written into a test's folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from calibration_helpers import SCENARIO, TARGETS


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    """``scenario.yaml`` and ``targets.yaml`` in the test's folder."""
    scenario, targets = tmp_path / "scenario.yaml", tmp_path / "targets.yaml"
    scenario.write_text(SCENARIO)
    targets.write_text(TARGETS)
    return scenario, targets
