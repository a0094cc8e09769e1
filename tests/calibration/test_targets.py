"""Targets files: read like a scheme file, checked against the scenario before anything runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from calibration_helpers import SCENARIO, TARGETS

from scslab.calibration.fit import prepare
from scslab.calibration.layered import is_layered, prepare_layered
from scslab.calibration.targets import (
    OBSERVABLES,
    load_targets,
    month_number,
    month_text,
    targets_doc,
    targets_from_text,
)
from scslab.engine.scenario import Scenario, builtin_path, builtin_scenarios, load_scenario
from scslab.errors import ScenarioError

SCSLAB = [sys.executable, "-m", "scslab"]
ROOT = Path(__file__).resolve().parents[2]


def test_months_are_counted_from_year_zero_and_back() -> None:
    assert month_number("2013-10") == 2013 * 12 + 9
    assert month_text(month_number("2019-07")) == "2019-07"
    assert month_number("2018-01") - month_number("2017-12") == 1


def test_a_good_file_is_read_and_each_target_is_placed_in_the_run(files: tuple[Path, Path]) -> None:
    scenario, targets = files
    file = load_targets(targets)
    assert [t.id for t in file.targets.fitted] == ["stock-2020-06"]
    job = prepare(Scenario.from_yaml(scenario), file)
    assert job.windows["stock-2020-06"].last == 5 and job.windows["stock-2020-12"].last == 11
    assert job.kinds == {"rates.unpaid-judgment": "float"}


def _where(text: str, needle: str) -> str:
    """``line:column`` of the first ``needle`` in ``text`` (1-based)."""
    at = text.index(needle)
    line = text[:at].count("\n") + 1
    return f"{line}:{at - (text.rfind(chr(10), 0, at) + 1) + 1}"


@pytest.mark.parametrize(
    ("old", "new", "at", "says"),
    [
        ("observable: stock", "observable: stocks", "stocks", "stock"),
        ("date: 2020-12", "date: 2021-01", "2021-01", "outside the run"),
        ("figure: 150000", "figure: -5", "-5", "greater than or equal to 0"),
        (
            "of: judgment-defaulters\n    figure: 150000",
            "of: flight-ban\n    figure: 150000",
            "flight-ban",
            "no list 'flight-ban'",
        ),
        (
            "rates.unpaid-judgment: {range",
            "rates.unpaid-judgement: {range",
            "0.001",
            "no such act",
        ),
    ],
)
def test_each_mistake_is_one_located_line(
    files: tuple[Path, Path], old: str, new: str, at: str, says: str
) -> None:
    """Unknown observable, a date outside the run, a negative figure, a list the scheme lacks, a
    free parameter that does not exist: each names the targets file, line and column."""
    scenario, targets = files
    text = TARGETS.replace(old, new, 1)
    targets.write_text(text)
    with pytest.raises(ScenarioError) as err:
        prepare(Scenario.from_yaml(scenario), load_targets(targets))
    message = str(err.value)
    assert message.count("\n") == 0, message
    assert message.startswith(f"{targets}:{_where(text, at)}"), message
    assert says in message


@pytest.mark.parametrize(
    ("parameter", "says"),
    [
        ("nothing.here: {range: [0, 1]}", "unknown parameter 'nothing.here'"),
        ("adaptation.deterrence.elasticity: {range: [1, 1]}", "low < high"),
        ("adaptation.deterrence.elasticity: {range: [-1, 1]}", "outside this setting's domain"),
    ],
)
def test_a_free_parameter_that_does_not_exist_or_has_an_empty_range_is_refused(
    files: tuple[Path, Path], parameter: str, says: str
) -> None:
    scenario, targets = files
    text = TARGETS.replace("rates.unpaid-judgment: {range: [0.001, 0.05]}", parameter)
    targets.write_text(text)
    with pytest.raises(ScenarioError, match=re.escape(says)) as err:
        prepare(Scenario.from_yaml(scenario), load_targets(targets))
    line = _where(text, parameter.split(":")[0]).split(":")[0]
    assert re.match(rf"{re.escape(str(targets))}:{line}:\d+: ", str(err.value))


def test_targets_refuse_mixed_up_units_and_duplicates() -> None:
    bad = {
        "unit: count\n    tolerance: 0.2\n    role: fit": "unit: share\n    tolerance: 0.2\n    "
        "role: fit",
        "id: stock-2020-12": "id: stock-2020-06",
        "tolerance: 0.2\n    role: check": "tolerance: 0.2\n    sd: 3\n    role: check",
    }
    for old, new in bad.items():
        with pytest.raises(ScenarioError, match=r"^<targets>:\d+:\d+: "):
            targets_from_text(TARGETS.replace(old, new, 1))


def test_a_scenario_without_a_start_cannot_place_a_dated_target(files: tuple[Path, Path]) -> None:
    scenario, targets = files
    scenario.write_text(SCENARIO.replace("start: 2020-01\n", ""))
    with pytest.raises(ScenarioError, match="no `start: YYYY-MM`"):
        prepare(Scenario.from_yaml(scenario), load_targets(targets))


def test_the_command_line_prints_one_line_exits_2_and_writes_nothing(
    files: tuple[Path, Path], tmp_path: Path
) -> None:
    scenario, targets = files
    targets.write_text(TARGETS.replace("observable: stock", "observable: stocks", 1))
    out = tmp_path / "out"
    for command in (
        ["calibrate", str(scenario), str(targets), "--out", str(out), "--serial"],
        ["validate", str(scenario), str(targets), "--agents", "1000", "--seeds", "1"],
    ):
        done = subprocess.run([*SCSLAB, *command], capture_output=True, text=True, cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and f"{targets}:" in lines[0], done.stderr
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml", "targets.yaml"]


def test_every_built_in_scenario_loads_and_its_targets_cite_sources_that_exist() -> None:
    """Built-in targets cite anchors of docs/sources.md, and each fits its own scenario."""
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', (ROOT / "docs/sources.md").read_text()))
    assert builtin_scenarios()
    for name in builtin_scenarios():
        scenario = load_scenario(name)
        if not builtin_path(name, ".targets.yaml").is_file():
            continue
        doc = targets_doc(name)
        if is_layered(doc):  # by layer: tests/calibration/test_layered_validate.py
            prepare_layered(scenario, doc, agents=1000)
            continue
        file = load_targets(name)
        for t in file.targets.targets:
            assert t.source.startswith("docs/sources.md#"), t.source
            assert t.source.split("#")[1] in anchors, t.source
            assert t.observable in OBSERVABLES
        prepare(scenario, file, agents=1000, need_fit=False)
