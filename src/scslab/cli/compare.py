"""``scslab compare SCHEME...``: schemes side by side on the same people and the same acts."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from scslab.cli import console, months_bar, with_flags
from scslab.errors import ScenarioError

FIGURES = (
    ("sanctioned_share", "under a sanction at the end", "pct"),
    ("listed_share", "on a list at the end", "pct"),
    ("rewarded_share", "holding a reward at the end", "pct"),
    ("sanction_months_per_person", "sanction-months per person", "num"),
    ("cross_context_share", "sanction-months out of context", "pct"),
    ("wrongful_sanctions_per_100k", "wrongful sanctions per 100,000", "num"),
    ("listed_only_by_false_records", "listed only by false records", "pct"),
    ("rights_share_of_sanctions", "sanctions caused by rights-tagged acts", "pct"),
    ("chilling", "change in lawful rights activity", "pct"),
    ("deterrence", "change in scored offences", "pct"),
    ("worst_four_fifths_ratio", "worst four-fifths ratio", "num"),
    ("true_acts", "true acts", "int"),
    ("records", "records", "int"),
    ("false_records", "false records", "int"),
)


def compare(
    schemes: Annotated[list[str], typer.Argument(help="two or more scheme names or files")],
    agents: Annotated[int, typer.Option(help="number of people")] = 100_000,
    years: Annotated[float, typer.Option(help="years of monthly steps")] = 5,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="folder for the runs; default: runs/compare-TIME")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace results in existing folders")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the comparison as JSON on stdout, nothing else")
    ] = False,
) -> None:
    """Run each scheme on the same population with the same acts, audit each, and print the
    figures side by side. `financial-only` against `defaulter-blacklist` asks the paper's own
    question: is the system new, or an extension of credit scoring elsewhere?"""
    from scslab.analysis.compare import compare as run_all
    from scslab.engine.scenario import Scenario

    if agents <= 0:
        raise ScenarioError(f"--agents {agents}: give at least one agent")
    if years <= 0:
        raise ScenarioError(f"--years {years:g}: give a positive number of years")
    base = with_flags(
        Scenario(),
        {"population": {"agents": agents}, "years": years, "seed": seed},
        {"population": f"--agents {agents}", "years": f"--years {years}", "seed": f"--seed {seed}"},
    )
    folder = out or Path("runs") / f"compare-{datetime.now():%Y%m%d-%H%M%S}"
    with months_bar("{task.description}", as_json=as_json, eta=False) as bar:
        tasks: dict[str, Any] = {}

        def advance(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done)

        report = run_all(schemes, base, folder, overwrite=overwrite, progress=advance)
    from scslab.files import write_text
    from scslab.report.html import comparison_page

    page = write_text(folder / "compare.html", comparison_page(report, FIGURES), what="the page")
    report["page"] = str(page)
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=float))
        return
    table = Table(
        title=f"{agents:,} people, {years:g} years, seed {seed}: same people, same acts",
        show_edge=False,
    )
    table.add_column("")
    for name in report["schemes"]:
        table.add_column(name, justify="right")
    for key, label, kind in FIGURES:
        cells = []
        for row in report["schemes"].values():
            v = row[key]
            cells.append(f"{v:.2%}" if kind == "pct" else f"{v:,}" if kind == "int" else f"{v:.3f}")
        table.add_row(label, *cells)
    console.print(table)
    console.print(f"runs: {folder}\nfigures: {page}")
