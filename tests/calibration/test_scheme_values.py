"""A scenario may set the numbers its scheme marks ``assumed`` (``scheme_values``), by a dotted path
that sweeps and calibrations vary; a number the scheme sources, or does not have, is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation
from scslab.errors import ScenarioError
from scslab.sweep.spec import setting_kind, with_values

LISTING = "scheme_values.lists.judgment-defaulters.exit.after_months"


def blacklist(**kw: object) -> Scenario:
    return Scenario.model_validate(
        {
            "scheme": "defaulter-blacklist",
            "population": {"agents": 20_000},
            "years": 2,
            "panel": 0,
            "rates": {"unpaid-judgment": 0.1},
            **kw,
        }
    )


def test_an_assumed_number_set_by_the_scenario_changes_the_scheme_and_the_run() -> None:
    """A 3-month listing instead of the scheme's 24 months: people leave by expiry from month 4
    on, and far fewer are on the list at the end."""
    base, short = (
        blacklist(),
        Scenario.model_validate(with_values(blacklist().model_dump(), {LISTING: 3})),
    )
    sim = Simulation(short)
    assert sim.scheme.lists[0].exit.after_months == 3
    assert Simulation(base).scheme.lists[0].exit.after_months == 24
    listed, expired = [], []
    for sc in (base, short):
        s = Simulation(sc)
        rec, _ = s.execute()
        listed.append(int(rec.listed[rec.done - 1].sum()))
        expired.append(int(rec.lflow[:, :, 0, 1].sum()))  # exits by expiry
    assert expired[0] == 0  # nobody has been listed 24 months within 2 years
    assert expired[1] > 100
    assert listed[1] < 0.5 * listed[0]


def test_scheme_values_are_paths_a_sweep_or_a_calibration_may_vary() -> None:
    assert setting_kind(LISTING) == "int"
    assert setting_kind("scheme_values.repair.monthly_probability") == "float"
    with pytest.raises(KeyError, match="no setting 'exitt'"):
        setting_kind("scheme_values.lists.judgment-defaulters.exitt.after_months")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (  # sourced from the paper, not assumed
            {"events": {"unpaid-judgment": {"points": -5}}},
            r"scheme_values\.events\.unpaid-judgment\.points: .*does not mark .* assumed "
            r"\(from source 'paper'\)",
        ),
        (  # no such list
            {"lists": {"judgment-defaulter": {"exit": {"after_months": 6}}}},
            r"has no lists 'judgment-defaulter'; it has judgment-defaulters",
        ),
        (  # a number the scheme does not set
            {"lists": {"judgment-defaulters": {"exit": {"clean_months": 6}}}},
            r"does not set lists\.judgment-defaulters\.exit\.clean_months",
        ),
        (  # outside the scheme's own domain
            {"repair": {"monthly_probability": 1.5}},
            r"scheme_values\.repair\.monthly_probability: not valid .*less than or equal to 1",
        ),
    ],
)
def test_a_number_the_scheme_does_not_mark_assumed_or_lacks_is_refused(
    values: dict[str, object], message: str
) -> None:
    with pytest.raises(ScenarioError, match=message):
        Simulation(blacklist(scheme_values=values))


def test_a_refused_value_in_a_scenario_file_is_one_located_line_and_status_2(
    tmp_path: Path,
) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "scheme: defaulter-blacklist\n"
        "population: {agents: 1000}\n"
        "scheme_values:\n"
        "  repair: {monthly_probability: 0.05}\n"
        "  events:\n"
        "    unpaid-judgment:\n"
        "      points: -5\n"
    )
    with pytest.raises(ScenarioError, match=rf"^{path}:7:15: scheme_values\.events\.unpaid"):
        Scenario.from_yaml(path)
    command = [sys.executable, "-m", "scslab", "run", str(path), "--out", str(tmp_path / "run")]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert f"{path}:7:15" in done.stderr
    assert not (tmp_path / "run").exists()


def test_a_calibration_may_fit_an_assumed_number_and_refuses_a_sourced_one(tmp_path: Path) -> None:
    """`fit.parameters` takes scheme values like any setting; a sourced one is refused at its
    place in the targets file before anything runs."""
    from scslab.calibration import prepare
    from scslab.calibration.targets import targets_from_text

    scenario = blacklist(start="2020-01")
    text = (
        "targets:\n"
        "  - {id: on-list, source: docs/sources.md#lists, date: 2021-06, observable: stock,\n"
        "     of: judgment-defaulters, figure: 0.01, unit: share, tolerance: 0.2, role: fit}\n"
        "fit:\n"
        "  parameters:\n"
        f"    {LISTING}: {{range: [3, 30]}}\n"
        "    scheme_values.events.unpaid-judgment.points: {range: [-5, 0]}\n"
    )
    with pytest.raises(ScenarioError, match=r"^t\.yaml:7:\d+: .*does not mark .* assumed"):
        prepare(scenario, targets_from_text(text, "t.yaml"))
    good = text.rsplit("    scheme_values.events", 1)[0]
    job = prepare(scenario, targets_from_text(good, "t.yaml"))
    assert job.kinds == {LISTING: "int"}
    at = job.scenario_at({LISTING: 7.4})
    assert at.scheme_values == {"lists": {"judgment-defaulters": {"exit": {"after_months": 7}}}}
    assert Simulation(at).scheme.lists[0].exit.after_months == 7
