"""A layer of firms beside people's layers (docs/firms.md#a-layer-of-firms): the firms of the
population, scored by a scheme of enterprises, whose managers' listings on the people's layer it
names reach them; its results are the one-layer firm run's, bit for bit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from helpers import assert_same_tables, scslab
from helpers import tables as stored_tables
from scslab import Simulation
from scslab.engine.layers import LayeredSimulation
from scslab.engine.scenario import Scenario
from scslab.errors import ScenarioError
from scslab.layered import run_layered
from scslab.store.results import Results

#: every table's rows, and these columns of ``runs`` (the rest: the scenario's text, times)
RUN_COLUMNS = "scheme, subjects, scheme_yaml, acts_yaml, seed, agents, steps, steps_done, start"
#: many firms for few people, so that managers are listed within a few months
FIRMS = {"history_months": 3, "per_thousand_people": 300}
BASE: dict[str, Any] = {"population": {"agents": 2000}, "years": 0.5, "seed": 4}


def layered(**firm_layer: Any) -> dict[str, Any]:
    return {
        **BASE,
        "history_months": 3,  # the people's layer's, as long as the firms'
        "firms": FIRMS,
        "layers": [
            {"id": "spc", "scheme": "defaulter-blacklist"},
            {"id": "firms", "scheme": "corporate-scs", "people": "spc", **firm_layer},
        ],
    }


def tables(results: Any) -> dict[str, list[Any]]:
    return stored_tables(results, sort=True, runs=RUN_COLUMNS)


def test_a_layer_of_firms_is_the_firm_run_and_its_people_the_people_scheme_alone(
    tmp_path: Path,
) -> None:
    """[spc: defaulter-blacklist; firms: corporate-scs reading spc] with the same seed, stopped
    after month 3 and resumed from its checkpoint of month 2: the firms layer's every table is
    the one-layer firm run's (firms.people_scheme: defaulter-blacklist, the same history), and
    the spc layer's every table the court's list run alone; managers are listed in it, so the
    people's lists reach the firms."""
    from scslab.engine.checkpoint import read_manifest
    from scslab.engine.simulation import RunInterrupted
    from scslab.layered import resume_layered

    lsim = LayeredSimulation(Scenario.model_validate(layered()))
    assert [lsim.layers[i].id for i in lsim.order] == ["firms", "spc"]  # firms read last month

    def stop_after_3(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted):
        run_layered(lsim, tmp_path / "layered", progress=stop_after_3, every=2)
    manifest = read_manifest(tmp_path / "layered")
    assert manifest.step == 2
    _, done = resume_layered(manifest)
    firm_run = Simulation(
        Scenario.model_validate(
            {
                **BASE,
                "scheme": "corporate-scs",
                "firms": {**FIRMS, "people_scheme": "defaulter-blacklist"},
            }
        )
    ).run(tmp_path / "firm-run")
    court = Simulation(
        Scenario.model_validate({**BASE, "scheme": "defaulter-blacklist", "history_months": 3})
    ).run(tmp_path / "court")
    assert_same_tables(tables(done["firms"]), tables(firm_run), "firms layer")
    assert_same_tables(tables(done["spc"]), tables(court), "spc layer")
    listed = firm_run.sql("SELECT sum(managers_listed) FROM steps").fetchall()[0][0]
    assert listed > 0
    doc = json.loads((tmp_path / "layered" / "layers.json").read_text())
    entry = doc["layers"][1]
    assert entry["firms"] == firm_run.run()["agents"] and entry["people_layer"] == "spc"
    assert "people" not in entry and "rows" not in entry


def test_scslab_commands_read_a_layer_of_firms(tmp_path: Path) -> None:
    """`scslab run` on the example writes it; `explain` across layers sends a firm to the
    layer's folder; `audit` on the firm layer's folder replays the whole layered run (the
    people's acts for the people's layer); a sharded run is refused in one line."""
    from scslab.analysis.replay import replay, source

    out = tmp_path / "run"
    example = Path(__file__).parents[2] / "examples" / "layers-firms.yaml"
    ran = scslab("run", example, "--agents", "1500", "--years", "0.25", "--out", out, "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["layers"]["firms"]["subjects"] == "firms"
    across = scslab("explain", out, "--agent", "6")
    assert across.returncode == 0, across.stderr
    assert "a layer of firms" in across.stdout and "layers/firms --agent FIRM" in across.stdout
    with Results(out / "layers" / "firms") as stored:
        assert source(stored)["layered"]["layer"] == "firms"
        sim, record = replay(stored)
        assert sim.subjects == "firms"
        for column in ("managers_listed", "tax__D", "closed"):
            kept = stored.sql(f"SELECT sum({column}) FROM steps").fetchall()[0][0]
            assert int(record.extra[column].sum()) == kept, column
    lsim = LayeredSimulation(Scenario.from_yaml(example))
    with pytest.raises(ScenarioError, match="--shards: scheme 'corporate-scs' scores firms"):
        run_layered(lsim, tmp_path / "sharded", shards=2)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"people": None}, "name the people's layer"),
        ({"people": "nobody"}, "no layer 'nobody'"),
        ({"people": "firms"}, "does not score people"),
        ({"where": ["towns"]}, "`where:` for a layer of firms"),
        ({"until": 3}, "`until:` for a layer of firms"),
    ],
)
def test_a_layer_of_firms_is_refused_at_its_line_and_column(
    tmp_path: Path, change: dict[str, Any], said: str
) -> None:
    import yaml

    doc = layered()
    doc["layers"][1] = {k: v for k, v in {**doc["layers"][1], **change}.items() if v is not None}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    with pytest.raises(ScenarioError, match=rf"s\.yaml:\d+:\d+: .*{said}"):
        Scenario.from_yaml(path)
    if change == {"people": None}:  # the command says it in one line, status 2
        ran = scslab("run", path, "--out", tmp_path / "out")
        assert ran.returncode == 2 and said in ran.stderr
        assert len(ran.stderr.strip().splitlines()) == 1


def test_two_layers_of_firms_firms_without_one_and_a_bounded_people_layer_are_refused() -> None:
    second = layered()
    second["layers"].append({"id": "more", "scheme": "corporate-scs", "people": "spc"})
    with pytest.raises(ScenarioError, match=r"layers\.2\.scheme: a second layer of firms"):
        LayeredSimulation(Scenario.model_validate(second))
    without = {**layered(), "layers": [{"id": "spc", "scheme": "defaulter-blacklist"}]}
    with pytest.raises(ScenarioError, match="firms: no layer scores enterprises"):
        LayeredSimulation(Scenario.model_validate(without))
    bounded = layered()
    bounded["layers"][0]["until"] = 4
    with pytest.raises(ScenarioError, match=r"layers\.1\.people: layer 'spc' has `where`"):
        LayeredSimulation(Scenario.model_validate(bounded))


def test_a_link_to_a_layer_of_firms_is_refused_at_its_condition() -> None:
    """Sesame's links read layer `spc`'s list: with `spc` a layer of firms, refused there."""
    from importlib import resources

    sesame = resources.files("scslab") / "scenarios" / "patchwork-2018" / "sesame.yaml"
    doc = {**layered(), "network": {}}  # sesame has network rules
    doc["layers"] = [
        {"id": "court", "scheme": "defaulter-blacklist"},
        {"id": "spc", "scheme": "corporate-scs", "people": "court"},
        {"id": "sesame", "scheme": str(sesame)},
    ]
    with pytest.raises(
        ScenarioError,
        match=r"sesame\.yaml:\d+:\d+: .*'sesame' reads layer 'spc', which scores firms",
    ):
        LayeredSimulation(Scenario.model_validate(doc))


def test_figures_across_layers_count_people_only_and_compare_refuses_a_layer_of_firms() -> None:
    """A sweep's figures over all layers (people sanctioned, sanction-months) are the people's
    layer's alone beside a layer of firms that sanctions firms: firm rows are not people.
    `scslab compare` refuses a layered scenario with a layer of firms in one line."""
    import numpy as np

    from scslab.analysis.compare import checked
    from scslab.engine.compiled import FLAG_SANCTIONED
    from scslab.sweep.outputs import AcrossLayers

    lsim = LayeredSimulation(Scenario.model_validate(layered()))
    run = lsim.start()
    across = AcrossLayers(lsim)
    for t in range(lsim.steps):
        run.advance(t)
        across.month(run, t)
    out, _ = across.outputs(run)
    spc, firms = run.by_layer["spc"], run.by_layer["firms"]
    assert np.count_nonzero(firms.state.flags & FLAG_SANCTIONED) > 0
    assert out["layers.sanctioned"] == np.count_nonzero(spc.state.flags & FLAG_SANCTIONED)
    assert out["layers.sanction_months"] == spc.record.anyc[:, :, 0].sum()
    example = Path(__file__).parents[2] / "examples" / "layers-firms.yaml"
    with pytest.raises(ScenarioError, match="layer 'firms' scores firms; compare with a layer"):
        checked(["defaulter-blacklist", str(example)])
