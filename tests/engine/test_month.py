"""The month is one ordered list of parts: the layers and couplings a run has, around the step.

``Run.month`` (and a shard's, and each layer's in a layered run) is built once; its order is the
one docs/scenarios.md ("A month's parts") and ``Run._parts`` give."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from scslab.engine.contracts import Contracts
from scslab.engine.layers import LayeredSimulation
from scslab.engine.scenario import Scenario, load_scenario
from scslab.engine.shards import Shard, plan_shards
from scslab.engine.simulation import Simulation
from scslab.population import Children, PopulationSpec
from scslab.population.individuals import Population
from scslab.population.network import NetworkSpec

#: every part a month can have, in the month's order (docs/scenarios.md, "A month's parts")
ORDER = [
    "firms before",
    "people",
    "friends",
    "collective",
    "ageing",
    "households",
    "contracts",
    "links",
    "step",
    "ties",
    "record",
    "firms after",
]


def test_the_docs_table_names_the_parts_in_the_months_order() -> None:
    """docs/scenarios.md's table of a month's parts lists them in the engine's order."""
    doc = (Path(__file__).parents[2] / "docs" / "scenarios.md").read_text(encoding="utf-8")
    table = doc[doc.index("**A month's parts.**") :].split("\n\n")[1]
    rows = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    assert [n for row in rows for n in re.findall(r"`([^`]+)`", row)] == ORDER


def small(scheme: str, **kw: object) -> Scenario:
    return Scenario(
        scheme=scheme,
        population=PopulationSpec(agents=600, **kw.pop("population", {})),  # type: ignore[arg-type]
        years=3 / 12,
        panel=60,
        **kw,  # type: ignore[arg-type]
    )


def cutting() -> dict[str, object]:
    adaptation = Scenario().adaptation
    tie_cutting = adaptation.tie_cutting.model_copy(update={"enabled": True})
    return {"adaptation": adaptation.model_copy(update={"tie_cutting": tie_cutting})}


def in_order(names: list[str]) -> bool:
    return [ORDER.index(n) for n in names] == sorted(ORDER.index(n) for n in names)


def test_a_run_has_only_the_parts_its_scenario_uses_in_the_months_order() -> None:
    """A plain run steps and records; households, a network, children and contracts each add
    their part in its place; a firm run wraps the people's month between its own parts."""
    assert Simulation(small("financial-only")).start().parts() == ["step", "record"]
    assert Simulation(small("rongcheng-2014")).start().parts() == ["households", "step", "record"]
    networked = Simulation(small("sesame-credit", network=NetworkSpec(), **cutting())).start()
    assert networked.parts() == ["friends", "step", "ties", "record"]
    kids = Simulation(small("rongcheng-2014", population={"children": Children()})).start()
    assert kids.parts() == ["ageing", "households", "step", "record"]
    game = Simulation(small("financial-only", contracts=Contracts(enabled=True))).start()
    assert game.parts() == ["contracts", "step", "record"]
    firms = Simulation(small("corporate-scs")).start()
    assert firms.parts() == ["firms before", "people", "step", "record", "firms after"]
    assert firms.people_run is not None
    assert firms.people_run.parts() == ["households", "step", "record"]
    for run in (networked, kids, game, firms):
        assert in_order(run.parts())
        # each name is its run's own bound part, called as part(k, t)
        assert all(getattr(part, "__self__", None) is run for _, part in run.month)


def test_the_layered_month_is_each_layer_in_step_order_with_its_links_before_its_step() -> None:
    """patchwork-2018: the court's layer first (the others read it), then Sesame and Rongcheng,
    each with the part that fills its links just before its step."""
    scenario = load_scenario("patchwork-2018")
    scenario = scenario.model_copy(
        update={"population": scenario.population.model_copy(update={"agents": 2000})}
    )
    run = LayeredSimulation(scenario).start()
    parts = run.parts()
    layers = [layer for layer, _ in parts]
    assert layers == sorted(layers, key=["spc", "sesame", "rongcheng"].index)
    by_layer = {lid: [name for layer, name in parts if layer == lid] for lid in set(layers)}
    assert by_layer["spc"] == ["households", "step", "ties", "record"]  # reads nobody: no links
    assert by_layer["sesame"] == ["friends", "links", "step", "ties", "record"]
    assert by_layer["rongcheng"] == ["households", "links", "step", "ties", "record"]
    assert all(in_order(names) for names in by_layer.values())


def test_an_inserted_part_runs_before_the_step_every_month_history_included() -> None:
    """``insert_part`` puts a coupling before the step: it is called for each engine step, the
    months of the history (``t`` None) first, and a part that changes nothing leaves the run's
    record bit for bit as it was."""
    scenario = small("financial-only", history_months=2)
    plain, _ = Simulation(scenario).execute()
    sim = Simulation(scenario)
    run = sim.start()
    calls: list[tuple[int, int | None, int]] = []
    run.insert_part("watch", lambda k, t: calls.append((k, t, run.record.done)))
    assert run.parts() == ["watch", "step", "record"]
    with pytest.raises(ValueError, match="watch"):
        run.insert_part("watch", lambda k, t: None)
    record, _ = sim.execute(resume=run)
    assert calls == [(0, None, 0), (1, None, 0), (2, 0, 0), (3, 1, 1), (4, 2, 2)]
    for field in ("grade", "score_sum", "listed", "ev_rec", "flow", "panel_score"):
        assert np.array_equal(getattr(record, field), getattr(plain, field)), field


def test_a_shard_has_the_parts_of_the_run_it_is_part_of_in_the_same_order() -> None:
    """A shard's month is the unsharded run's: the same parts, in the same order, each the
    shard's own variant (ghosts' marks, neighbourhoods across shards, its rows' ties)."""
    for scenario in (
        small("rongcheng-2014", population={"children": Children()}),
        small("sesame-credit", network=NetworkSpec()),
        small("sesame-credit", network=NetworkSpec(), **cutting()),
    ):
        sim = Simulation(scenario)
        pop = sim.population()
        assert isinstance(pop, Population)
        shard = Shard(sim, plan_shards(sim, pop, 2)[1])
        run = sim.start()
        assert shard.parts() == run.parts()
        for (_, mine), (_, theirs) in zip(shard.month, run.month, strict=True):
            assert getattr(mine, "__self__", None) is shard
            assert getattr(mine, "__func__", None) is not getattr(theirs, "__func__", None)
            assert getattr(mine, "__name__", "") == getattr(theirs, "__name__", "")
