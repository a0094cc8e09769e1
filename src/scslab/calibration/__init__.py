"""Calibration to the record: targets as data, ``calibrate`` (pyabc's ABC-SMC) and ``validate``.

>>> file = load_targets("spc-defaulters")                  # a built-in scenario's targets
>>> rows = validate(load_scenario("spc-defaulters"), file, agents=20_000, seeds=1)

The room sits after ``report`` (its page takes the report's style) and before ``app`` and
``cli``. See ``docs/calibration.md``.
"""

from scslab.calibration.fit import Calibration, calibrate, prepare
from scslab.calibration.observe import check_targets, measure
from scslab.calibration.targets import OBSERVABLES, Target, Targets, TargetsFile, load_targets
from scslab.calibration.validate import markdown, validate
from scslab.engine.scenario import load_scenario

__all__ = [
    "OBSERVABLES",
    "Calibration",
    "Target",
    "Targets",
    "TargetsFile",
    "calibrate",
    "check_targets",
    "load_scenario",
    "load_targets",
    "markdown",
    "measure",
    "prepare",
    "validate",
]
