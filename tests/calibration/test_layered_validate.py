"""`scslab validate` of a layered scenario: each layer's outputs against published figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from helpers import scslab
from scslab._yaml import load_located
from scslab.calibration.layered import NO_FIGURE, prepare_layered
from scslab.calibration.targets import load_targets, targets_doc
from scslab.engine.layers import LayeredSimulation
from scslab.engine.scenario import Scenario, load_scenario
from scslab.errors import ScenarioError
from scslab.sweep.outputs import step_totals

AGENTS = 400
#: the patchwork's court lists about 0.3 % of people a year: 1,000 people so that its run of a
#: year lists somebody (400 listed nobody once the layers shared their acts)
COURT_AGENTS = 1000
#: the court's published running totals at the end of 2017 (spc-defaulters.targets.yaml)
END_2017 = {"listed": 9_590_000, "flights-blocked": 9_360_000, "rail-blocked": 3_670_000}


def _doc(text: str) -> object:
    return load_located(text, "t.yaml", ScenarioError)


def test_the_patchworks_court_layer_is_held_to_the_court_figures_its_run_can_reach() -> None:
    """2018-12 totals compared as the published 2017-12 total plus ours over 2018, held out;
    the 2017 and 2019 figures listed as not compared; the other layers as no published figure."""
    from scslab.cli import _register, app

    _register()
    done = CliRunner().invoke(
        app, ["validate", "patchwork-2018", "--agents", str(COURT_AGENTS), "--seeds", "1", "--json"]
    )
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert out["layered"] is True
    layers = out["layers"]
    assert list(layers) == ["spc", "sesame", "rongcheng"]
    scenario = load_scenario("patchwork-2018")
    spc = layers["spc"]
    assert spc["reuses"] == "spc-defaulters"
    rows = {r["id"]: r for r in spc["targets"]}
    assert sorted(rows) == ["flights-blocked-2018-12", "listed-2018-12", "rail-blocked-2018-12"]
    published = {t.id: t.figure for t in load_targets("spc-defaulters").targets.targets}
    # ours over 2018, from an independent run of the same scenario and seed
    small = Scenario.model_validate(
        {
            **scenario.model_dump(),
            "population": {**scenario.population.model_dump(), "agents": COURT_AGENTS},
        }
    )
    lsim = LayeredSimulation(small)
    run = lsim.execute()
    columns = step_totals(lsim.layers[0].sim, run.runs[0].record)
    per_capita = 1_400_000_000 / COURT_AGENTS
    ours = {
        "listed": columns["entries__judgment-defaulters"].sum(),
        "flights-blocked": columns["blocked__buy-flight-ticket"].sum(),
        "rail-blocked": columns["blocked__buy-rail-ticket"].sum(),
    }
    assert ours["listed"] > 0
    for what, before in END_2017.items():
        r = rows[f"{what}-2018-12"]
        assert r["role"] == "check" and r["fitted_in"] is None  # held out, there and here
        assert r["carried"] == {"from": f"{what}-2017-12", "figure": before}
        assert r["published"] == published[f"{what}-2018-12"]
        assert r["mean"] == pytest.approx(before + ours[what] * per_capita)
        assert r["within"] == (
            abs(r["mean"] - r["published"]) <= 0.15 * r["published"] * (1 + 1e-9)
        )
    skipped = {x["id"] for x in spc["not_compared"]}
    assert skipped == set(published) - set(rows)
    assert all(
        "outside the layer's months (2018-01 to 2018-12)" in x["why"] for x in spc["not_compared"]
    )
    for lid in ("sesame", "rongcheng"):
        assert layers[lid]["targets"] == [] and layers[lid]["note"].startswith(NO_FIGURE)


def test_suinings_targets_fit_the_layer_as_they_are_and_keep_their_roles() -> None:
    """The suining layer starts when suining-2010 does: nothing carried, nothing skipped; the
    first list was fitted (for suining-2010), the postings are held out; the bureau layer is
    listed with no published figure."""
    job = prepare_layered(
        load_scenario("suining-2010-2011"), targets_doc("suining-2010-2011"), agents=AGENTS
    )
    bureau, suining = job.layers  # the scenario's order, not the file's
    assert (bureau.id, suining.id) == ("bureau", "suining")
    assert suining.fitted_in == {"first-list-2010-02": "suining-2010"}
    assert suining.carried == {} and suining.skipped == ()
    (part,) = suining.parts
    # the layer's months: 2010-01 is its month 0, as it is suining-2010's
    assert {t: (w.first, w.last) for t, w in part.windows.items()} == {
        "first-list-2010-02": (0, 1),
        "posted-by-2010-03": (0, 2),
    }
    assert bureau.parts == () and bureau.note is not None


PATCHWORK_OWN = """\
layers:
  spc:
    reuse: spc-defaulters
    reference_population: 1400000000
    targets:
      - id: on-list-2018-06
        source: docs/sources.md#lists
        date: 2018-06
        observable: stock
        of: judgment-defaulters
        figure: 1000000
        unit: count
        tolerance: 0.5
        role: check
"""


def test_a_layers_own_targets_are_read_in_the_layers_months_beside_reused_ones() -> None:
    job = prepare_layered(load_scenario("patchwork-2018"), _doc(PATCHWORK_OWN), agents=AGENTS)  # type: ignore[arg-type]
    spc = job.layers[0]
    reused, own = spc.parts
    assert [t.id for t in own.file.targets.targets] == ["on-list-2018-06"]
    assert own.windows["on-list-2018-06"].last == 5
    assert len(reused.file.targets.targets) == 3
    assert [ls.parts for ls in job.layers[1:]] == [(), ()]


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            "layers:\n  spc: {reuse: spc-defaulters}\n  court: {note: x}\n",
            "t.yaml:3:3",
            "no layer 'court'",
        ),
        (
            "layers:\n  sesame:\n    reuse: spc-defaulters\n",
            "t.yaml:3:12",
            "held to the targets of its own scheme",
        ),
        (
            "layers:\n  spc:\n    reuse: sesame-credit\n",
            "t.yaml:3:12",
            "not a built-in scenario with targets",
        ),
        ("layers:\n  spc: {}\n", "t.yaml:2:8", "give `reuse:`"),
        ("layers:\n  spc: {reuse: spc-defaulters, targest: []}\n", "t.yaml:2:", "targest"),
        (PATCHWORK_OWN.replace("role: check", "role: fit"), "t.yaml:14:15", "nothing calibrates"),
        (
            PATCHWORK_OWN.replace("on-list-2018-06", "listed-2018-12"),
            "t.yaml:6:13",
            "a target of spc-defaulters too",
        ),
        (
            PATCHWORK_OWN.replace("of: judgment", "of: judgement"),
            "t.yaml:10:13",
            "did you mean 'judgment-defaulters'",
        ),
        (PATCHWORK_OWN.replace("2018-06", "2019-06"), "t.yaml:8:15", "outside the run"),
    ],
)
def test_each_mistake_in_a_layered_targets_file_is_one_located_line(
    text: str, where: str, message: str
) -> None:
    with pytest.raises(ScenarioError) as err:
        prepare_layered(load_scenario("patchwork-2018"), _doc(text), agents=AGENTS)  # type: ignore[arg-type]
    line = str(err.value)
    assert len(line.splitlines()) == 1 and line.startswith(where) and message in line, line


def test_the_command_refuses_a_one_scheme_targets_file_in_one_line(tmp_path: Path) -> None:
    one = tmp_path / "one.targets.yaml"
    one.write_text(Path(targets_doc("spc-defaulters").source).read_text())
    done = scslab(
        "validate", "patchwork-2018", one, "--agents", AGENTS, "--seeds", "1", cwd=tmp_path
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{one}:" in lines[0] and "under `layers:`" in lines[0], done.stderr


def test_a_layered_targets_file_is_refused_where_one_scheme_targets_are_read() -> None:
    """`scslab calibrate` (and anything reading one-scheme targets) says what the file is for."""
    with pytest.raises(
        ScenarioError, match=r"patchwork-2018.targets.yaml:\d+:1: layers: .*validate"
    ):
        load_targets("patchwork-2018")
    with pytest.raises(ScenarioError, match=r":\d+:3: layers: these targets are by layer"):
        prepare_layered(
            load_scenario("spc-defaulters"), targets_doc("patchwork-2018"), agents=AGENTS
        )


def test_a_layered_scenario_file_needs_a_targets_file_after_it(tmp_path: Path) -> None:
    import shutil

    from scslab.cli import _register, app
    from scslab.engine.scenario import builtin_path

    shutil.copy(builtin_path("patchwork-2018"), tmp_path / "pw.yaml")
    shutil.copytree(builtin_path("patchwork-2018").with_suffix(""), tmp_path / "patchwork-2018")
    _register()
    done = CliRunner().invoke(app, ["validate", str(tmp_path / "pw.yaml"), "--seeds", "1"])
    assert isinstance(done.exception, ScenarioError)
    assert "give a targets file after the scenario" in str(done.exception)
