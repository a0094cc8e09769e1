"""``scslab assumptions SCENARIO``: the assumed numbers each headline figure rests on."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from scslab.cli import console, err_console


def assumptions(
    scenario: Annotated[
        str, typer.Argument(help="a built-in scenario (e.g. suining-2010) or a scenario file")
    ],
    outputs: Annotated[
        str | None,
        typer.Option(
            help="sweep outputs to rank, comma-separated (docs/sweeps.md); default: "
            "audit.rights_share, audit.rights_share_of_list_entries, audit.sanctioned_rate, "
            "audit.listed_rate (of a layered scenario: each layer's, <layer id>:<output>)"
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="output folder; default: runs/assumptions-SCENARIO"),
    ] = None,
    agents: Annotated[int, typer.Option(help="people in each run")] = 5000,
    years: Annotated[
        float | None,
        typer.Option(
            help="years each run covers; default: the scenario's, at least 5 (the headline "
            "figures count people ever sanctioned, which takes years)"
        ),
    ] = None,
    trajectories: Annotated[
        int, typer.Option(help="Morris trajectories: runs = trajectories × (factors + 1)")
    ] = 4,
    sobol_samples: Annotated[
        int, typer.Option(help="Sobol base sample N (a power of two): runs = N × (top + 2)")
    ] = 16,
    top: Annotated[
        int, typer.Option(help="factors per output that Morris ranks highest, given to Sobol")
    ] = 3,
    workers: Annotated[
        int, typer.Option(help="Dask worker processes; 1 runs here, one run after another")
    ] = 1,
    seed: Annotated[int, typer.Option(help="seed of every run and of both designs")] = 0,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the ledger as JSON on stdout, nothing else")
    ] = False,
) -> None:
    """Rank the assumed numbers of a scenario's scheme (a layered scenario: each layer's), act
    catalogue and settings by how much each headline figure rests on them: Morris screening of
    every one, each varied over its range (default: from its value divided by 1.5 to its value
    times 1.5, even in the logarithm), then Sobol indices of the top ones. Writes
    OUT/assumptions.json, which scslab audit and scslab report print beside the figures
    (docs/audit.md)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from scslab.engine.scenario import load_scenario
    from scslab.sweep.ledger import AssumptionError, Sizes, build_ledger

    sizes = Sizes(
        agents=agents,
        years=years,
        trajectories=trajectories,
        sobol_samples=sobol_samples,
        top=top,
        seed=seed,
    )
    if years is not None and not math.isfinite(years):
        raise AssumptionError(f"--years {years}: give a finite number")
    sizes.check()
    if workers < 1:
        raise AssumptionError(f"--workers {workers}: give at least one worker")
    wanted = None
    if outputs is not None:
        wanted = tuple(o.strip() for o in outputs.split(",") if o.strip())
        if not wanted:
            raise AssumptionError("--outputs: name at least one output")
    loaded = load_scenario(scenario)
    name = Path(scenario).stem
    folder = out if out is not None else Path("runs") / f"assumptions-{name}"
    bar = Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        console=err_console if as_json else console,
        transient=as_json,
    )
    tasks: dict[str, Any] = {}

    def advance(phase: str, done: int, total: int) -> None:
        if not tasks:  # once the checks have passed: nothing is drawn for a refused input
            bar.start()
        if phase not in tasks:
            tasks[phase] = bar.add_task(phase, total=total)
        bar.update(tasks[phase], completed=done, total=total)

    try:
        ledger = build_ledger(
            loaded,
            folder,
            name=name,
            outputs=wanted,
            sizes=sizes,
            workers=workers,
            progress=advance,
        )
    finally:
        if tasks:
            bar.stop()
    if as_json:
        typer.echo(json.dumps(ledger, indent=2))
        return
    show(ledger, folder)


def _f(x: Any) -> str:
    return "–" if x is None else f"{float(x):.3f}"


def show(ledger: dict[str, Any], folder: Path) -> None:
    from rich.table import Table

    design = ledger["design"]
    span = ledger.get("horizon") or f"{ledger['years']:g} years"
    layers = ""
    if ledger.get("layered"):
        layers = (
            " (layers " + ", ".join(f"{x['id']}: {x['scheme']}" for x in ledger["layers"]) + ")"
        )
    console.print(
        f"[bold]{ledger['scenario']}[/]{layers}: {len(ledger['factors'])} assumed numbers varied, "
        f"{len(ledger['fixed'])} fixed (no setting reaches them yet, or no range); "
        f"{ledger['agents']:,} people, {span}; Morris "
        f"{design['morris']['runs']:,} runs, Sobol {design['sobol']['runs']:,} runs, "
        f"{ledger['seconds']:.0f} s"
    )
    for output, entry in ledger["outputs"].items():
        if entry.get("not_ranked"):
            console.print(
                f"[bold]{output}[/] = {_f(entry.get('value'))}: not ranked: {entry['not_ranked']}"
            )
            continue
        t = Table(
            title=f"{output} = {_f(entry.get('value'))}: the assumptions it rests on",
            show_edge=False,
        )
        t.add_column("assumed number", overflow="fold")
        t.add_column("mu*", justify="right")
        t.add_column("share of effects", justify="right")
        t.add_column("S1", justify="right")
        t.add_column("ST", justify="right")
        for r in entry.get("ranking", [])[:8]:
            t.add_row(
                r["path"],
                "–" if r["mu_star"] is None else f"{r['mu_star']:.3g}",
                f"{r['share_of_effects']:.0%}",
                _f(r.get("S1")),
                _f(r.get("ST")),
            )
        console.print(t)
        if entry.get("warning"):
            console.print(f"  [yellow]warning[/]: {entry['warning']}")
    if ledger.get("defaults_missing"):
        console.print(
            "not outputs of these runs, so not ranked: " + ", ".join(ledger["defaults_missing"])
        )
    console.print(f"ledger: {folder / 'assumptions.json'}")
