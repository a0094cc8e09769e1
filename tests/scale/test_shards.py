"""Sharded runs: the population split by region over Dask workers gives the unsharded results,
bit for bit, and a shard sends exactly what its cross-shard ties need."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scale_helpers import assert_same_tables, scslab, tables

from scslab.behaviour.model import Catalogue
from scslab.engine.cluster import CONNECT_TIMEOUT
from scslab.engine.scenario import Scenario
from scslab.engine.shards import plan_shards, shard_bounds
from scslab.errors import ScenarioError
from scslab.population import NetworkSpec, PopulationSpec, generate
from scslab.runs import Simulation, run_sharded
from scslab.schemes import parse_scheme
from scslab.schemes.model import Scheme

AGENTS = 6000


def scenario(scheme: str, network: bool, **kw: Any) -> Scenario:
    return Scenario(
        scheme=scheme,
        population=PopulationSpec(agents=AGENTS, **kw.pop("population", {})),
        years=1,
        seed=3,
        panel=1500,  # a quarter of the people: their trajectories are compared too
        network=NetworkSpec(mean_degree=8) if network else None,
        **kw,
    )


# the low-scoring-friends rule, after 24 months of unrecorded history (Sesame's own is longer)
SESAME = scenario("sesame-credit", network=True, history_months=24)
RONGCHENG = scenario("rongcheng-2014", network=False)  # household triggers, no ties
CUTTING = Scenario.model_validate(
    {
        **SESAME.model_dump(),
        "adaptation": {
            **SESAME.adaptation.model_dump(),
            "tie_cutting": {"enabled": True, "probability": 0.3},
        },
    }
)
# collective responsibility by neighbourhood groups of 7 households, which straddle shards
BAOJIA_SCHEME = """
id: baojia
name: Jaywalking, paid for by household and neighbours
subject: individuals
description: one event and two collective rules
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: traffic}]
events:
  - {id: jaywalking, category: traffic, points: -20, domain: transport, source: paper}
collective:
  - {id: household-pays, group: household, points: -5, assumed: true}
  - {id: neighbours-pay, group: neighbourhood, points: -1, assumed: true}
"""
BAOJIA = scenario(
    "rongcheng-2014",
    network=False,
    population={"neighbourhood_households": 7},
    history_months=6,  # flags of a history month cross shards too
)


# children in households: everyone ages, children come of age with the parent's score, and
# Rongcheng's school bans fall on them (their cells move, so the shards keep their own)
KIDS = scenario(
    "rongcheng-2014",
    network=False,
    population={"children": {"inherit_record": True}},
    history_months=3,
)


# network rules over friends on a list and in a grade: ghosts' listings and grades cross shards
NETLIST_SCHEME = """
id: netlist
name: Jaywalkers' friends pay
subject: individuals
description: jaywalkers are listed for six months; their friends, and friends of grade C, pay
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: traffic}, {id: relationships}]
events:
  - {id: jaywalking, category: traffic, points: -200, domain: transport, source: paper}
grades:
  - {id: A, min: 900, max: 1000, source: paper}
  - {id: C, min: 0, max: 899, source: paper}
lists:
  - {id: jaywalkers, kind: black, entry: {events: [jaywalking]}, exit: {after_months: 6},
     source: paper}
network:
  - {id: listed-friends, kind: friends-listed, list: jaywalkers, share: 0.1, points: -5,
     category: relationships, assumed: true}
  - {id: graded-friends, kind: friends-in-grade, grades: [C], share: 0.2, points: -3,
     category: relationships, assumed: true}
"""
NETLIST = scenario("rongcheng-2014", network=True, history_months=3)


def jaywalking() -> Catalogue:
    return Catalogue.model_validate(
        {
            "acts": [
                {
                    "id": "jaywalking",
                    "name": "jaywalking",
                    "domain": "public-order",
                    "lawful": False,
                    "rate": 0.02,
                    "channels": {"court": 0.5},
                    "assumed": True,
                }
            ],
            "channels": [
                {"id": "court", "name": "court", "false_record_ratio": 0.0, "assumed": True}
            ],
        }
    )


def simulation(name: str) -> Simulation:
    if name == "baojia":
        scheme: Scheme = parse_scheme(BAOJIA_SCHEME, "baojia.yaml")
        return Simulation(BAOJIA, scheme=scheme, catalogue=jaywalking())
    if name == "netlist":
        scheme = parse_scheme(NETLIST_SCHEME, "netlist.yaml")
        return Simulation(NETLIST, scheme=scheme, catalogue=jaywalking())
    runs = {"sesame": SESAME, "rongcheng": RONGCHENG, "cutting": CUTTING, "kids": KIDS}
    return Simulation(runs[name])


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The unsharded results of each scenario, computed once."""
    out = {}
    for name in ("sesame", "rongcheng", "cutting", "baojia", "kids", "netlist"):
        folder = tmp_path_factory.mktemp(name)
        simulation(name).run(folder / "run")
        out[name] = tables(folder / "run" / "results.duckdb")
    return out


@pytest.mark.parametrize("shards", [1, 2, 3])
@pytest.mark.parametrize("name", ["sesame", "rongcheng"])
def test_a_sharded_run_writes_the_unsharded_results_bit_for_bit(
    name: str, shards: int, reference: dict[str, Any], cluster: Any, tmp_path: Path
) -> None:
    """1, 2 and 3 shards on Dask workers: every table of results.duckdb equals the unsharded
    run's with the same seed (timing columns aside), assortativity included."""
    run_sharded(simulation(name), tmp_path, shards, cluster=cluster.scheduler_address, every=5)
    assert_same_tables(tables(tmp_path / "results.duckdb"), reference[name])
    if name == "sesame":  # the low-friends rule fired, and assortativity is a number
        events = reference[name]["panel_events"]
        assert any(str(row[2]).startswith("network:") for row in events)
        assert all(row[1] is not None for row in _column(tmp_path, "steps", "score_assortativity"))
    assert not (tmp_path / "checkpoint.ckpt").exists()  # removed once the run is complete


@pytest.mark.parametrize("name", ["cutting", "baojia", "kids"])
def test_tie_cutting_and_straddling_neighbourhoods_shard_bit_for_bit(
    name: str, reference: dict[str, Any], cluster: Any, tmp_path: Path
) -> None:
    """Cutting ties to low scorers (rewired within one's own region, so within one's shard) and
    neighbourhood groups that straddle a shard boundary give the unsharded results too."""
    sim = simulation(name)
    plans = plan_shards(sim, sim.population(), 3)
    if name == "baojia":  # the test means something only if a neighbourhood straddles shards
        assert any(len(p.imports[src][2]) for p in plans for src in p.imports)
    run_sharded(sim, tmp_path, 3, cluster=cluster.scheduler_address, every=4)
    assert_same_tables(tables(tmp_path / "results.duckdb"), reference[name])
    if name == "cutting":
        assert sum(r[0] for r in _column(tmp_path, "steps", "ties_cut")) > 0
    if name == "kids":  # people aged into other cells: a cell's people change month by month
        import duckdb

        con = duckdb.connect(str(tmp_path / "results.duckdb"), read_only=True)
        moved = con.execute(
            "SELECT count(*) FROM (SELECT region, hukou, age, income FROM steps "
            "GROUP BY ALL HAVING count(DISTINCT agents) > 1)"
        ).fetchone()
        con.close()
        assert moved is not None and moved[0] > 0


def test_friends_on_a_list_and_in_a_grade_shard_bit_for_bit(
    reference: dict[str, Any], cluster: Any, tmp_path: Path
) -> None:
    """Network rules over friends on a list and in a grade: a ghost's listing and grade come
    with its score, so 3 shards give the unsharded results, and both rules fired."""
    sim = simulation("netlist")
    plans = plan_shards(sim, sim.population(), 3)
    assert all(len(p.ghosts) for p in plans)  # friends live across shard boundaries
    run_sharded(sim, tmp_path, 3, cluster=cluster.scheduler_address, every=4)
    got = tables(tmp_path / "results.duckdb")
    for table, rows in reference["netlist"].items():
        assert got[table] == rows, table
    fired = {str(row[2]) for row in reference["netlist"]["panel_events"]}
    assert {"network:listed-friends", "network:graded-friends"} <= fired


def _column(folder: Path, table: str, column: str) -> list[tuple[Any, ...]]:
    import duckdb

    con = duckdb.connect(str(folder / "results.duckdb"), read_only=True)
    try:
        return con.execute(f'SELECT DISTINCT step, "{column}" FROM {table}').fetchall()
    finally:
        con.close()


def test_shards_hold_whole_regions_and_the_largest_is_as_small_as_possible() -> None:
    """Four regions of 30/25/25/20 % make shards of consecutive whole regions; three shards
    split them {30}, {25}, {25, 20}; more shards than regions are refused."""
    pop = generate(PopulationSpec(agents=20_000), 1)
    bounds = shard_bounds(pop.region, 4, 3)
    starts = np.searchsorted(pop.region, np.arange(5))
    assert [lo for lo, _ in bounds] == [0, starts[1], starts[2]]
    assert bounds[-1][1] == pop.n
    assert shard_bounds(pop.region, 4, 1) == [(0, pop.n)]
    assert [b[1] for b in shard_bounds(pop.region, 4, 4)] == list(starts[1:])
    with pytest.raises(ScenarioError, match="at most that many shards"):
        shard_bounds(pop.region, 4, 5)


def test_a_shard_receives_the_scores_of_exactly_its_peoples_friends_elsewhere() -> None:
    """Each shard's ghosts are the people of other shards with a friend in it; what each other
    shard sends it are those people's rows, in the ghosts' order."""
    sim = Simulation(SESAME)
    pop = sim.population()
    net = pop.network
    plans = plan_shards(sim, pop, 3)
    for p in plans:
        friends = net.indices[net.indptr[p.lo] : net.indptr[p.hi]]
        remote = np.unique(friends[(friends < p.lo) | (friends >= p.hi)])
        assert np.array_equal(p.ghosts, remote)
        assert len(remote) > 0
        received = np.concatenate([plans[src].lo + plans[src].exports[p.k][0] for src in p.sources])
        assert np.array_equal(received, p.ghosts)


def test_a_firm_scheme_is_refused_with_status_two(tmp_path: Path) -> None:
    """Firm runs step their people beside them; they are not sharded, and say so."""
    done = scslab("run", "--scheme", "corporate-scs", "--shards", "2", "--agents", "2000")
    assert done.returncode == 2
    assert "sharded runs are for schemes that score individuals" in done.stderr


def test_the_contract_game_is_refused_with_status_two(tmp_path: Path) -> None:
    """Contracts pair people across shards, which shards do not exchange: a clear refusal."""
    done = scslab("run", "--contracts", "--shards", "2", "--agents", "2000")
    assert done.returncode == 2
    assert "contract game" in done.stderr


@pytest.mark.slow
def test_an_unreachable_cluster_is_a_clear_error_after_the_connect_timeout(tmp_path: Path) -> None:
    """--cluster naming an address where no scheduler listens: status 2 and a message saying that
    the scheduler was not reached within CONNECT_TIMEOUT, so the command gave up by itself (the
    helper's time limit only guards against a hang: how long it takes depends on the load)."""
    done = scslab(
        "run",
        "--agents",
        "2000",
        "--years",
        "0.25",
        "--shards",
        "2",
        "--cluster",
        "tcp://127.0.0.1:9",
        "--out",
        str(tmp_path / "run"),
    )
    assert done.returncode == 2
    assert f"cannot reach a Dask scheduler there within {CONNECT_TIMEOUT} s" in done.stderr
    assert "Traceback" not in done.stderr
