"""``scslab validate`` of a layered scenario: each layer's outputs against what was published.

A layered scenario's targets file names its layers, and for each the published figures its
outputs are compared with (``docs/calibration.md#layered-scenarios``)::

    scenario: patchwork-2018
    layers:
      spc:
        reuse: spc-defaulters      # a built-in scenario of the same scheme: its targets
      sesame:
        note: no published distribution of Sesame scores (docs/sources.md#sesame)
      city:                        # or targets of its own, as in a one-scheme targets file
        reference_population: 1000000
        targets: [...]

- ``reuse``: the targets of a one-scheme built-in scenario that runs the layer's scheme. A target
  is compared where its dates fit the layer's months: its date within them, and a flow counted
  from the layer's first month. A flow the one-scheme scenario counts from before the layer
  begins (the court's running totals since 2013) is compared as the published figure of the
  month before the layer begins, from the same file, plus ours from then on (``carried``). A
  target that does not fit is listed as not compared, with the reason. Each keeps its role: a
  ``fit`` target was fitted for the one-scheme scenario (``fitted_in``); a ``check`` target is
  held out, there and here.
- ``targets``: figures of the layer's own, with role ``check`` (nothing calibrates a layered
  scenario).
- A layer of the scenario the file does not name, or names with a ``note`` only, has no
  published figure; it is listed as such.

Counts are per capita of the layer's people (a layer with ``where`` reaches only its regions'),
scaled to the reference population as in a one-scheme run (:mod:`scslab.calibration.observe`).
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, ValidationError

from scslab._yaml import Located, located_errors
from scslab.calibration.observe import Window, check_targets, measure, start_month
from scslab.calibration.runs import Measured, Progress, run_seeds, summarise
from scslab.calibration.targets import (
    FLOWS,
    Target,
    TargetsFile,
    _Spec,
    load_targets,
    month_number,
    month_text,
    parse_targets,
)
from scslab.engine.scenario import (
    TARGETS_SUFFIX,
    Scenario,
    builtin_path,
    builtin_scenarios,
    load_scenario,
)
from scslab.errors import ResourceError, ScenarioError

if TYPE_CHECKING:
    from scslab.engine.layers import LayeredSimulation

#: What a layer with no figure to compare is listed as.
NO_FIGURE = "no published figure"


class LayerEntry(_Spec):
    """One layer's entry in a layered targets file."""

    reuse: str | None = Field(
        default=None, description="a built-in scenario of the layer's scheme: its targets"
    )
    note: str | None = Field(default=None, description="why the layer has no published figure")
    reference_population: Annotated[int, Field(gt=0)] | None = None
    targets: list[Any] | None = Field(default=None, description="the layer's own targets")


class LayeredSpec(_Spec):
    """A layered scenario's targets file."""

    scenario: str | None = Field(default=None, description="the scenario these targets are for")
    layers: dict[str, LayerEntry] = Field(min_length=1, description="targets by layer id")


def is_layered(doc: Located) -> bool:
    """Whether a targets document is a layered scenario's (it names ``layers:``)."""
    return isinstance(doc.data, dict) and "layers" in doc.data


@dataclass(frozen=True)
class Part:
    """Targets of one file compared in one layer, where each is read in the layer's months."""

    file: TargetsFile
    windows: dict[str, Window]


@dataclass(frozen=True)
class LayerTargets:
    """What one layer is compared with, checked against the layered scenario."""

    id: str
    scheme: str
    start: int  # the layer's first month, months since year 0
    parts: tuple[Part, ...] = ()
    reused: str | None = None
    #: by target id: the one-scheme scenario a `fit` target was fitted for
    fitted_in: dict[str, str] = field(default_factory=dict)
    #: by target id: (the target whose published figure is carried in, that figure)
    carried: dict[str, tuple[str, float]] = field(default_factory=dict)
    #: reused targets not compared: (id, date, why)
    skipped: tuple[tuple[str, str, str], ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class LayeredJob:
    """A layered scenario and each layer's checked targets, ready to run with any seed."""

    scenario: str  # JSON
    layers: tuple[LayerTargets, ...]
    share: float
    threads: int | None = None


def _located(doc: Located, root: tuple[str | int, ...], data: Any) -> Located:
    """``data``, the part of ``doc`` under ``root``, with its positions kept."""
    n = len(root)
    positions = {loc[n:]: pos for loc, pos in doc.positions.items() if loc[:n] == root}
    return Located(data, doc.source, positions)


def _subset(file: TargetsFile, keep: list[tuple[int, Target]]) -> TargetsFile:
    """The targets ``keep`` (each by its place in ``file``, perhaps changed) as a file of their
    own whose positions are still those of ``file``."""
    positions = {
        loc: pos for loc, pos in file.doc.positions.items() if not loc or loc[0] != "targets"
    }
    for new, (old, _) in enumerate(keep):
        for loc, pos in file.doc.positions.items():
            if loc[:2] == ("targets", old):
                positions[("targets", new, *loc[2:])] = pos
    targets = file.targets.model_copy(update={"targets": tuple(t for _, t in keep)})
    return TargetsFile(targets, Located(file.doc.data, file.doc.source, positions))


def _reused(
    name: str, first: int, end: int
) -> tuple[TargetsFile | None, dict[str, tuple[str, float]], list[tuple[str, str, str]]]:
    """The targets of the built-in scenario ``name`` whose dates fit a layer's months
    ``first .. end - 1``, what each carries in, and those that do not fit."""
    file = load_targets(name)
    s1 = start_month(load_scenario(name))
    assert s1 is not None  # a built-in scenario with targets has a calendar
    keep: list[tuple[int, Target]] = []
    carried: dict[str, tuple[str, float]] = {}
    skipped: list[tuple[str, str, str]] = []
    span = f"{month_text(first)} to {month_text(end - 1)}"
    for k, t in enumerate(file.targets.targets):
        if not first <= month_number(t.date) < end:
            skipped.append((t.id, t.date, f"dated outside the layer's months ({span})"))
            continue
        update: dict[str, Any] = {}
        per = t.per
        if per is not None and per.observable in FLOWS:
            w = month_number(per.since) if per.since is not None else s1
            if w < first:
                skipped.append(
                    (t.id, t.date, f"its denominator counts from {month_text(w)}, before {span}")
                )
                continue
            if per.since is None and w > first:
                update["per"] = per.model_copy(update={"since": month_text(s1)})
        if t.observable in FLOWS:
            w = month_number(t.since) if t.since is not None else s1
            if w > first and t.since is None:
                update["since"] = month_text(s1)
            elif w < first:
                before = [
                    c
                    for c in file.targets.targets
                    if month_number(c.date) == first - 1
                    and (c.observable, c.of, c.reason, c.since, c.unit, c.population)
                    == (t.observable, t.of, t.reason, t.since, t.unit, t.population)
                    and c.per is None
                    and t.per is None
                    and t.unit != "ratio"
                ]
                if not before:
                    skipped.append(
                        (
                            t.id,
                            t.date,
                            f"counts from {month_text(w)}, before the layer begins "
                            f"({month_text(first)}), and no figure of {month_text(first - 1)} "
                            "to start from",
                        )
                    )
                    continue
                carried[t.id] = (before[0].id, before[0].figure)
                update["since"] = month_text(first)
        keep.append((k, t.model_copy(update=update) if update else t))
    return (_subset(file, keep) if keep else None), carried, skipped


def _own(doc: Located, lid: str, entry: LayerEntry) -> TargetsFile:
    """A layer's own targets, checked as a one-scheme targets file."""
    root = ("layers", lid)
    data = {"targets": entry.targets}
    if entry.reference_population is not None:
        data["reference_population"] = entry.reference_population  # type: ignore[assignment]
    file = parse_targets(_located(doc, root, data))
    for k, t in enumerate(file.targets.targets):
        if t.role == "fit":
            raise ScenarioError(
                f"{file.where_target(k, 'role')}: layers.{lid}.targets.{k}.role: nothing "
                "calibrates a layered scenario: give role: check (fit the layer's scheme in a "
                "one-scheme scenario, and reuse its targets here)"
            )
    return file


def parse_layered_targets(doc: Located, lsim: LayeredSimulation) -> tuple[LayerTargets, ...]:
    """Check a layered targets file against the layered scenario before anything runs: every
    problem is a :class:`ScenarioError` at its line and column. Each layer of the scenario, in
    its order, with what it is compared with (nothing, for a layer the file does not name)."""
    try:
        spec = LayeredSpec.model_validate(doc.data)
    except ValidationError as exc:
        raise ScenarioError(located_errors(exc.errors(), doc)) from None
    layers = {ls.id: ls for ls in lsim.layers}
    schemes = {x.id: x.scheme for x in lsim.scenario.layers or ()}  # as the scenario names them
    for lid in spec.layers:
        if lid not in layers:
            raise ScenarioError(
                f"{doc.where(('layers', lid, '__key__'))}: layers.{lid}: the scenario has no "
                f"layer '{lid}'; its layers: {', '.join(layers)}"
            )
    out: list[LayerTargets] = []
    for lid, ls in layers.items():
        start = start_month(ls.sim.scenario)
        if start is None:
            raise ScenarioError(
                f"{doc.where(('layers',))}: layers: the scenario has no `start: YYYY-MM`, so its "
                "months have no dates; give it one"
            )
        entry = spec.layers.get(lid)
        if entry is None:
            out.append(LayerTargets(lid, ls.sim.scheme.id, start))
            continue
        loc = ("layers", lid)
        if entry.reuse is None and entry.targets is None and entry.note is None:
            raise ScenarioError(
                f"{doc.where(loc)}: layers.{lid}: give `reuse:` (a built-in scenario's targets), "
                "`targets:`, or a `note:` saying why the layer has no published figure"
            )
        if entry.reference_population is not None and entry.targets is None:
            raise ScenarioError(
                f"{doc.where((*loc, 'reference_population'))}: layers.{lid}.reference_population"
                ": goes with the layer's own `targets:`"
            )
        parts: list[Part] = []
        fitted: dict[str, str] = {}
        carried: dict[str, tuple[str, float]] = {}
        skipped: list[tuple[str, str, str]] = []
        seen: dict[str, str] = {}
        if entry.reuse is not None:
            name = entry.reuse
            with_targets = [
                n for n in builtin_scenarios() if builtin_path(n, TARGETS_SUFFIX).is_file()
            ]
            if name not in with_targets:
                raise ScenarioError(
                    f"{doc.where((*loc, 'reuse'))}: layers.{lid}.reuse: '{name}' is not a built-in "
                    f"scenario with targets; those with targets: {', '.join(with_targets)}"
                )
            theirs = load_scenario(name).scheme
            if theirs != schemes[lid]:
                raise ScenarioError(
                    f"{doc.where((*loc, 'reuse'))}: layers.{lid}.reuse: {name} runs scheme "
                    f"'{theirs}' and layer '{lid}' runs '{schemes[lid]}': a layer is held to the "
                    "targets of its own scheme only"
                )
            file, carried, skipped = _reused(name, start, start + ls.sim.scenario.steps)
            if file is not None:
                parts.append(Part(file, check_targets(file, ls.sim.scenario, ls.sim)))
                for t in file.targets.targets:
                    seen[t.id] = name
                    if t.role == "fit":
                        fitted[t.id] = name
        if entry.targets is not None:
            file = _own(doc, lid, entry)
            for k, t in enumerate(file.targets.targets):
                if t.id in seen:
                    raise ScenarioError(
                        f"{file.where_target(k, 'id')}: layers.{lid}.targets.{k}.id: '{t.id}' is "
                        f"a target of {seen[t.id]} too; give it another id"
                    )
            parts.append(Part(file, check_targets(file, ls.sim.scenario, ls.sim)))
        out.append(
            LayerTargets(
                lid,
                ls.sim.scheme.id,
                start,
                tuple(parts),
                entry.reuse,
                fitted,
                carried,
                tuple(skipped),
                entry.note,
            )
        )
    return tuple(out)


def prepare_layered(
    scenario: Scenario, doc: Located, *, agents: int | None = None, threads: int | None = None
) -> LayeredJob:
    """The layered scenario (with ``agents`` people) and its checked targets, ready to run."""
    from scslab.engine.layers import LayeredSimulation

    if not scenario.layers:
        raise ScenarioError(
            f"{doc.where(('layers',))}: layers: these targets are by layer, and the scenario has "
            "no `layers:`; give a one-scheme targets file (docs/calibration.md)"
        )
    if agents is not None:
        pop = scenario.population.model_copy(update={"agents": agents})
        scenario = Scenario.model_validate({**scenario.model_dump(), "population": pop})
    layers = parse_layered_targets(doc, LayeredSimulation(scenario))
    share = scenario.observation.published_share
    return LayeredJob(scenario.model_dump_json(), layers, share, threads)


def run_layered_job(
    job: LayeredJob, values: dict[str, float], seed: int | None = None, trajectories: bool = False
) -> Measured:
    """Run the layered scenario (with ``seed``) in memory and read each layer's targets:
    figures by ``<layer id>:<target id>``, a carried figure added in. ``values`` must be empty
    (nothing is varied); ``trajectories`` is not offered."""
    from scslab.engine.cluster import use_kernel_threads
    from scslab.engine.layers import LayeredSimulation
    from scslab.sweep.outputs import step_totals

    assert not values and not trajectories
    use_kernel_threads(job.threads)
    scenario = Scenario.model_validate_json(job.scenario)
    if seed is not None:
        scenario = scenario.model_copy(update={"seed": seed})
    lsim = LayeredSimulation(scenario)
    run = lsim.execute()
    figures: dict[str, float] = {}
    for layer, ls, r in zip(job.layers, lsim.layers, run.runs, strict=True):
        if not layer.parts:
            continue
        columns = step_totals(ls.sim, r.record)
        for part in layer.parts:
            got = measure(part.file, part.windows, columns, ls.sim.agents, layer.start, job.share)
            for tid, v in got.items():
                carried = layer.carried.get(tid)
                figures[f"{layer.id}:{tid}"] = v + (carried[1] if carried else 0.0)
    return Measured(scenario.seed, figures, {})


def summarise_layered(job: LayeredJob, runs: list[Measured]) -> dict[str, dict[str, Any]]:
    """Each layer: its targets over the runs (the one-scheme rows, with ``layer``, ``fitted_in``
    and ``carried``), those not compared and why, and a note (``no published figure`` for a
    layer with nothing to compare)."""
    out: dict[str, dict[str, Any]] = {}
    for layer in job.layers:
        rows: list[dict[str, Any]] = []
        for part in layer.parts:
            mine = [
                Measured(
                    r.seed,
                    {t.id: r.figures[f"{layer.id}:{t.id}"] for t in part.file.targets.targets},
                    {},
                )
                for r in runs
            ]
            for row in summarise(part.file, mine):
                c = layer.carried.get(row["id"])
                row["layer"] = layer.id
                row["fitted_in"] = layer.fitted_in.get(row["id"])
                row["carried"] = None if c is None else {"from": c[0], "figure": c[1]}
                rows.append(row)
        note = layer.note if layer.note is not None else (None if rows else NO_FIGURE)
        if not rows and note != NO_FIGURE:
            note = f"{NO_FIGURE}: {note}"
        out[layer.id] = {
            "scheme": layer.scheme,
            "reuses": layer.reused,
            "targets": rows,
            "not_compared": [{"id": i, "date": d, "why": w} for i, d, w in layer.skipped],
            "note": note,
        }
    return out


def validate_layered(
    scenario: Scenario,
    doc: Located,
    *,
    agents: int | None = None,
    seeds: int = 3,
    cluster: str | None = None,
    workers: int | None = None,
    serial: bool = False,
    progress: Progress | None = None,
) -> dict[str, dict[str, Any]]:
    """:func:`scslab.calibration.validate.validate` of a layered scenario: by layer id, its
    targets over ``seeds`` seeds (:func:`summarise_layered`)."""
    from scslab.engine.cluster import dask_client

    if seeds < 1:
        raise ScenarioError(f"--seeds {seeds}: give at least one seed")
    if workers is not None and workers < 1:
        raise ResourceError(f"--workers {workers}: give at least one worker")
    if agents is not None and agents < 1:
        raise ScenarioError(f"--agents {agents}: give at least one agent")
    cores = os.cpu_count() or 1
    n = min(workers if workers is not None else cores, seeds)
    local = serial or (seeds == 1 and cluster is None)
    threads = None if local or cluster is not None else max(1, cores // n)
    job = prepare_layered(scenario, doc, agents=agents, threads=threads)
    first = scenario.seed
    if first + seeds - 1 >= 2**63:
        raise ScenarioError(f"--seeds {seeds}: the seeds would pass the largest seed (2**63 - 1)")
    if not any(layer.parts for layer in job.layers):
        runs: list[Measured] = []  # nothing to compare: no run needed
    else:
        with nullcontext(None) if local else dask_client(cluster, n) as client:
            seeds_ = list(range(first, first + seeds))
            runs = run_seeds(job, {}, seeds_, client, progress, task=run_layered_job)
    return summarise_layered(job, runs)


def shown_role(row: dict[str, Any]) -> str:
    """A layer's target's role, as shown: fitted for a one-scheme scenario, or held out."""
    return f"fit ({row['fitted_in']})" if row.get("fitted_in") else "held out"


def layered_markdown(layers: dict[str, dict[str, Any]]) -> str:
    """The outcome as Markdown: a table per layer with targets, a line per layer without."""
    from scslab.calibration.validate import markdown

    parts = []
    for lid, layer in layers.items():
        if layer["targets"]:
            rows = [{**r, "role": shown_role(r)} for r in layer["targets"]]
            parts.append(f"**{lid}** ({layer['scheme']})\n\n{markdown(rows)}")
        else:
            parts.append(f"**{lid}** ({layer['scheme']}): {layer['note']}")
    return "\n\n".join(parts)
