"""The contract game in a layered run: one game for the whole run, a part of it that every layer
reads (docs/layers.md, "Contracts in a layered run").

The game is played once a month over the whole population, before the layers' steps; its
breaches are acts of the obligor that every layer in force over them sees; a party's standing,
fear and refusals are read across the layers in force over them; each layer records the
contracts of its own people. A run of one layer everywhere is the one-scheme run, bit for bit.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import catalogue
from scslab.behaviour.rates import catalogue_text
from scslab.engine.checkpoint import columns, restore
from scslab.engine.contracts import partners, play_month, strategies
from scslab.engine.layers import LayeredSimulation
from scslab.engine.scenario import Scenario, load_scenario
from scslab.engine.simulation import Record, Simulation
from scslab.errors import ScenarioError

#: scores breaches (so it deters them), grades, lists, and its listed are refused contracts
KEEPER = """
id: keeper
name: Contracts kept
subject: individuals
description: breaches and arrears deducted, a low grade, a list whose members partners refuse
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper, history_months: 2}
categories: [{id: finance}]
events:
  - {id: contract-breach, category: finance, points: -100, domain: finance, source: paper}
  - {id: payment-arrears, category: finance, points: -100, domain: finance, source: paper}
grades:
  - {id: A, min: 900, max: 1000, source: paper}
  - {id: C, min: 0, max: 899, source: paper}
lists:
  - id: defaulters
    kind: black
    entry: {score_below: 850}
    exit: {after_months: 3}
    assumed: true
sanctions:
  - id: shunned
    trigger: {list: defaulters}
    domain: finance
    effect: partners refuse contracts
    source: paper
    effects:
      - {contracts: {refused: 0.5}, assumed: true}
"""

#: lists jaywalkers; scores no breach, has no grades
LISTER = """
id: lister
name: Listed for jaywalking
subject: individuals
description: jaywalking lists for three months
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: traffic}]
events:
  - {id: jaywalking, category: traffic, points: -10, domain: transport, source: paper}
lists:
  - id: offenders
    kind: black
    entry: {events: [jaywalking]}
    exit: {after_months: 3}
    assumed: true
"""

#: scores arrears only: no list, no grade, no deterrence of breaches
BLIND = """
id: blind
name: Arrears only
subject: individuals
description: arrears deducted, nothing else
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: finance}]
events:
  - {id: payment-arrears, category: finance, points: -10, domain: finance, source: paper}
"""


def scenario(tmp_path: Path, layers: list[dict[str, Any]] | None, **kw: Any) -> Scenario:
    """600 people over 5 months with the contract game (2 contracts a person a month), the
    schemes above as files; ``layers`` (scheme: a name above), or ``None``: keeper alone."""
    for name, text in (("keeper", KEEPER), ("lister", LISTER), ("blind", BLIND)):
        (tmp_path / f"{name}.yaml").write_text(text)
    acts = catalogue({"payment-arrears": 0.08, "jaywalking": 12.0, "contract-breach": 0.0}, 0.8)
    (tmp_path / "acts.yaml").write_text(catalogue_text(acts))
    data: dict[str, Any] = {
        "acts": str(tmp_path / "acts.yaml"),
        "population": {"agents": 600},
        "years": 5 / 12,
        "seed": 5,
        "panel": 600,
        "contracts": {"enabled": True, "per_person_month": 2.0},
        **kw,
    }
    if layers is None:
        data["scheme"] = str(tmp_path / "keeper.yaml")
    else:
        data["layers"] = [{**x, "scheme": str(tmp_path / f"{x['scheme']}.yaml")} for x in layers]
    return Scenario.model_validate(data)


def same_records(a: Record, b: Record, what: str) -> None:
    """Every array of two records, the contract game's tallies among them, bit for bit."""
    for f in dataclasses.fields(Record):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, dict):
            assert sorted(x, key=str) == sorted(y, key=str), (what, f.name)
            for k in x:
                np.testing.assert_array_equal(x[k], y[k], err_msg=f"{what}: {f.name}[{k}]")
        elif isinstance(x, list):
            assert len(x) == len(y), (what, f.name)
            for u, v in zip(x, y, strict=True):
                np.testing.assert_array_equal(u, v, err_msg=f"{what}: {f.name}")
        else:
            np.testing.assert_array_equal(x, y, err_msg=f"{what}: {f.name}")


def test_one_layer_everywhere_plays_the_one_scheme_runs_game_bit_for_bit(tmp_path: Path) -> None:
    """A scheme that scores breaches, grades, lists and has its listed refused, with months of
    history: as the one layer of a layered run, its record (contracts, kept, kept without the
    scheme, refused; acts, records, panel) is the one-scheme run's; the game is the run's part,
    before the layer's step, and the layer plays none of its own."""
    alone = Simulation(scenario(tmp_path, None))
    record, _ = alone.execute()
    lsim = LayeredSimulation(scenario(tmp_path, [{"id": "k", "scheme": "keeper"}]))
    run = lsim.execute()
    assert run.parts() == [("run", "contracts"), ("k", "step"), ("k", "record")]
    assert alone.last_run is not None and alone.last_run.parts() == ["contracts", "step", "record"]
    assert {"contracts", "contracts_refused"} <= set(record.extra)
    assert record.extra["contracts_refused"].sum() > 0 and alone.history_months == 2
    same_records(run.runs[0].record, record, "k")


def test_every_layer_sees_the_same_breaches_and_the_same_records_of_them(tmp_path: Path) -> None:
    """The keeper everywhere, the lister in the towns from month 1: in every month both are in
    force, a person in the towns breaks the same contracts in both layers' panels, recorded
    alike (the lister, which does not score breaches, counts them as acts it does not score);
    each layer's acts of the month are its people's broken contracts, by cell."""
    lsim = LayeredSimulation(
        scenario(
            tmp_path,
            [
                {"id": "k", "scheme": "keeper"},
                {"id": "l", "scheme": "lister", "where": ["towns"], "from": 1},
            ],
        )
    )
    run = lsim.execute()
    keeper, lister = run.runs
    a = keeper.sim.contract_act
    assert a is not None and a == lister.sim.contract_act
    assert keeper.sim.layout and lister.sim.rates.act_ids[a] == "contract-breach"
    for r in run.runs:
        assert np.shares_memory(r.traits.injected, run.contracts.injected)  # type: ignore[union-attr]

    def breaches(record: Record, first: int) -> dict[tuple[int, int], list[tuple[int, int]]]:
        out: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for t, person, act, false, recorded, *_ in np.concatenate(record.panel_events).tolist():
            if act == a and not false:
                out.setdefault((t + first, person), []).append((act, recorded))
        return out

    # the panels hold everyone; a panel's acts are by population row
    lo, hi = lsim.layers[1].lo, lsim.layers[1].hi
    mine = breaches(keeper.record, 0)
    theirs = breaches(lister.record, 1)
    towns = {(t, p): v for (t, p), v in mine.items() if t >= 1 and lo <= p < hi}
    assert len(towns) > 30 and towns == theirs
    assert any(r for v in theirs.values() for _, r in v)  # some recorded, in both alike
    in_towns = keeper.sim.cells.region_of() == lsim.layers[1].sim.regions[0]  # type: ignore[index]
    # the keeper's listed are refused contracts: its tallies count them, the lister's do not
    assert "contracts_refused" in keeper.record.extra
    assert "contracts_refused" not in lister.record.extra
    for t in range(1, 5):
        e = keeper.record.extra
        broken = e["contracts"][t] - e["contracts_kept"][t] - e["contracts_refused"][t]
        np.testing.assert_array_equal(keeper.record.ev_true[t][:, a], broken)
        for field in ("ev_true", "ev_rec"):
            mine, yours = getattr(keeper.record, field)[t], getattr(lister.record, field)[t - 1]
            np.testing.assert_array_equal(mine[in_towns, a], yours[in_towns, a])
            assert yours[~in_towns, a].sum() == 0
        own = lister.record.extra["contracts"][t - 1]
        np.testing.assert_array_equal(own[in_towns], e["contracts"][t][in_towns])
        assert own[~in_towns].sum() == 0 and own.sum() > 0


def test_a_partner_listed_by_one_layer_is_in_bad_standing_for_every_layers_contracts(
    tmp_path: Path,
) -> None:
    """A scheme without lists or grades everywhere, the lister in the towns: a conditional
    cooperator breaks a contract with a partner the lister lists, whoever's contract it is, so
    the contracts kept of the blind layer's people are those played on the lister's standing,
    contract by contract, and fewer than on everyone's good standing."""
    lsim = LayeredSimulation(
        scenario(
            tmp_path,
            [
                {"id": "b", "scheme": "blind"},
                {"id": "l", "scheme": "lister", "where": ["towns"]},
            ],
        )
    )
    run = lsim.start()
    game = run.contracts
    assert game is not None
    assert all((d == 1).all() for _, p in run.parties for d in p.deterrence)
    spec, seed, n = lsim.scenario.contracts, lsim.scenario.seed, lsim.agents
    strategy = strategies(spec, n, seed)
    cell = lsim.population().cell
    blind, lister = run.runs
    lo, hi = lsim.layers[1].lo, lsim.layers[1].hi
    mattered = 0
    for t in range(lsim.steps):
        good = np.ones(n, bool)
        good[lo:hi] = (lister.state.list_since < 0).all(axis=1)
        obligor, partner = partners(spec, n, seed, t + run.history)
        kept, without = play_month(
            spec,
            strategy[obligor],
            good[obligor],
            good[partner],
            np.zeros(len(obligor)),
            seed,
            t + run.history,
        )
        trusting, _ = play_month(
            spec,
            strategy[obligor],
            np.ones(len(obligor), bool),
            np.ones(len(obligor), bool),
            np.zeros(len(obligor)),
            seed,
            t + run.history,
        )
        run.advance(t)
        got = blind.record.extra
        np.testing.assert_array_equal(
            got["contracts_kept"][t],
            np.bincount(cell[obligor[kept]], minlength=got["contracts"].shape[1]),
        )
        np.testing.assert_array_equal(
            got["contracts_kept_without_scheme"][t],
            np.bincount(cell[obligor[without]], minlength=got["contracts"].shape[1]),
        )
        outside = (obligor < lo) | (obligor >= hi)
        mattered += int((trusting & ~kept & outside).sum())
    assert mattered > 20  # people outside the towns broke contracts with the lister's listed


def test_a_layered_run_with_contracts_resumes_from_a_checkpoint_as_if_never_stopped(
    tmp_path: Path,
) -> None:
    """Stopped after month 2, saved, restored into a fresh run and finished: every layer's
    record is the uninterrupted run's."""
    layers = [
        {"id": "k", "scheme": "keeper"},
        {"id": "l", "scheme": "lister", "where": ["towns"], "from": 1},
    ]
    straight = LayeredSimulation(scenario(tmp_path, layers)).execute()
    first = LayeredSimulation(scenario(tmp_path, layers)).start()
    for t in range(3):
        first.advance(t)
    saved = columns(first)
    lsim = LayeredSimulation(scenario(tmp_path, layers))
    again = lsim.start()
    restore(again, saved, "memory")
    assert again.done == 3 and again.by_layer["l"].record.done == 2
    done = lsim.execute(resume=again)
    for ls, a, b in zip(lsim.layers, done.runs, straight.runs, strict=True):
        same_records(a.record, b.record, ls.id)


def test_what_the_layered_game_does_not_support_is_refused_in_one_line(tmp_path: Path) -> None:
    """A layer of firms, children, shards: each refused with one line that says so."""
    text = (
        "contracts: {enabled: true}\nlayers:\n  - {id: p, scheme: rongcheng-2014}\n"
        "  - {id: f, scheme: corporate-scs, people: p}\n"
    )
    path = tmp_path / "firms.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{path}:1:12: contracts: contracts in a run with a layer of firms ('f')" in str(
        caught.value
    )
    kids = scenario(
        tmp_path, [{"id": "k", "scheme": "keeper"}], population={"agents": 300, "children": {}}
    )
    with pytest.raises(ScenarioError, match="a run with children takes no `contracts:`"):
        LayeredSimulation(kids)
    from scslab.engine.shards import shard_plans

    lsim = LayeredSimulation(scenario(tmp_path, [{"id": "k", "scheme": "keeper"}]))
    with pytest.raises(ScenarioError, match="the contract game pairs people across") as err:
        shard_plans(lsim, tmp_path / "out", 2)
    assert "\n" not in str(err.value)


def test_each_layer_s_results_hold_its_contracts_and_its_audit_replays_them(
    tmp_path: Path,
) -> None:
    """Written: each layer's steps carry its people's contracts and cooperation as a one-scheme
    run's do; the audit replays the layered run, game included, to the stored tables (it
    checks that), and counts the contracts refused where the layer's scheme refuses them; a
    layer over some regions, copied out of its run's folder, cannot be replayed alone."""
    import shutil

    from scslab.analysis.audit import audit, audit_layered
    from scslab.analysis.replay import replay
    from scslab.errors import ScslabError
    from scslab.layered import run_layered
    from scslab.store.results import Results

    one = [{"id": "l", "scheme": "keeper", "where": ["towns", "villages"]}]
    folder = tmp_path / "run"
    got = run_layered(LayeredSimulation(scenario(tmp_path, one, panel=50)), folder)
    steps = (
        got["l"]
        .sql(
            "SELECT sum(contracts), sum(contracts_kept), sum(contracts_refused), "
            "sum(contracts_kept) / sum(contracts) = sum(cooperation * contracts) / sum(contracts) "
            "FROM steps"
        )
        .fetchall()[0]
    )
    made, kept, refused, same = steps
    assert made > kept > 0 and refused > 0 and same
    whole = audit_layered(folder)
    effects = whole["l"]["effects"]["contracts"]
    assert effects["contracts_sought"] == made and effects["contracts_refused"] == refused
    _, record = replay(got["l"])  # the layered run again, its game over the whole population
    e = record.extra
    assert (e["contracts"].sum(), e["contracts_kept"].sum()) == (made, kept)
    assert e["contracts_refused"].sum() == refused
    got["l"].close()
    away = tmp_path / "away"
    shutil.copytree(folder / "layers" / "l", away)
    with Results(away) as r, pytest.raises(ScslabError, match="needs that run's folder"):
        replay(r)
    assert audit(Results(folder / "layers" / "l"))["effects"] == whole["l"]["effects"]


def test_standing_fear_and_refusals_combine_across_the_parties_over_a_person() -> None:
    """Two schemes over overlapping rows (A: 0-29, B: 20-39): a partner is in bad standing if
    either lists them or A grades them lowest; an opportunist fears the scheme that deters most,
    in the class of a sanction by either; a person under both schemes' refusals is accepted
    with the product; the month's breaches are exactly those of the game played so."""
    from types import SimpleNamespace

    from scslab.engine.contracts import ContractGame, Contracts, Party
    from scslab.rng import STREAM_REFUSE, step_key, uniforms

    def member(rows: int, refuse: dict[int, float]) -> Any:
        state = SimpleNamespace(
            grade=np.zeros(rows, np.uint8),
            list_since=np.full((rows, 1), -1, np.int16),
            flags=np.zeros(rows, np.uint8),
            refuse=np.zeros(rows, np.float32),
        )
        for i, s in refuse.items():
            state.refuse[i] = s
        return SimpleNamespace(state=state, record=SimpleNamespace(extra={}))

    a, b = member(30, {7: 0.5, 25: 0.5}), member(20, {5: 0.5, 15: 0.75})
    a.state.list_since[3, 0] = 1  # A lists 3
    a.state.grade[5] = 1  # A grades 5 lowest
    b.state.list_since[15, 0] = 0  # B lists 35
    a.state.flags[[1, 20, 22, 24, 26]] = 1  # sanctioned by A: their class is 1 in both
    b.state.flags[[1, 3, 5, 7, 9, 15]] = 1  # by B: 21, 23, 25, 27, 29, 35
    cell = np.arange(40) % 2
    det_a = np.array([[0.6, 0.3], [0.5, 0.2]])  # by cell, class
    det_b = np.array([[0.4, 0.9], [0.7, 0.1]])
    black = np.array([0], np.int64)
    pa = Party(a, 0, black=black, worst=1, deterrence=[det_a], cells=2, steps=1)
    pb = Party(b, 20, black=black, worst=-1, deterrence=[det_b], cells=2, steps=1)
    spec = Contracts(enabled=True, per_person_month=10.0)
    game = ContractGame(spec, 0, 9, cell, [pa, pb])
    game.allocate()
    assert set(a.record.extra) == set(b.record.extra) >= {"contracts_refused"}
    deals = game.play(2, [pa, pb])

    good = np.ones(40, bool)
    good[[3, 5, 35]] = False
    cls = np.zeros(40, np.int64)
    cls[[1, 20, 21, 22, 23, 24, 25, 26, 27, 29, 35]] = 1
    det = np.ones(40)
    det[:30] = det_a[cell[:30], cls[:30]]
    det[20:] = np.minimum(det[20:], det_b[cell[20:], cls[20:]])
    accept = np.ones(40)
    accept[[7, 25, 35]] = [0.5, 0.25, 0.25]
    obligor, partner = partners(spec, 40, 9, 2)
    kept, _ = play_month(
        spec, strategies(spec, 40, 9)[obligor], good[obligor], good[partner], 1 - det[obligor], 9, 2
    )
    u = uniforms(step_key(9, STREAM_REFUSE, 3), len(obligor), 0)
    refused = u >= accept[obligor] * accept[partner]
    assert refused.sum() > 5 and (~good[partner]).sum() > 5
    np.testing.assert_array_equal(deals.refused, refused)
    np.testing.assert_array_equal(deals.kept, kept & ~refused)
    broken = np.bincount(obligor[~kept & ~refused], minlength=40)
    np.testing.assert_array_equal(game.injected, broken)
    # the tallies: each party's obligors, by cell
    game.tally(deals, pb, 0)
    mine = obligor >= 20
    np.testing.assert_array_equal(
        b.record.extra["contracts_refused"][0],
        np.bincount(cell[obligor[mine & refused]], minlength=2),
    )
    assert b.record.extra["contracts"][0].sum() == mine.sum()
