"""``scslab sweep``: many runs over a design of parameter values, on Dask, into one DuckDB file."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from scslab.cli import console, err_console

if TYPE_CHECKING:
    from scslab.sweep import SweepReport

#: Rows of design-point means printed for a grid or random design; the rest are in the file.
SHOWN_POINTS = 20


def sweep(
    spec_file: Annotated[Path, typer.Argument(help="a sweep spec (YAML); see docs/sweeps.md")],
    out: Annotated[
        Path | None, typer.Option(help="output folder; default: runs/SPEC (the spec's name)")
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(help="a Dask scheduler's address (tcp://HOST:PORT); default: a LocalCluster"),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(help="LocalCluster worker processes; default: one per core"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the outcome as JSON on stdout, nothing else")
    ] = False,
) -> None:
    """Run a sweep: every design point and replicate of a spec, on Dask. Results go into
    OUT/sweep.duckdb as runs finish; a rerun of the same spec skips the runs already there.
    A Sobol design prints first-order and total indices and writes OUT/sobol.html; a Morris
    design prints each parameter's screening indices (mu*, sigma)."""
    from scslab.errors import ResourceError
    from scslab.sweep import Sweep, run_sweep

    if workers is not None and cluster is not None:
        raise ResourceError("--workers starts a LocalCluster; leave it out with --cluster")
    if workers is not None and workers < 1:
        raise ResourceError(f"--workers {workers}: give at least one worker")
    plan = Sweep.from_yaml(spec_file)  # every check, before a cluster starts or a run runs
    folder = out if out is not None else Path("runs") / spec_file.stem
    status = err_console if as_json else console
    runs, points = len(plan.runs), len(plan.points)
    where = cluster or f"a LocalCluster of {workers or os.cpu_count() or 1} worker(s)"
    if not as_json:
        console.print(
            f"[bold]{plan.spec.design.kind}[/] sweep of {', '.join(plan.parameters)}: "
            f"{points:,} points × {plan.spec.replicates} replicate(s) = {runs:,} runs, on {where}"
        )
    bar = Progress(
        TextColumn("[bold]runs[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=status,
        transient=as_json,
    )
    task: TaskID | None = None

    def advance(done: int, total: int) -> None:
        nonlocal task
        if task is None:  # once the cluster is up
            bar.start()
            task = bar.add_task("runs", total=total)
        bar.update(task, completed=done, total=total)

    try:
        report = run_sweep(plan, folder, cluster=cluster, workers=workers, progress=advance)
    except KeyboardInterrupt:
        if task is not None:
            bar.stop()
        err_console.print(
            f"interrupted: the runs finished so far are in {folder / 'sweep.duckdb'}; "
            "run the same command again to finish the rest"
        )
        raise typer.Exit(130) from None
    finally:
        if task is not None:
            bar.stop()
    if as_json:
        typer.echo(json.dumps(as_dict(report), indent=2))
    else:
        show(report)
    if report.outcome.failed:
        raise typer.Exit(1)


def as_dict(report: SweepReport) -> dict[str, Any]:
    sweep, outcome = report.sweep, report.outcome
    out: dict[str, Any] = {
        "design": sweep.spec.design.kind,
        "parameters": list(sweep.parameters),
        "points": len(sweep.points),
        "replicates": sweep.spec.replicates,
        "runs": {
            "planned": outcome.planned,
            "skipped": outcome.skipped,
            "done": outcome.done,
            "failed": outcome.failed,
        },
        "status": report.counts,
        "database": str(report.database),
        "outputs": list(sweep.outputs),
    }
    if report.indices is not None:
        out["sobol"] = report.indices
        out["plot"] = str(report.plot)
    elif report.screening is not None:
        out["morris"] = report.screening
    else:
        out["point_means"] = [
            {
                **dict(zip(sweep.parameters, point, strict=True)),
                **{k: _finite(v[i]) for k, v in report.means.items()},
            }
            for i, point in enumerate(sweep.points)
        ]
    if report.failures:
        out["failures"] = [{"point": p, "replicate": r, "error": e} for p, r, e in report.failures]
    return out


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _fmt(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def _pm(x: float | None, conf: float | None) -> str:
    return "–" if x is None else f"{x:.3f} ± {conf or 0:.3f}"


def show(report: SweepReport) -> None:
    sweep, outcome = report.sweep, report.outcome
    console.print(
        f"\n{outcome.done:,} runs done now, {outcome.skipped:,} already finished, "
        f"{outcome.failed:,} failed (of {outcome.planned:,} distinct runs)"
    )
    for at, replicate, error in report.failures:
        console.print(f"[red]failed[/] point {at}, replicate {replicate}: {error}")
    if report.indices is not None:
        confidence = getattr(sweep.spec.design, "confidence", 0.95)
        t = Table(
            title="Sobol indices: first order S1, total ST, ± half-width of the "
            f"{confidence:.0%} interval",
            show_edge=False,
        )
        t.add_column("output", overflow="fold")
        t.add_column("parameter", overflow="fold")
        t.add_column("S1", justify="right")
        t.add_column("ST", justify="right")
        for output, by in report.indices.items():
            for k, (p, v) in enumerate(by.items()):
                t.add_row(
                    output if k == 0 else "",
                    p,
                    _pm(v["S1"], v["S1_conf"]),
                    _pm(v["ST"], v["ST_conf"]),
                    end_section=k == len(by) - 1,
                )
        console.print(t)
        console.print(f"plot: {report.plot}")
    elif report.screening is not None:
        t = Table(
            title="Morris screening: mu* (mean absolute elementary effect, per whole range) ± "
            "half-width of its interval, and sigma",
            show_edge=False,
        )
        t.add_column("output", overflow="fold")
        t.add_column("parameter", overflow="fold")
        t.add_column("mu*", justify="right")
        t.add_column("sigma", justify="right")
        for output, by_p in report.screening.items():
            ranked = sorted(by_p.items(), key=lambda kv: -(kv[1]["mu_star"] or 0.0))
            for k, (p, v) in enumerate(ranked):
                t.add_row(
                    output if k == 0 else "",
                    p,
                    _pm(v["mu_star"], v["mu_star_conf"]),
                    _fmt(v["sigma"]),
                    end_section=k == len(ranked) - 1,
                )
        console.print(t)
    elif report.means:
        names = list(report.means)[:6]
        t = Table(title="Outputs at each design point (mean over replicates)", show_edge=False)
        for p in sweep.parameters:
            t.add_column(p)
        for name in names:
            t.add_column(name, justify="right")
        for i, values in enumerate(sweep.points[:SHOWN_POINTS]):
            cells = [_fmt(_finite(report.means[n][i])) for n in names]
            t.add_row(*(f"{v:.4g}" if isinstance(v, float) else str(v) for v in values), *cells)
        console.print(t)
        more = len(sweep.points) - SHOWN_POINTS
        if more > 0 or len(report.means) > len(names):
            console.print("the rest is in the file: see docs/sweeps.md for queries")
    console.print(f"results: {report.database}")
