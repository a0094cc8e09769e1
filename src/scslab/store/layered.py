"""A layered run's folder read back: its list of layers and each layer's results.

A layered run (``scslab.layered``) writes ``OUT/layers.json`` (the run is layered, its scenario,
each layer) and each layer's one-layer results file, ``OUT/layers/<id>/results.duckdb``.
:func:`open_layered` reads the list, checks that every layer's results are there and whole, and
opens them as :class:`~scslab.store.results.Results`:

>>> with open_layered("runs/patchwork") as run:
...     for layer in run.layers:
...         print(layer.id, layer.rows, run.results(layer.id).run()["steps_done"])

:func:`layer_of` finds, for one layer's results file, its layer in the folder around it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scslab.engine.layers import LAYERS_DIR, LAYERS_FILE, layers_of
from scslab.errors import ScslabError
from scslab.store.results import Results
from scslab.store.writer import RESULTS

#: The file at the top of a layered run's folder with every layer's ``steps`` and ``flows``, each
#: one table with the columns ``layer`` and ``month`` first (written by :mod:`scslab.layered`).
TOGETHER = "layers.duckdb"
#: The tables :data:`TOGETHER` holds, and the columns each must have (what it is opened with).
TOGETHER_TABLES: dict[str, tuple[str, ...]] = {
    "steps": ("layer", "month", "step"),
    "flows": ("layer", "month", "step"),
}


class LayeredRunError(ScslabError):
    """A layered run's folder that cannot be read whole: its list of layers unreadable, a layer's
    results missing, or the run interrupted before its end."""


@dataclass(frozen=True)
class LayerEntry:
    """One layer of a layered run, as ``layers.json`` lists it."""

    id: str
    scheme: str
    #: the regions it applies in; ``None``: everywhere
    where: tuple[str, ...] | None
    #: the run's month it comes into force, and the month it ends (excluded)
    first: int
    end: int
    #: how many people it covers (a layer of firms: how many firms)
    people: int
    #: the population rows ``[lo, hi)`` of its people (``person`` in its results); ``None`` in a
    #: folder written before ``layers.json`` kept them
    rows: tuple[int, int] | None
    #: its results file
    file: Path
    #: a layer of firms: the people's layer whose blacklists reach their managers; else ``None``
    people_layer: str | None = None

    @property
    def firms(self) -> bool:
        """Whether the layer scores firms (its rows are firms, not people)."""
        return self.people_layer is not None

    def covers(self, person: int) -> bool | None:
        """Whether the person (a population row) is among the layer's people; ``None`` if the
        folder does not say (an everywhere layer covers everyone)."""
        if self.where is None:
            return True
        if self.rows is None:
            return None
        return self.rows[0] <= person < self.rows[1]

    def place(self) -> str:
        """E.g. ``everywhere`` or ``in towns``."""
        return "everywhere" if self.where is None else "in " + ", ".join(self.where)


@dataclass
class LayeredResults:
    """A layered run's folder: its layers in the scenario's order, and each one's results."""

    path: Path
    layers: tuple[LayerEntry, ...]
    #: people in the population; ``None`` in a folder written before ``layers.json`` kept it
    agents: int | None
    #: the run's first calendar month (``YYYY-MM``), if the scenario has one
    start: str | None
    #: the layered scenario as the run stored it (YAML)
    scenario: str = ""
    _open: dict[str, Results] = field(default_factory=dict, repr=False)

    @property
    def months(self) -> int:
        """Months in the run: month 0 to the end of the last layer in force."""
        return max(layer.end for layer in self.layers)

    def layer(self, lid: str) -> LayerEntry:
        for layer in self.layers:
            if layer.id == lid:
                return layer
        raise ScslabError(
            f"{self.path}: no layer {lid!r}; its layers are " + ", ".join(x.id for x in self.layers)
        )

    def results(self, lid: str) -> Results:
        """The layer's results, opened once (closed by :meth:`close`)."""
        if lid not in self._open:
            self._open[lid] = Results(self.layer(lid).file)
        return self._open[lid]

    def close(self) -> None:
        for r in self._open.values():
            r.close()
        self._open.clear()

    def __enter__(self) -> LayeredResults:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def is_layered(path: str | Path) -> bool:
    """Whether ``path`` is a layered run's folder (it holds ``layers.json``)."""
    p = Path(path)
    return p.is_dir() and (p / LAYERS_FILE).is_file()


def open_layered(path: str | Path) -> LayeredResults:
    """A layered run's folder, checked: its ``layers.json`` is readable, the run finished (an
    interrupted run's layers are each explained or reported from their partial file), and every
    layer's results file is there. Raises :class:`LayeredRunError` otherwise."""
    run = _parse(Path(path))
    partial = [x.file for x in run.layers if x.file.name != RESULTS]
    if partial:
        raise LayeredRunError(
            f"{run.path}: an interrupted layered run (its layers were written as partial "
            f"results, e.g. {partial[0]}): it cannot be read across layers; read one layer's "
            "partial file alone (scslab explain FILE --agent N), or rerun it to the end"
        )
    for layer in run.layers:
        if not layer.file.is_file():
            raise LayeredRunError(
                f"{run.path}: layer {layer.id}'s results ({layer.file}) are missing: the folder "
                "is not a whole layered run; rerun it (scslab run SCENARIO --out DIR --overwrite)"
            )
    return run


def layer_of(results_file: str | Path) -> tuple[LayeredResults, LayerEntry] | None:
    """The layered run and the layer whose results file this is (``OUT/layers/<id>/...``), or
    ``None`` if the file is not in a layered run's folder (or that folder cannot be read). The
    layers' files are not checked."""
    p = Path(results_file).resolve()
    folder = p.parent.parent.parent
    if p.parent.parent.name != LAYERS_DIR or not is_layered(folder):
        return None
    try:
        run = _parse(folder)
    except LayeredRunError:
        return None
    for entry in run.layers:
        if entry.file.resolve() == p:
            return run, entry
    return None


def _parse(folder: Path) -> LayeredResults:
    doc = _read_list(folder)
    try:
        layers = tuple(_entry(folder, x) for x in doc["layers"])
    except (TypeError, ValueError, IndexError) as exc:
        raise LayeredRunError(f"{folder / LAYERS_FILE}: a layer is not readable: {exc}") from None
    agents = doc.get("agents")
    if agents is None:  # an everywhere layer holds everyone
        agents = next((x.people for x in layers if x.where is None), None)
    scenario = doc.get("scenario")
    return LayeredResults(
        folder,
        layers,
        agents,
        _start(scenario),
        scenario=scenario if isinstance(scenario, str) else "",
    )


def _entry(folder: Path, x: dict[str, Any]) -> LayerEntry:
    rows = x.get("rows")
    return LayerEntry(
        id=str(x["id"]),
        scheme=str(x["scheme"]),
        where=None if x.get("where") is None else tuple(x["where"]),
        first=int(x["from"]),
        end=int(x["until"]),
        people=int(x["firms"] if x.get("people_layer") is not None else x["people"]),
        rows=None if rows is None else (int(rows[0]), int(rows[1])),
        file=folder / x["results"],
        people_layer=None if x.get("people_layer") is None else str(x["people_layer"]),
    )


def _read_list(folder: Path) -> dict[str, Any]:
    path = folder / LAYERS_FILE
    try:
        doc = layers_of(folder)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LayeredRunError(f"{path}: cannot read the list of layers: {exc}") from None
    ok = (
        isinstance(doc, dict)
        and doc.get("layered") is True
        and isinstance(doc.get("layers"), list)
        and doc["layers"]
        and all(
            isinstance(x, dict)
            and {"id", "scheme", "from", "until", "results"} <= set(x)
            and ("people" in x or {"firms", "people_layer"} <= set(x))
            for x in doc["layers"]
        )
    )
    if not ok or doc is None:
        raise LayeredRunError(
            f'{path}: not a layered run\'s list of layers (it needs "layered": true and '
            '"layers", each with id, scheme, from, until, people (or firms and people_layer) '
            "and results)"
        )
    return doc


def _start(scenario: object) -> str | None:
    """The scenario's ``start:``, read from its YAML without checking the rest of it (its
    scheme files may have moved since the run)."""
    if not isinstance(scenario, str):
        return None
    try:
        data = yaml.safe_load(scenario)
    except yaml.YAMLError:
        return None
    start = data.get("start") if isinstance(data, dict) else None
    return None if start is None else str(start)
