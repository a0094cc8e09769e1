"""``scslab validate [NAME|SCENARIO]``: every target, published against ours, over seeds."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from scslab.cli import console, err_console


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
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from scslab.calibration.validate import markdown
    from scslab.calibration.validate import validate as run_validation
    from scslab.cli.calibrate import scenario_and_targets, table

    name, loaded, file = scenario_and_targets(scenario, targets)
    quiet = as_json or as_markdown
    with Progress(
        TextColumn(f"[bold]{name}[/] {agents:,} people"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("seeds"),
        console=err_console if quiet else console,
        transient=quiet,
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
