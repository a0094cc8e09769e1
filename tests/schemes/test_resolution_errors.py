"""Fractional points (``score.resolution``): what loads, and each mistake refused once at its line
and column, as the loader refuses others."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_loader_errors import SOURCE, TINY, at, column_of, edit, line_of, refuse

from scslab.errors import SchemeError
from scslab.schemes import dump_scheme, parse_scheme
from scslab.schemes.units import ScoreUnits, show, signed

#: the tiny scheme at resolution 0.1: its grades end a tenth below the next one's start
EXAMPLE = Path(__file__).parents[2] / "examples" / "fractional-points.yaml"
RESOLVED = edit("score:\n  base: 100\n", "score:\n  base: 100\n  resolution: 0.1\n")
RESOLVED = edit("    max: 149\n", "    max: 149.9\n", RESOLVED)
RESOLVED = edit("    max: 49\n", "    max: 49.9\n", RESOLVED)


def test_a_scheme_in_tenths_loads_and_dumps_back_equal() -> None:
    text = edit("    points: -30\n", "    points: -2.5\n", RESOLVED)
    text = edit("    threshold: 50\n", "    threshold: 49.9\n", text)
    text = edit("    min: 150\n", "    min: 150.0\n", text)
    s = parse_scheme(text, SOURCE)
    assert s.score.resolution == 0.1 and s.events[0].points == -2.5
    assert parse_scheme(dump_scheme(s), SOURCE) == s
    assert "resolution: 0.1" in dump_scheme(s)


def test_a_scheme_without_resolution_dumps_without_it() -> None:
    s = parse_scheme(TINY, SOURCE)
    assert s.score.resolution == 1
    assert "resolution" not in dump_scheme(s)
    assert type(s.events[0].points) is int


def test_a_fraction_without_a_resolution_is_refused_at_it() -> None:
    text = edit("    points: -30\n", "    points: -2.5\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "points: -2.5"), column_of(text, "-2.5")), msg
    assert "-2.5 is not a whole number" in msg and "score.resolution" in msg


def test_a_number_off_the_resolution_is_refused_at_it() -> None:
    """0.25 points at resolution 0.1, and a grade bound in a condition nested in all/any."""
    text = edit("    points: -30\n", "    points: -0.25\n", RESOLVED)
    msg = refuse(text)
    assert at(msg, line_of(text, "points: -0.25"), column_of(text, "-0.25")), msg
    assert "events.0.points: -0.25 is not a multiple of the score's resolution 0.1" in msg

    nested = edit(
        "    trigger:\n      grades: [A]\n",
        "    trigger:\n      all: [{grades: [A]}, {any: [{score_at_least: 160.05}]}]\n",
        RESOLVED,
    )
    msg = refuse(nested)
    assert at(msg, line_of(nested, "160.05"), column_of(nested, "160.05")), msg
    assert "rewards.0.trigger.all.1.any.0.score_at_least: 160.05 is not a multiple" in msg


@pytest.mark.parametrize("bad", ["0.25", "0", "-0.1", "2", "0.0001"])
def test_a_resolution_not_allowed_is_refused_at_it(bad: str) -> None:
    text = edit("  resolution: 0.1\n", f"  resolution: {bad}\n", RESOLVED)
    msg = refuse(text)
    assert at(msg, line_of(text, "resolution:"), column_of(text, f"resolution: {bad}") + 12), msg
    assert "is not one of 1, 0.5, 0.1, 0.01, 0.001" in msg


def test_a_range_too_wide_for_the_engine_at_its_resolution_is_refused() -> None:
    """0..200 at 0.001 is 0..200,000 steps: beyond the engine's int16 scores; each number that
    leaves the engine's range is named, the first at the base."""
    text = edit("  resolution: 0.1\n", "  resolution: 0.001\n", RESOLVED)
    with pytest.raises(SchemeError) as info:
        parse_scheme(text, SOURCE)
    first = str(info.value).splitlines()[0]
    assert at(first, line_of(text, "base: 100"), column_of(text, "base: 100") + 6), first
    assert "score.base: 100 at resolution 0.001 is 100000 steps of 0.001" in first
    assert "use a coarser resolution or a narrower range" in first
    assert "score.max: 200 at resolution 0.001" in str(info.value)


def test_grades_tile_in_steps_of_the_resolution() -> None:
    """At 0.1, a band ending at 149.8 leaves 149.9 without a grade."""
    text = edit("    max: 149.9\n", "    max: 149.8\n", RESOLVED)
    msg = refuse(text)
    assert at(msg, line_of(text, "min: 150"), column_of(text, "150")), msg
    assert "grade 'A' starts at 150, leaving 149.9..149.9 without a grade" in msg


def test_severity_points_average_in_steps_of_the_resolution() -> None:
    text = edit(
        "    points: -30\n",
        "    points_by:\n      severity:\n"
        "        minor: {share: 0.5, points: -0.3}\n"
        "        grave: {share: 0.5, points: -2.4}\n"
        "      source: paper\n",
        RESOLVED,
    )
    s = parse_scheme(text, SOURCE)
    assert s.events[0].points == -1.3  # -13.5 tenths, halves rounded up: -13
    assert parse_scheme(dump_scheme(s), SOURCE) == s


def test_units_convert_exactly_both_ways() -> None:
    tenth, half = ScoreUnits(0.1), ScoreUnits(0.5)
    assert tenth.scale == 10 and half.scale == 2 and ScoreUnits().scale == 1
    assert tenth.engine(-2.5) == -25 and tenth.engine(0.3) == 3 and half.engine(7.5) == 15
    assert not tenth.multiple(0.25) and not half.multiple(0.1) and ScoreUnits().multiple(3)
    with pytest.raises(ValueError, match="not a multiple"):
        half.engine(0.2)
    assert tenth.units(-25) == -2.5 and ScoreUnits().units(7) == 7
    assert tenth.text(600) == "60" and tenth.text(-3) == "-0.3"
    assert tenth.round_units(0.1 + 0.2) == 0.3 and ScoreUnits().round_units(2) == 2
    assert show(60.0) == "60" and signed(-2.5) == "-2.5" and signed(3) == "+3"


def test_sweeps_vary_score_valued_numbers_in_whole_points() -> None:
    """A score-valued number is swept as an integer (a multiple of every resolution), as it was
    before resolutions; a probability stays a float."""
    from scslab.sweep.spec import setting_kind

    for path in (
        "scheme_values.events.theft.points",
        "scheme_values.categories.finance.cap",
        "scheme_values.network.low-friends.threshold",
        "scheme_values.decay.points_per_month",
        "scheme_values.repair.restore_to",
    ):
        assert setting_kind(path) == "int", path
    assert setting_kind("scheme_values.network.low-friends.share") == "float"


def test_the_resolution_is_not_an_assumed_number_of_the_ledger() -> None:
    """`scslab assumptions` varies a scheme's numbers, not the units they are written in."""
    from scslab.sweep.ledger import _walk

    s = parse_scheme(RESOLVED.replace("  source: paper\ncategories", "  assumed: true\ncategories"))
    assert s.score.assumed
    found = [loc for loc, *_ in _walk(s, (), None) if loc[0] == "score"]
    assert ("score", "base") in found and ("score", "resolution") not in found


def test_a_sweep_and_the_ledger_vary_fractional_points_in_steps_of_the_resolution(
    tmp_path: Path,
) -> None:
    """A range over points of a scheme in tenths gives multiples of 0.1 (a probability beside it
    stays continuous); the ledger varies the example's fractional points, not fixes them."""
    from scslab.engine.scenario import Scenario
    from scslab.sweep import Sweep
    from scslab.sweep.ledger import assumed_factors

    shutil.copy(EXAMPLE, tmp_path / "tenths.yaml")
    sweep = Sweep.from_text(
        "base: {scheme: tenths.yaml, population: {agents: 200}, years: 1}\n"
        "design: {kind: random, samples: 8}\n"
        "parameters:\n"
        "  scheme_values.events.spitting.points: {range: [-1, -0.2]}\n"
        "  scheme_values.repair.monthly_probability: {range: [0.05, 0.2]}\n",
        tmp_path,
    )
    assert [s.step for s in sweep.settings] == [0.1, 1]
    points = [p[0] for p in sweep.points]
    assert all(ScoreUnits(0.1).multiple(p) and -1 <= p <= -0.2 for p in points), points
    assert len(set(points)) > 2 and any(not float(p).is_integer() for p in points)
    assert any(not ScoreUnits(0.1).multiple(p[1]) for p in sweep.points)

    scenario = Scenario.model_validate({"scheme": str(tmp_path / "tenths.yaml")})
    factors = {f.name.split(": ")[1]: f for f in assumed_factors(scenario)}
    for name in ("events.spitting.points", "events.theft.points", "decay.points_per_month"):
        assert factors[name].varied, (name, factors[name].fixed)


def test_calibration_rounds_a_fitted_score_valued_number_to_the_resolution() -> None:
    from scslab.calibration.runs import Job
    from scslab.engine.scenario import Scenario

    kinds = {"a": "step:0.1", "b": "int", "c": "float"}
    job = Job(Scenario().model_dump_json(), kinds, None, {}, 0)  # type: ignore[arg-type]
    assert job.typed("a", -0.73) == -0.7 and job.typed("a", 2.05) in (2.0, 2.1)
    assert job.typed("b", 2.6) == 3 and type(job.typed("b", 2.6)) is int
    assert job.typed("c", 0.123) == 0.123
