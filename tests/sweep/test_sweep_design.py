"""Designs give the points they promise; replicates give distinct, reproducible seeds and keys."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sweep_helpers import TINY_BASE

from scslab.engine.scenario import Scenario
from scslab.errors import ScenarioError
from scslab.sweep import Sweep


def plan(body: str, base: str = TINY_BASE) -> Sweep:
    return Sweep.from_text(base + body, source="s.yaml")


def test_a_grid_is_every_combination_of_the_axes_in_order() -> None:
    """Evenly spaced values, both ends included, for a range; listed values as given; the last
    axis varies fastest."""
    sweep = plan(
        "parameters:\n"
        "  observation.camera_reach: {range: [1, 5], steps: 3}\n"
        "  scheme: {values: [suining-2010, rongcheng-2014]}\n"
        "design: {kind: grid}\n"
    )
    expected = list(itertools.product([1.0, 3.0, 5.0], ["suining-2010", "rongcheng-2014"]))
    assert list(sweep.points) == expected
    assert len(sweep.runs) == 6
    for run in sweep.runs:
        scenario = Scenario.model_validate_json(run.scenario)
        reach, scheme = sweep.points[run.point]
        assert scenario.observation.camera_reach == reach and scenario.scheme == scheme
        assert scenario.population.agents == 1500  # the base's own settings stay


def test_an_integer_axis_is_rounded_without_repeats() -> None:
    """``population.agents`` over [1000, 1002] in 5 steps: 1000, 1001 and 1002 once each."""
    sweep = plan(
        "parameters:\n  population.agents: {range: [1000, 1002], steps: 5}\ndesign: {kind: grid}\n"
    )
    assert list(sweep.points) == [(1000,), (1001,), (1002,)]
    assert all(isinstance(p[0], int) for p in sweep.points)


def test_a_random_design_is_uniform_in_range_and_fixed_by_its_seed() -> None:
    """Points lie in their ranges and use every listed value; a seed fixes them, another moves
    them."""
    body = (
        "parameters:\n"
        "  observation.camera_false_match_rate: {range: [0.01, 0.02]}\n"
        "  scheme: {values: [suining-2010, rongcheng-2014, financial-only]}\n"
        "design: {kind: random, samples: 200, seed: SEED}\n"
    )
    first = plan(body.replace("SEED", "3"))
    again = plan(body.replace("SEED", "3"))
    other = plan(body.replace("SEED", "4"))
    assert first.points == again.points
    assert first.points != other.points
    rates = np.array([p[0] for p in first.points])
    assert len(first.points) == 200
    assert rates.min() >= 0.01 and rates.max() <= 0.02
    assert 0.0145 < rates.mean() < 0.0155  # the mean of U(0.01, 0.02) ± about 3.5 standard errors
    chosen = [p[1] for p in first.points]
    assert {c: chosen.count(c) > 40 for c in set(chosen)} == {
        "suining-2010": True,
        "rongcheng-2014": True,
        "financial-only": True,
    }


def test_a_sobol_design_is_saltellis_sample() -> None:
    """N × (D + 2) points, exactly SALib's Saltelli sample for these bounds and seed."""
    from SALib.sample import sobol as saltelli

    sweep = plan(
        "parameters:\n"
        "  observation.camera_reach: {range: [1, 20]}\n"
        "  observation.camera_false_match_rate: {range: [0, 0.05]}\n"
        "  adaptation.deterrence.elasticity: {range: [0, 3]}\n"
        "design: {kind: sobol, samples: 8, seed: 5}\n"
    )
    problem = {
        "num_vars": 3,
        "names": list(sweep.parameters),
        "bounds": [[1, 20], [0, 0.05], [0, 3]],
    }
    expected = saltelli.sample(problem, 8, calc_second_order=False, seed=5)
    assert sweep.samples is not None
    np.testing.assert_array_equal(sweep.samples, expected)
    assert np.array(sweep.points).shape == (8 * (3 + 2), 3)
    np.testing.assert_array_equal(np.array(sweep.points), expected)


def test_replicates_run_the_base_seed_and_the_next_ones_at_every_point() -> None:
    """Replicate r runs seed base + r at every point (common random numbers across points);
    each (point, replicate) has its own key, and a plan made again gives the same keys."""
    base = TINY_BASE + "  seed: 40\n"
    body = (
        "parameters:\n  observation.camera_reach: {values: [2, 4]}\n"
        "design: {kind: grid}\nreplicates: 3\n"
    )
    sweep = plan(body, base=base)
    seeds = [(r.point, r.replicate, r.seed) for r in sweep.runs]
    assert seeds == [(p, r, 40 + r) for p in range(2) for r in range(3)]
    for r in sweep.runs:
        assert Scenario.model_validate_json(r.scenario).seed == r.seed
    assert len({r.key for r in sweep.runs}) == 6
    assert [r.key for r in plan(body, base=base).runs] == [r.key for r in sweep.runs]


def test_the_same_scenario_has_the_same_key_whichever_spec_asks_for_it() -> None:
    """A run's key hashes its whole scenario and seed, not its place in a design."""
    a = plan("parameters:\n  years: {values: [0.25, 0.5]}\ndesign: {kind: grid}\n")
    b = plan("parameters:\n  years: {values: [0.5]}\ndesign: {kind: grid}\n")
    assert a.runs[1].key == b.runs[0].key
    assert a.runs[0].key != a.runs[1].key


def test_the_example_spec_is_a_sobol_sweep_of_the_default_scenario_over_three_parameters() -> None:
    from pathlib import Path

    sweep = Sweep.from_yaml(Path(__file__).parents[2] / "examples" / "sweep-sobol.yaml")
    assert sweep.spec.design.kind == "sobol" and len(sweep.parameters) == 3
    default = Scenario().model_dump()
    base = sweep.base.model_dump()
    assert {k for k in default if default[k] != base[k]} == {"population"}  # only its size
    assert base["population"] == {**default["population"], "agents": 20_000}


def test_a_sobol_design_too_large_is_refused_before_it_is_sampled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """2**20 base samples × (3 + 2) × 2 replicates is past the run limit: the spec is refused
    from its numbers, without building Saltelli's sample (which would take gigabytes)."""
    import scslab.sweep.design as design

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the design was sampled before its size was checked")

    monkeypatch.setattr(design, "_saltelli", never)
    monkeypatch.setattr(design, "_random", never)
    with pytest.raises(ScenarioError, match=r"5,242,880 points × 2 replicates is 10,485,760 runs"):
        plan(
            "parameters:\n"
            "  observation.camera_reach: {range: [1, 20]}\n"
            "  observation.camera_false_match_rate: {range: [0, 0.05]}\n"
            "  adaptation.deterrence.elasticity: {range: [0, 3]}\n"
            "design: {kind: sobol, samples: 1048576}\n"
            "replicates: 2\n"
        )
    with pytest.raises(ScenarioError, match=r"1,000,000 points × 2 replicates"):
        plan(
            "parameters:\n  observation.camera_reach: {range: [1, 20]}\n"
            "design: {kind: random, samples: 1000000}\nreplicates: 2\n"
        )
    assert design.point_count((), design.Sobol(kind="sobol", samples=4)) == 8
