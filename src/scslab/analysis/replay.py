"""Replaying a run: the same scenario, scheme, catalogue and seed give the same run, bit for bit.

A results file keeps everything a run was made from, so analyses that need what is not stored
(each person's final state, or a paired run with one thing switched off) run it again instead of
estimating. Paired runs share every random number that the switched-off part does not use.

A layer of a layered run that reads other layers (``{layer: ID, ...}`` conditions) ran with them:
alone it would be another run. Its replay is the whole layered run, made from the layered run's
folder (``layers.json`` and every layer's stored scheme), and the layer is taken from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scslab import __version__
from scslab.behaviour.model import Chilling, Deterrence
from scslab.behaviour.rates import parse_catalogue
from scslab.engine.layers import LAYERS_DIR, LayeredSimulation, layers_of
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Record, Simulation
from scslab.errors import ScslabError
from scslab.schemes.loader import parse_scheme
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
    other layers, ``layered``: its layered run's scenario and every layer's stored scheme (read
    from the layered run's folder). Plain strings, so a Dask worker can be sent it."""
    run = _checked(results)
    scheme = parse_scheme(run["scheme_yaml"], f"{results.path}:runs.scheme_yaml")
    if not scheme.links():
        return run
    return {**run, "layered": _layered_source(results.path, scheme.links())}


def key_of(run: dict[str, Any]) -> str:
    """The key of the run in ``run`` (:func:`source`) among :func:`replay_source`'s replays."""
    layered: dict[str, Any] | None = run.get("layered")
    return ALONE if layered is None else str(layered["layer"])


def layered_source(folder: Path) -> dict[str, Any]:
    """What a replay of a whole layered run (its folder) is made from: as :func:`source` gives
    for one of its layers, with ``layered.layer`` unset."""
    doc = _layers_doc(folder)
    runs = {}
    for layer in doc["layers"]:
        with Results(folder / layer["results"]) as r:
            runs[layer["id"]] = _checked(r)
    first = next(iter(runs.values()))
    return {**first, "layered": _payload(folder, doc, runs, None)}


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
    catalogue = parse_catalogue(run["acts_yaml"], f"{where}:runs.acts_yaml")
    layered = run.get("layered")
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


def _layers_doc(folder: Path) -> dict[str, Any]:
    doc = layers_of(folder)
    if doc is None:
        raise ScslabError(f"{folder}: no layers.json there; not a layered run's folder")
    return doc


def _layered_source(path: Path, links: Any) -> dict[str, Any]:
    """For the layer whose results file is ``path``: its layered run's scenario and schemes."""
    read = sorted({c.layer for _, c in links if c.layer is not None})
    # a layer's results file is FOLDER/layers/<id>/results.duckdb
    folder = path.parent.parent.parent
    doc = layers_of(folder) if path.parent.parent.name == LAYERS_DIR else None
    mine = [
        layer
        for layer in (doc or {}).get("layers", ())
        if (folder / layer["results"]).resolve() == path.resolve()
    ]
    if doc is None or not mine:
        raise ScslabError(
            f"{path}: this layer reads layer(s) {', '.join(read)} of its layered run, so "
            "replaying it needs that run's folder (layers.json and every layer's results), "
            f"and {folder} is not it"
        )
    runs = {}
    for layer in doc["layers"]:
        other = folder / layer["results"]
        if not other.is_file():
            raise ScslabError(
                f"{path}: replaying this layer needs layer {layer['id']}'s results, and "
                f"{other} is missing"
            )
        with Results(other) as r:
            runs[layer["id"]] = _checked(r)
    return _payload(folder, doc, runs, mine[0]["id"])


def _payload(
    folder: Path, doc: dict[str, Any], runs: dict[str, dict[str, Any]], layer: str | None
) -> dict[str, Any]:
    for lid, run in runs.items():
        if run["status"] != "complete":
            raise ScslabError(
                f"{folder}: layer {lid}'s run was interrupted; replay a complete layered run"
            )
    return {
        "layer": layer,
        "folder": str(folder),
        "scenario": doc["scenario"],
        "schemes": {lid: run["scheme_yaml"] for lid, run in runs.items()},
        "results": {layer["id"]: layer["results"] for layer in doc["layers"]},
    }
