"""Replaying a run: the same scenario, scheme, catalogue and seed give the same run, bit for bit.

A results file keeps everything a run was made from, so analyses that need what is not stored
(each person's final state, or a paired run with one thing switched off) run it again instead of
estimating. Paired runs share every random number that the switched-off part does not use.

A layer of a layered run that reads other layers (``{layer: ID, ...}`` conditions), or that
shared the acts of other layers (a run of several layers: :mod:`scslab.engine.world`), ran with
them: alone it would be another run. Its replay is the whole layered run, made from the layered
run's folder (``layers.json`` and every layer's stored scheme), and the layer is taken from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scslab import __version__
from scslab.behaviour.model import Chilling, Deterrence
from scslab.behaviour.rates import parse_catalogue
from scslab.engine.layers import LayeredSimulation
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Record, Simulation
from scslab.errors import ScslabError
from scslab.schemes.loader import parse_scheme
from scslab.store.layered import LayeredResults, layer_of, open_layered
from scslab.store.results import Results

#: A replayed run, executed: the simulation (its ``last_run`` the run) and its record.
Replayed = tuple[Simulation, Record]
#: The key of a one-layer run in :func:`replay_source`'s answer; a layer's key is its id.
ALONE = ""


def replay(
    results: Results,
    *,
    false_records: bool = True,
    adaptation: bool = True,
    seed: int | None = None,
) -> Replayed:
    """The run in ``results`` run again, optionally without false records or adaptation.

    ``seed``: the same scenario with another seed, a replicate of the run rather than a replay.

    Without adaptation nobody is deterred or chilled, so the acts are those of a world without
    the scheme: the baseline for deterrence and chilling. Tie-cutting stays as it was: it changes
    who is friends with whom, not what people do. A layer that reads others is replayed with
    them: the switches apply to every layer, the world without false records (or without
    adaptation) being the whole layered run's.
    """
    run = source(results)
    where = str(results.path)
    return replay_source(run, where, false_records=false_records, adaptation=adaptation, seed=seed)[
        key_of(run)
    ]


def source(results: Results) -> dict[str, Any]:
    """What a replay of ``results`` is made from: its ``runs`` row, with, for a layer that reads
    other layers (or a layer of firms in its layered run's folder), ``layered``: its layered
    run's scenario and every layer's stored scheme (read from the layered run's folder); so too
    for a layer of a run of several layers found in its layered run's folder, since they shared
    their acts. Plain strings, so a Dask worker can be sent it."""
    run = _checked(results)
    scheme = parse_scheme(run["scheme_yaml"], f"{results.path}:runs.scheme_yaml")
    if scheme.links():
        return _layered_source(results.path, scheme.links())
    found = layer_of(results.path)
    # a layer of firms ran with its people's layer; a layer of several shared their acts; a
    # layer's contracts were the run's game, over the whole population
    if found is not None and (
        (scheme.subject == "enterprises" and found[1].firms)
        or len(found[0].layers) > 1
        or "contracts" in results.columns
    ):
        with open_layered(found[0].path) as layered:
            return _layered(layered, found[1].id)
    if run.get("with_layers"):  # alone, it would be another run
        raise ScslabError(
            f"{results.path}: this is one layer of a layered run that it ran with (other "
            "layers' acts, or the whole population's contracts), so replaying it needs that "
            "run's folder (layers.json and every layer's results) around it, and it is not there"
        )
    return run


def key_of(run: dict[str, Any]) -> str:
    """The key of the run in ``run`` (:func:`source`) among :func:`replay_source`'s replays."""
    layered: dict[str, Any] | None = run.get("layered")
    return ALONE if layered is None else str(layered["layer"])


def layered_source(folder: Path) -> dict[str, Any]:
    """What a replay of a whole layered run (its folder) is made from: as :func:`source` gives
    for one of its layers, with ``layered.layer`` unset."""
    with open_layered(folder) as run:
        return _layered(run, None)


def replay_source(
    run: dict[str, Any],
    where: str,
    *,
    false_records: bool = True,
    adaptation: bool = True,
    seed: int | None = None,
) -> dict[str, Replayed]:
    """The replays of what :func:`source` gave (``where`` names it in errors): the run by key
    :data:`ALONE`, or every layer of a layered run by id."""
    switches = {"false_records": false_records, "adaptation": adaptation, "seed": seed}
    layered = run.get("layered")
    acts = run["acts_yaml"] if layered is None else layered.get("acts_yaml", run["acts_yaml"])
    catalogue = parse_catalogue(acts, f"{where}:runs.acts_yaml")
    if layered is None:
        scenario = Scenario.from_text(run["scenario"], f"{where}:runs.scenario")
        scenario = _switched(scenario, switches)
        scheme = parse_scheme(run["scheme_yaml"], f"{where}:runs.scheme_yaml")
        sim = Simulation(
            scenario,
            scheme=scheme,
            catalogue=catalogue,
            also_personal=tuple(run["personal_acts"] or ()),
        )
        record, _ = sim.execute()
        return {ALONE: (sim, record)}
    layers_json = f"{layered['folder']}/layers.json"
    scenario = Scenario.from_text(layered["scenario"], f"{layers_json}:scenario")
    scenario = _switched(scenario, switches)
    schemes = {
        lid: parse_scheme(text, f"{where}:runs.scheme_yaml ({lid})")
        for lid, text in layered["schemes"].items()
    }
    lsim = LayeredSimulation(scenario, schemes=schemes, catalogue=catalogue)
    done = lsim.execute()
    return {ls.id: (ls.sim, r.record) for ls, r in zip(lsim.layers, done.runs, strict=True)}


def _checked(results: Results) -> dict[str, Any]:
    """The ``runs`` row of a results file this version of scslab can replay."""
    run = results.run()
    if run.get("version") != __version__ or "acts_yaml" not in run:
        raise ScslabError(
            f"{results.path}: written by scslab {run.get('version', 'of an older layout')}, and "
            f"this is scslab {__version__}; run the scenario again with this version to audit it"
        )
    return run


def _switched(scenario: Scenario, switches: dict[str, Any]) -> Scenario:
    changes: dict[str, Any] = {}
    if switches["seed"] is not None:
        changes["seed"] = switches["seed"]
    if not switches["false_records"]:
        changes["observation"] = scenario.observation.model_copy(update={"false_records": False})
    if not switches["adaptation"]:
        changes["adaptation"] = scenario.adaptation.model_copy(
            update={
                "deterrence": Deterrence(enabled=False),
                "chilling": Chilling(enabled=False),
            }
        )
    return scenario.model_copy(update=changes) if changes else scenario


def _layered_source(path: Path, links: Any) -> dict[str, Any]:
    """:func:`source` of the layer whose results file is ``path``, which reads other layers."""
    found = layer_of(path)
    if found is None:
        read = sorted({c.layer for _, c in links if c.layer is not None})
        raise ScslabError(
            f"{path}: this layer reads layer(s) {', '.join(read)} of its layered run, so "
            "replaying it needs that run's folder (layers.json and every layer's results) "
            "around it, and it is not there"
        )
    folder, entry = found[0].path, found[1]
    with open_layered(folder) as run:  # every layer's results there, and the run finished
        return _layered(run, entry.id)


def _layered(run: LayeredResults, layer: str | None) -> dict[str, Any]:
    """The ``runs`` row of ``layer`` (or of the first layer) with the layered run's payload."""
    rows = {x.id: _checked(run.results(x.id)) for x in run.layers}
    for lid, r in rows.items():
        if r["status"] != "complete":
            raise ScslabError(
                f"{run.path}: layer {lid}'s run was interrupted; replay a complete layered run"
            )
    row = rows[layer] if layer is not None else next(iter(rows.values()))
    payload = {
        "layer": layer,
        "folder": str(run.path),
        "scenario": run.scenario,
        "schemes": {lid: r["scheme_yaml"] for lid, r in rows.items()},
        # the people's acts (a layer of firms keeps the firms' own: its run draws them itself)
        "acts_yaml": next(rows[x.id]["acts_yaml"] for x in run.layers if not x.firms),
    }
    return {**row, "layered": payload}
