"""``scslab validate [NAME|SCENARIO]``: every target, published against ours, over seeds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from scslab.cli import console, months_bar

if TYPE_CHECKING:
    from scslab._yaml import Located
    from scslab.engine.scenario import Scenario


def validate(
    scenario: Annotated[
        str, typer.Argument(help="a built-in scenario (e.g. spc-defaulters) or a scenario file")
    ],
    targets: Annotated[
        str | None,
        typer.Argument(help="a targets file; default: the built-in scenario's own"),
    ] = None,
    agents: Annotated[
        int, typer.Option(help="people (firms follow) in each run: per-capita scale")
    ] = 1_000_000,
    seeds: Annotated[int, typer.Option(help="runs, with the scenario's seed and the next")] = 3,
    workers: Annotated[
        int | None, typer.Option(help="local Dask worker processes (default: one per core)")
    ] = None,
    cluster: Annotated[str | None, typer.Option(help="a Dask scheduler's address")] = None,
    serial: Annotated[
        bool, typer.Option(help="run here, one seed after another (no Dask)")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the outcome as JSON on stdout, nothing else")
    ] = False,
    as_markdown: Annotated[
        bool, typer.Option("--markdown", help="print the outcome as a Markdown table")
    ] = False,
) -> None:
    """Run a scenario over several seeds and print each target: published figure, ours (mean ±
    sd over seeds), role (fit or held-out check), and whether ours is within tolerance."""

    from scslab._yaml import looks_like_path
    from scslab.calibration.layered import is_layered
    from scslab.calibration.targets import targets_doc
    from scslab.calibration.validate import markdown
    from scslab.calibration.validate import validate as run_validation
    from scslab.cli.calibrate import scenario_and_targets, table
    from scslab.engine.scenario import builtin_scenarios, load_scenario
    from scslab.errors import ScenarioError

    quiet = as_json or as_markdown
    name = Path(scenario).name.removesuffix(".yaml").removesuffix(".yml")
    loaded = load_scenario(scenario)
    if loaded.layers is not None and len(loaded.layers) > 1:
        if targets is None and (looks_like_path(scenario) or scenario not in builtin_scenarios()):
            raise ScenarioError(
                f"{scenario}: give a targets file after the scenario (only built-in scenarios "
                "bring their own)"
            )
        layered(
            name,
            loaded,
            targets_doc(targets if targets is not None else scenario),
            agents,
            seeds,
            cluster,
            workers,
            serial,
            as_json,
            as_markdown,
        )
        return
    if targets is not None and is_layered(targets_doc(targets)):
        layered(
            name,
            loaded,
            targets_doc(targets),
            agents,
            seeds,
            cluster,
            workers,
            serial,
            as_json,
            as_markdown,
        )
        return
    name, loaded, file = scenario_and_targets(scenario, targets)
    with months_bar(
        f"[bold]{name}[/] {agents:,} people", as_json=quiet, eta=False, unit="seeds"
    ) as bar:
        task = bar.add_task("seeds", total=seeds)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done)

        rows = run_validation(
            loaded,
            file,
            agents=agents,
            seeds=seeds,
            cluster=cluster,
            workers=workers,
            serial=serial,
            progress=advance,
        )
    if as_json:
        keys = ("id", "role", "published", "mean", "sd", "within")
        typer.echo(json.dumps({"targets": [{k: r[k] for k in keys} for r in rows]}, indent=2))
        return
    if as_markdown:
        typer.echo(markdown(rows))
        return
    console.print(table(rows, f"{name}: {agents:,} people, {seeds} seed(s)"))


def layered(
    name: str,
    scenario: Scenario,
    doc: Located,
    agents: int,
    seeds: int,
    cluster: str | None,
    workers: int | None,
    serial: bool,
    as_json: bool,
    as_markdown: bool,
) -> None:
    """``scslab validate`` of a layered scenario: per layer, each target against ours."""

    from scslab.calibration.layered import (
        is_layered,
        layered_markdown,
        shown_role,
        validate_layered,
    )
    from scslab.cli.calibrate import table
    from scslab.errors import ScenarioError

    if not is_layered(doc):
        n = len(scenario.layers or ())
        raise ScenarioError(
            f"{doc.where(())}: {name} has {n} layers: its targets give each layer's under "
            "`layers:` (docs/calibration.md#layered-scenarios)"
        )
    quiet = as_json or as_markdown
    with months_bar(
        f"[bold]{name}[/] {agents:,} people, layered", as_json=quiet, eta=False, unit="seeds"
    ) as bar:
        task = bar.add_task("seeds", total=seeds)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done)

        layers = validate_layered(
            scenario,
            doc,
            agents=agents,
            seeds=seeds,
            cluster=cluster,
            workers=workers,
            serial=serial,
            progress=advance,
        )
    if as_json:
        keys = ("id", "role", "fitted_in", "date", "published", "carried", "mean", "sd", "within")
        shaped = {
            lid: {
                **{k: v for k, v in layer.items() if k != "targets"},
                "targets": [{k: r[k] for k in keys} for r in layer["targets"]],
            }
            for lid, layer in layers.items()
        }
        typer.echo(json.dumps({"layered": True, "layers": shaped}, indent=2))
        return
    if as_markdown:
        typer.echo(layered_markdown(layers))
        return
    for lid, layer in layers.items():
        head = f"{name}, layer {lid} ({layer['scheme']})"
        if layer["reuses"]:
            head += f", targets of {layer['reuses']}"
        if layer["targets"]:
            rows = [{**r, "role": shown_role(r)} for r in layer["targets"]]
            console.print(table(rows, f"{head}: {agents:,} people, {seeds} seed(s)"))
            for r in layer["targets"]:
                if r["carried"] is not None:
                    c = r["carried"]
                    console.print(
                        f"  {r['id']}: ours is {c['from']}'s published {c['figure']:,.0f} "
                        "plus ours from the layer's first month (the count began before the run)"
                    )
        else:
            console.print(f"[bold]{head}[/]: {layer['note']}")
        why: dict[str, list[str]] = {}
        for x in layer["not_compared"]:
            why.setdefault(x["why"], []).append(x["id"])
        for reason, ids in why.items():
            console.print(f"  [dim]not compared, {reason}: {', '.join(ids)}[/]")
