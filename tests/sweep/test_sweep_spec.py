"""A bad sweep spec is refused with a located message, before any run starts or any file is made."""

from __future__ import annotations

from pathlib import Path

import pytest
from sweep_helpers import TINY_BASE, scslab, spec_file

from scslab.errors import ScenarioError
from scslab.sweep import Sweep

SOBOL = "design: {kind: sobol, samples: 4}\n"


def refusal(body: str, base: str = TINY_BASE, tmp_path: Path | None = None) -> str:
    """The message a spec of ``base`` + ``body`` is refused with."""
    folder = tmp_path or Path(".")
    with pytest.raises(ScenarioError) as err:
        Sweep.from_text(base + body, folder, source="s.yaml")
    return str(err.value)


def test_an_unknown_parameter_is_named_with_a_suggestion_and_refused_by_the_cli(
    tmp_path: Path,
) -> None:
    """A misspelt path: status 2, its line and column, 'did you mean', and no output folder."""
    spec = spec_file(
        tmp_path,
        "parameters:\n  observation.camera_rech: {range: [1, 10]}\n" + SOBOL,
    )
    out = tmp_path / "out"
    done = scslab("sweep", str(spec), "--out", str(out))
    assert done.returncode == 2, done.stderr
    assert f"{spec}:7:3: unknown parameter 'observation.camera_rech'" in done.stderr
    assert "did you mean 'observation.camera_reach'?" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_a_range_outside_the_settings_domain_is_refused_by_the_cli_before_any_run(
    tmp_path: Path,
) -> None:
    """A false-match rate up to 1.5: the scenario's own bound (at most 1) refuses it."""
    spec = spec_file(
        tmp_path,
        "parameters:\n"
        "  observation.camera_reach: {range: [1, 10]}\n"
        "  observation.camera_false_match_rate: {range: [0, 1.5]}\n" + SOBOL,
    )
    out = tmp_path / "out"
    done = scslab("sweep", str(spec), "--out", str(out), "--json")
    assert done.returncode == 2, done.stderr
    assert f"{spec}:8:52: parameters.observation.camera_false_match_rate: 1.5 is outside this " in (
        done.stderr.replace("\n", " ")
    )
    assert "less than or equal to 1" in done.stderr
    assert done.stdout == ""
    assert not out.exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (  # the low end too
            "parameters:\n  years: {range: [0, 2]}\n" + SOBOL,
            "s.yaml:7:19: parameters.years: 0.0 is outside this setting's domain",
        ),
        (  # a path through a single value
            "parameters:\n  years.months: {range: [1, 2]}\n" + SOBOL,
            "'years' is a single value with no settings inside it",
        ),
        (
            "parameters:\n  adaptation.deterence.elasticity: {range: [0, 2]}\n" + SOBOL,
            "did you mean 'adaptation.deterrence.elasticity'?",
        ),
        (  # a range needs a number
            "parameters:\n  scheme: {range: [0, 1]}\n" + SOBOL,
            "this setting is not a number (str); list its `values`",
        ),
        (
            "parameters:\n  scheme: {values: [rongcheng-2014, suining-2010]}\n" + SOBOL,
            "a Sobol design needs a `range` for every parameter",
        ),
        (
            "parameters:\n  years: {range: [1, 2]}\ndesign: {kind: grid}\n",
            "a grid needs `steps` with a range",
        ),
        (
            "parameters:\n  seed: {range: [0, 9]}\n" + SOBOL,
            "the sweep sets seeds itself",
        ),
        (
            "parameters:\n  years: {range: [1, 2]}\ndesign: {kind: sobol, samples: 12}\n",
            "samples: 12 is not a power of two",
        ),
        (
            "parameters:\n  years: {range: [2, 1]}\n" + SOBOL,
            "range [2, 1]: give two finite numbers, low < high",
        ),
        (  # a listed value the engine refuses, at that value's position
            "parameters:\n  scheme: {values: [suining-2010, rongchen-2014]}\n"
            "design: {kind: grid}\n",
            "s.yaml:7:35: parameters.scheme: at 'rongchen-2014':",
        ),
        (
            "parameters:\n  years: {range: [1, 2]}\n" + SOBOL + "outputs: [events.flase]\n",
            "s.yaml:9:11: outputs: 'events.flase' is not an output of these runs; "
            "did you mean 'events.false'?",
        ),
        (
            "parameters:\n  years: {range: [1, 2]}\ndesign: {kind: latin}\n",
            "s.yaml:8:9: design",
        ),
    ],
)
def test_each_mistake_gets_one_located_message(body: str, message: str) -> None:
    assert message in refusal(body)


def test_an_inline_base_scenario_is_located_in_the_spec() -> None:
    """A bad key inside ``base:`` is reported at its own line, under ``base.``."""
    base = "base:\n  population:\n    agnets: 1000\n"
    msg = refusal("parameters:\n  years: {range: [1, 2]}\n" + SOBOL, base=base)
    assert "s.yaml:3:5: base.population.agnets: unknown key" in msg


def test_a_base_scenario_file_is_read_beside_the_spec(tmp_path: Path) -> None:
    """``base: name.yaml`` is taken from the spec's folder, with its own located errors."""
    (tmp_path / "county.yaml").write_text("years: 2\npopulation:\n  agents: 900\n")
    sweep = Sweep.from_text(
        "base: county.yaml\nparameters:\n  years: {range: [1, 3]}\n" + SOBOL, tmp_path
    )
    assert sweep.base.population.agents == 900
    (tmp_path / "county.yaml").write_text("years: -2\n")
    with pytest.raises(ScenarioError, match=r"county\.yaml:1:8: years"):
        Sweep.from_text(
            "base: county.yaml\nparameters:\n  years: {range: [1, 3]}\n" + SOBOL, tmp_path
        )


def test_the_engines_own_checks_run_at_the_ends_of_a_range() -> None:
    """A network denser than the population is refused at the range end that makes it so."""
    base = "base:\n  population:\n    agents: 800\n"
    msg = refusal("parameters:\n  network.mean_degree: {range: [5, 900]}\n" + SOBOL, base=base)
    assert "s.yaml:5:36: parameters.network.mean_degree: at 900.0:" in msg
    assert "must be below the number of people" in msg


def test_a_setting_inside_an_absent_section_turns_the_section_on() -> None:
    """The base has no network; sweeping its mean degree draws one with the other defaults."""
    sweep = Sweep.from_text(
        "parameters:\n  network.mean_degree: {range: [4, 8]}\n" + SOBOL, source="s.yaml"
    )
    assert sweep.base.network is None
    assert "network.assortativity_last" in sweep.available
    from scslab.engine.scenario import Scenario

    first = Scenario.model_validate_json(sweep.runs[0].scenario)
    assert first.network is not None and 4 <= first.network.mean_degree <= 8
