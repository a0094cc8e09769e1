"""``scslab calibrate SCENARIO [TARGETS]``: fit a scenario's free settings to published figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from scslab.cli import console, err_console

if TYPE_CHECKING:
    from scslab.calibration.targets import TargetsFile
    from scslab.engine.scenario import Scenario


def scenario_and_targets(scenario: str, targets: str | None) -> tuple[str, Scenario, TargetsFile]:
    """A scenario (built-in name or file) and its targets (given, or the built-in's own)."""
    from scslab.calibration.targets import load_targets
    from scslab.engine.scenario import load_scenario
    from scslab.errors import ScenarioError

    name = Path(scenario).name.removesuffix(".yaml").removesuffix(".yml")
    loaded = load_scenario(scenario)
    if targets is None:
        from scslab._yaml import looks_like_path
        from scslab.engine.scenario import builtin_scenarios

        if looks_like_path(scenario) or scenario not in builtin_scenarios():
            raise ScenarioError(
                f"{scenario}: give a targets file after the scenario (only built-in scenarios "
                "bring their own)"
            )
        targets = scenario
    return name, loaded, load_targets(targets)


def table(rows: list[dict[str, Any]], title: str) -> Table:
    """Each target: published, ours (mean ± sd), error, role, within tolerance."""
    from scslab.calibration.page import _fmt

    t = Table(title=title, show_edge=False)
    for col in ("target", "role", "date"):
        t.add_column(col)
    for col in ("published", "ours (mean ± sd)", "error"):
        t.add_column(col, justify="right")
    t.add_column("within")
    for r in rows:
        err = r["error"]
        t.add_row(
            str(r["id"]),
            str(r["role"]),
            str(r["date"]),
            _fmt(float(r["published"])),
            f"{_fmt(float(r['mean']))} ± {_fmt(float(r['sd']))}",
            "" if err is None else f"{float(err):+.1%}",
            "[green]yes[/]" if r["within"] else "[red]no[/]",
        )
    return t


def calibrate(
    scenario: Annotated[
        str,
        typer.Argument(
            help="a built-in scenario (e.g. spc-defaulters, corporate-scs) or a scenario file; "
            "`firms` is corporate-scs"
        ),
    ],
    targets: Annotated[
        str | None,
        typer.Argument(help="a targets file; default: the built-in scenario's own"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="output folder; default: calibration/SCENARIO")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace an existing --out")] = False,
    workers: Annotated[
        int | None, typer.Option(help="local Dask worker processes (default: one per core)")
    ] = None,
    cluster: Annotated[str | None, typer.Option(help="a Dask scheduler's address")] = None,
    serial: Annotated[bool, typer.Option(help="run here, one run after another (no Dask)")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the result as JSON on stdout, nothing else")
    ] = False,
) -> None:
    """Fit the free settings named in the targets file's `fit:` section (pyabc's ABC-SMC) and
    write the calibrated scenario, calibration.html and calibration.json."""
    from scslab.calibration.fit import JSON_FILE, PAGE, SCENARIO_FILE
    from scslab.calibration.fit import calibrate as run_calibration

    if scenario == "firms":
        scenario = "corporate-scs"
    name, loaded, file = scenario_and_targets(scenario, targets)
    folder = out if out is not None else Path("calibration") / name
    status = err_console if as_json else console
    fit = file.targets.fit
    gens = fit.generations if fit is not None else 0
    with Progress(
        TextColumn("[bold]calibrating[/] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[what]}"),
        console=status,
        transient=as_json,
    ) as bar:
        task = bar.add_task(name, total=gens, what="generations")

        def generation(t: int, total: int, eps: float) -> None:
            bar.update(task, completed=t, what=f"generations (threshold {eps:.3g})")

        def replicate(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, what="final runs")

        result = run_calibration(
            loaded,
            file,
            folder,
            name=name,
            cluster=cluster,
            workers=workers,
            serial=serial,
            overwrite=overwrite,
            progress=generation,
            replicate_progress=replicate,
        )
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    p = Table(title="Fitted settings", show_edge=False)
    for col in ("setting", "estimate", f"{result.fit.level:.0%} interval", "prior"):
        p.add_column(col)
    for path, v in result.estimate.items():
        lo, hi = result.intervals[path]
        a, b = result.priors[path]
        p.add_row(path, f"{v:.4g}", f"{lo:.4g} to {hi:.4g}", f"{a:.4g} to {b:.4g}")
    console.print(p)
    console.print(
        table(result.targets, f"Targets at the estimate ({len(result.replicates)} seeds)")
    )
    console.print(
        f"{result.simulations} runs in {result.seconds:.0f} s; wrote {folder / SCENARIO_FILE}, "
        f"{folder / PAGE} and {folder / JSON_FILE}"
    )
