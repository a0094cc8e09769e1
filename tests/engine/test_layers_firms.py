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


def test_two_layers_of_firms_and_firms_without_one_are_refused() -> None:
    second = layered()
    second["layers"].append({"id": "more", "scheme": "corporate-scs", "people": "spc"})
    with pytest.raises(ScenarioError, match=r"layers\.2\.scheme: a second layer of firms"):
        LayeredSimulation(Scenario.model_validate(second))
    without = {**layered(), "layers": [{"id": "spc", "scheme": "defaulter-blacklist"}]}
    with pytest.raises(ScenarioError, match="firms: no layer scores enterprises"):
        LayeredSimulation(Scenario.model_validate(without))


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


def test_figures_across_layers_count_people_only() -> None:
    """A sweep's figures over all layers (people sanctioned, sanction-months) are the people's
    layer's alone beside a layer of firms that sanctions firms: firm rows are not people."""
    import numpy as np

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


def test_compare_takes_a_layered_scenario_with_a_layer_of_firms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`scslab compare defaulter-blacklist SCENARIO` with [spc; firms from month 1]: the
    scheme alone and the people's layer are the same run (the same figures); the layer of
    firms is a column of firms (`subjects: firms`, its firms counted), and all layers are the
    people's: the firms' records and sanctions are not people's."""
    import yaml
    from typer.testing import CliRunner

    from scslab.cli import _register, app
    from scslab.cli.compare import show

    doc = layered(**{"from": 1})
    doc["population"] = {"agents": 1000}
    path = tmp_path / "firms.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    _register()
    args = ["compare", "defaulter-blacklist", str(path), "--out", str(tmp_path / "cmp"), "--json"]
    ran = CliRunner().invoke(app, args)
    assert ran.exit_code == 0, ran.output
    report = json.loads(ran.stdout)
    rows = report["schemes"]
    alone, spc, firms, every = (
        rows[k] for k in ("defaulter-blacklist", "firms/spc", "firms/firms", "firms")
    )
    for key in ("sanctioned_share", "listed_share", "records", "deterrence"):
        assert alone[key] == spc[key], key
    assert alone["subjects"] == spc["subjects"] == every["subjects"] == "people"
    with Results(tmp_path / "cmp" / "firms" / "layers" / "firms") as stored:
        assert firms["people"] == stored.run()["agents"]
    assert firms["subjects"] == "firms" and (firms["from"], firms["until"]) == (1, 6)
    assert firms["records"] > 0 and firms["sanctioned_share"] > 0
    assert every["people"] == 1000
    show(report)
    assert f"{firms['people']} firms" in capsys.readouterr().out
    for key in ("records", "false_records", "sanctioned_share", "sanction_months_per_person"):
        assert every[key] == spc[key], key


def managers_listed(run: Any) -> Any:
    """Firms of the layer of firms of ``run`` (a LayeredRun) whose managers are on one of the
    people's layer's blacklists now, counted by hand from the people's state (its rows are
    those of its regions: a manager elsewhere is on none of its lists)."""
    import numpy as np

    firms, spc = run.by_layer["firms"], run.by_layer["spc"]
    pop, lo, n = firms.pop, spc.offset, spc.state.list_since.shape[0]
    on = np.zeros(len(pop.managers), bool)
    for k, person in enumerate(pop.managers):
        if lo <= person < lo + n:
            on[k] = (spc.state.list_since[person - lo, firms.people_black] >= 0).any()
    return int(np.logical_or.reduceat(on, pop.manager_start[:-1]).sum())


def months_of(doc: dict[str, Any], snap: int | None = None) -> tuple[Any, list[int], Any]:
    """Run ``doc`` in memory: its LayeredRun, the firms whose managers were listed by hand
    before each month, and (``snap``) the firms' scores after that month of the run."""
    lsim = LayeredSimulation(Scenario.model_validate(doc))
    run = lsim.start()
    before, score = [], None
    for t in range(lsim.steps):
        before.append(managers_listed(run))
        run.advance(t)
        if t == snap:
            score = run.by_layer["firms"].state.score.copy()
    return run, before, score


def test_a_layer_of_firms_comes_into_force_late_or_is_abandoned() -> None:
    """The corporate scheme in force in months 2-4 of 6: no history (firms at base), three
    months recorded, each reading the people's lists as they stood at the end of last month
    (counted by hand); the people's layer is the same run with the firms in force throughout.
    Abandoned at month 3: its first three months are the whole run's, bit for bit, and from
    then on it stands still (its scores as they were at the end of month 2)."""
    import numpy as np

    whole, _, at_2 = months_of(layered(), snap=2)
    late, late_before, _ = months_of(layered(**{"from": 2, "until": 5}))
    firms = late.by_layer["firms"]
    assert firms.history == 0 and whole.by_layer["firms"].history == 3
    assert firms.record.extra["managers_listed"].shape[0] == 3
    assert list(firms.record.extra["managers_listed"].sum(axis=1)) == late_before[2:5]
    assert max(late_before[2:5]) > 0  # the people's lists reach the late firms
    for key in ("list_since", "score", "flags"):
        assert np.array_equal(
            getattr(late.by_layer["spc"].state, key), getattr(whole.by_layer["spc"].state, key)
        ), key
    early, _, _ = months_of(layered(until=3))
    gone, kept = early.by_layer["firms"], whole.by_layer["firms"]
    assert gone.record.extra["managers_listed"].shape[0] == 3
    for key, column in gone.record.extra.items():
        assert np.array_equal(column, kept.record.extra[key][:3]), key
    assert np.array_equal(gone.state.score, at_2)
    assert not np.array_equal(kept.state.score, at_2)


def test_the_people_s_layer_of_a_layer_of_firms_may_start_late_or_be_abandoned(
    tmp_path: Path,
) -> None:
    """The people's layer abandoned at month 3: the firms read its lists until then, as with
    it in force throughout, and nobody from then on. In force from month 2 to 5 in two regions,
    and the firms from month 1 in two others, written and replayed by the audit: the replay is
    the run."""
    import numpy as np

    from scslab.analysis.replay import replay

    whole, whole_before, _ = months_of(layered())
    doc = layered()
    doc["layers"][0]["until"] = 3
    gone, before, _ = months_of(doc)
    listed = gone.by_layer["firms"].record.extra["managers_listed"].sum(axis=1)
    kept = whole.by_layer["firms"].record.extra["managers_listed"].sum(axis=1)
    assert list(listed[:3]) == list(kept[:3]) == whole_before[:3] and max(kept[:3]) > 0
    assert not listed[3:].any() and before[3] > 0  # still on the stale lists, which are gone
    assert np.array_equal(
        gone.by_layer["firms"].record.extra["tax__A"][:3],
        whole.by_layer["firms"].record.extra["tax__A"][:3],
    )
    doc = layered(**{"from": 1, "where": ["city-centre", "suburbs"]})
    doc["layers"][0].update({"from": 2, "until": 5, "where": ["suburbs", "towns"]})
    run_layered(LayeredSimulation(Scenario.model_validate(doc)), tmp_path / "run")
    with Results(tmp_path / "run" / "layers" / "firms") as stored:
        assert stored.run()["steps"] == 5
        _, record = replay(stored)
        for column in ("managers_listed", "tax__D", "closed"):
            kept_sum = stored.sql(f"SELECT sum({column}) FROM steps").fetchall()[0][0]
            assert int(record.extra[column].sum()) == kept_sum, column


def test_a_layer_of_firms_and_its_people_s_layer_over_some_regions() -> None:
    """The people's layer over suburbs and towns: the firms are the same as with it
    everywhere (drawn from the whole population), and a manager elsewhere is on none of its
    lists (counted by hand each month). The layer of firms over the towns: the firms of the
    towns (its legal representative's region), in their order, and nothing recorded elsewhere."""
    import numpy as np

    whole, _, _ = months_of(layered())
    everywhere = whole.by_layer["firms"].pop
    doc = layered()
    doc["layers"][0]["where"] = ["suburbs", "towns"]
    run, before, _ = months_of(doc)
    firms, spc = run.by_layer["firms"], run.by_layer["spc"]
    assert np.array_equal(firms.pop.managers, everywhere.managers)
    n = spc.state.score.shape[0]
    outside = (firms.pop.managers < spc.offset) | (firms.pop.managers >= spc.offset + n)
    assert spc.offset > 0 and n < 2000 and outside.any()
    listed = firms.record.extra["managers_listed"].sum(axis=1)
    assert list(listed) == before and max(before) > 0
    towns = layered(where=["towns"])
    run, before, _ = months_of(towns)
    firms = run.by_layer["firms"]
    region = [r.id for r in Scenario.model_validate(towns).population.regions].index("towns")
    mine = everywhere.region == region
    assert firms.pop.n == int(mine.sum()) < everywhere.n
    assert np.array_equal(firms.pop.representative, everywhere.representative[mine])
    assert list(firms.record.extra["managers_listed"].sum(axis=1)) == before
    per_region = firms.record.extra["tax__A"].reshape(6, 4, -1).sum(axis=2)
    assert per_region[:, region].sum() > 0
    assert not np.delete(per_region, region, axis=1).any()
    few = {**layered(where=["villages"]), "population": {"agents": 200}}
    few["firms"] = {"per_thousand_people": 5}
    with pytest.raises(ScenarioError, match="layer 'firms': where: no firm is run from villages"):
        LayeredSimulation(Scenario.model_validate(few)).start()
