"""Sharded layered runs: the population split by region over Dask workers gives every layer the
tables of the unsharded layered run, bit for bit; a stopped run resumes to them, and a run that
loses a worker ends with them. Public shaming (ties cut to friends on a public list, ghosts among
them) shards bit for bit too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from scale_helpers import assert_same_tables, kill_a_worker_after, restarts, tables

import scslab
from scslab.engine.checkpoint import read_manifest
from scslab.engine.layers import LAYERS_FILE, LayeredSimulation
from scslab.engine.scenario import Scenario, load_scenario
from scslab.engine.shards import plan_layered, plan_shards
from scslab.engine.simulation import RunInterrupted
from scslab.layered import resume_layered, run_layered
from scslab.population import NetworkSpec, PopulationSpec
from scslab.runs import Simulation, run_sharded
from scslab.schemes import load_scheme
from scslab.store.layered import TOGETHER
from scslab.store.writer import RESULTS

SRC = Path(scslab.__file__).parent
PATCHWORK = SRC / "scenarios" / "patchwork-2018"


def shaming_scheme(folder: Path) -> Path:
    """The court's defaulter list with its public shaming cutting a tie to a listed friend with
    probability 0.6 a month (0.02 built in), so that ties to ghosts are cut within months."""
    text = (SRC / "schemes" / "builtin" / "defaulter-blacklist.yaml").read_text()
    shaming = "ties: {monthly_probability: 0.02}"
    assert shaming in text
    path = folder / "spc.yaml"
    path.write_text(text.replace(shaming, "ties: {monthly_probability: 0.6}"))
    return path


def scenario_file(folder: Path) -> Path:
    """patchwork-2018 over 1,200 people for half a year, with a network of 8 friends, three months
    of history, more judgments left unpaid (so more shaming), the court's shaming stronger
    (:func:`shaming_scheme`), Sesame taking the court's, the banks' and tax records only, and
    Rongcheng in force from month 2 until month 5."""
    shaming_scheme(folder)
    path = folder / "layered.yaml"
    path.write_text(
        "population: {agents: 1200}\nyears: 0.5\nstart: 2018-01\nseed: 5\nhistory_months: 3\n"
        "network: {mean_degree: 8}\nrates: {unpaid-judgment: 0.01}\nlayers:\n"
        f"  - {{id: spc, scheme: {folder / 'spc.yaml'}}}\n"
        f"  - {{id: sesame, scheme: {PATCHWORK / 'sesame.yaml'}, "
        "where: [city-centre, suburbs, towns], channels: [court, bank, tax]}\n"
        f"  - {{id: rongcheng, scheme: {PATCHWORK / 'rongcheng.yaml'}, where: [towns], "
        "from: 2, until: 5}\n"
    )
    return path


def layered(folder: Path) -> dict[str, Any]:
    """Every layer's tables, layers.duckdb's and layers.json."""
    doc = json.loads((folder / LAYERS_FILE).read_text())
    out: dict[str, Any] = {"layers.json": doc, "together": tables(folder / TOGETHER)}
    for layer in doc["layers"]:
        out[layer["id"]] = tables(folder / layer["results"])
    return out


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert got["layers.json"] == want["layers.json"]
    assert got["together"] == want["together"]
    for lid in ("spc", "sesame", "rongcheng"):
        assert_same_tables(got[lid], want[lid], lid)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The scenario file and the unsharded layered run's tables."""
    folder = tmp_path_factory.mktemp("layered")
    path = scenario_file(folder)
    for r in run_layered(LayeredSimulation(load_scenario(path)), folder / "run").values():
        r.close()
    return path, layered(folder / "run")


def test_a_sharded_layered_run_writes_the_unsharded_results_bit_for_bit(
    reference: tuple[Path, dict[str, Any]], cluster: Any, tmp_path: Path
) -> None:
    """2 shards of whole regions: the court's layer (with public shaming) and Sesame's (with its
    rule on friends, whose ghosts cross shards, and its links to the court's list) are in both,
    Rongcheng's (the towns, from month 2 to 4) in one only; every layer's tables, layers.duckdb
    and layers.json equal the unsharded run's, the court's ties cut by shaming included."""
    path, want = reference
    lsim = LayeredSimulation(load_scenario(path))
    plans = plan_layered(lsim, 2)
    assert [sorted(p.layers) for p in plans] == [["sesame", "spc"], ["rongcheng", "sesame", "spc"]]
    assert plans[0].layers["sesame"].ghosts.size > 0  # friends in the other shard
    done = run_layered(lsim, tmp_path, shards=2, cluster=cluster.scheduler_address, every=2)
    for r in done.values():
        r.close()
    assert_same(layered(tmp_path), want)
    assert not list(tmp_path.glob("checkpoint*"))
    assert shaming_cuts(tmp_path / TOGETHER, "WHERE layer = 'spc'") > 0


def shaming_cuts(path: Path, where: str = "") -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(f"SELECT sum(ties_cut_by_shaming) FROM steps {where}").fetchone()
    finally:
        con.close()
    assert row is not None
    return int(row[0])


def test_public_shaming_of_one_scheme_shards_bit_for_bit(cluster: Any, tmp_path: Path) -> None:
    """One scheme with public shaming over a network: a tie to a friend in another shard is cut
    with the friend's shame of the month, which crosses shards mid-month; 2 shards give the
    unsharded tables."""
    scenario = Scenario(
        scheme="defaulter-blacklist",
        population=PopulationSpec(agents=2000),
        years=0.5,
        seed=4,
        network=NetworkSpec(mean_degree=8),
        rates={"unpaid-judgment": 0.01},
    )
    scheme = load_scheme(shaming_scheme(tmp_path))
    Simulation(scenario, scheme=scheme).run(tmp_path / "plain").close()
    sim = Simulation(scenario, scheme=scheme)
    plans = plan_shards(sim, sim.population(), 2)
    assert all(p.shaming and len(p.ghosts) for p in plans)
    run_sharded(sim, tmp_path / "two", 2, cluster=cluster.scheduler_address, every=3).close()
    assert_same_tables(tables(tmp_path / "two" / RESULTS), tables(tmp_path / "plain" / RESULTS))
    assert shaming_cuts(tmp_path / "two" / RESULTS) > 0


def test_a_stopped_sharded_layered_run_resumes_to_the_same_results(
    reference: tuple[Path, dict[str, Any]], cluster: Any, tmp_path: Path
) -> None:
    """Ctrl-C after month 4 keeps the month-2 checkpoint, one part per shard holding every
    layer there; resuming it (in shards again) ends with the unsharded run's tables."""
    path, want = reference

    def stop(done: int, total: int) -> None:
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(RunInterrupted):
        run_layered(
            LayeredSimulation(load_scenario(path)),
            tmp_path,
            shards=2,
            cluster=cluster.scheduler_address,
            every=2,
            progress=stop,
        )
    manifest = read_manifest(tmp_path)
    assert manifest.step == 2 and manifest.shards == 2
    assert set(manifest.extra["layered"]["schemes"]) == {"spc", "sesame", "rongcheng"}
    assert not (tmp_path / LAYERS_FILE).exists()
    _, done = resume_layered(manifest, cluster=cluster.scheduler_address)
    for r in done.values():
        r.close()
    assert_same(layered(tmp_path), want)
    assert not list(tmp_path.glob("checkpoint*"))


def test_a_scheme_over_some_regions_shards_bit_for_bit(cluster: Any, tmp_path: Path) -> None:
    """A one-layer scenario whose layer is over some regions: its people are rows of the
    population from the first of its regions on, and its shards key their draws by those rows
    (`ShardPlan.first`), so 2 shards give the unsharded tables."""
    scenario = Scenario.model_validate(
        {
            "population": {"agents": 2000},
            "years": 0.5,
            "seed": 2,
            "network": {"mean_degree": 8},
            "history_months": 2,
            "layers": [
                {"id": "g", "scheme": "sesame-credit", "where": ["suburbs", "towns", "villages"]}
            ],
        }
    )
    Simulation(scenario).run(tmp_path / "plain").close()
    sim = Simulation(scenario)
    plans = plan_shards(sim, sim.population(), 2)
    assert sim.row_offset > 0 and plans[1].first > plans[1].lo
    run_sharded(sim, tmp_path / "two", 2, cluster=cluster.scheduler_address, every=2).close()
    assert_same_tables(tables(tmp_path / "two" / RESULTS), tables(tmp_path / "plain" / RESULTS))


def test_a_killed_worker_of_a_layered_run_is_replaced_and_every_layer_ends_undisturbed(
    reference: tuple[Path, dict[str, Any]], cluster: Any, tmp_path: Path
) -> None:
    """2 shards checkpoint every 2 months; after month 3 the worker holding shard 0 (the court's
    and Sesame's layers in the centre and suburbs) is SIGKILLed. The run starts again from its
    month-2 checkpoint by itself, and every layer's tables equal the unsharded run's."""
    path, want = reference
    kill_after_month_three, killed = kill_a_worker_after(cluster, 3)
    log: list[str] = []
    done = run_layered(
        LayeredSimulation(load_scenario(path)),
        tmp_path,
        shards=2,
        cluster=cluster.scheduler_address,
        every=2,
        progress=kill_after_month_three,
        log=log.append,
    )
    for r in done.values():
        r.close()
    assert killed
    # from the checkpoint, never from scratch (one loss may be heard twice: tests/scale's
    # test_worker_loss.py says why)
    assert 1 <= len(restarts(log)) <= 2 and all(r >= 2 for r in restarts(log)), log
    assert_same(layered(tmp_path), want)
