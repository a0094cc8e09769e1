"""``scslab compare ITEM...``: schemes and layered scenarios side by side on the same people."""

from __future__ import annotations

import json
import math
from dataclasses import replace
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
    items: Annotated[
        list[str],
        typer.Argument(
            help="schemes (built-in names or files) and layered scenarios (built-in names, "
            "e.g. patchwork-2018, or files with `layers:`); two or more columns in all"
        ),
    ],
    agents: Annotated[
        int | None,
        typer.Option(help="number of people; default: the layered scenario's, else 100,000"),
    ] = None,
    years: Annotated[
        float | None,
        typer.Option(help="years of monthly steps; default: the layered scenario's, else 5"),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(help="random seed; default: the layered scenario's, else 0")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="folder for the runs; default: runs/compare-TIME")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="replace results in existing folders")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the comparison as JSON on stdout, nothing else")
    ] = False,
) -> None:
    """Run each scheme, and each layered scenario, on the same population, audit each, and
    print the figures side by side: a column per scheme, per layer, and per layered scenario's
    all layers. `financial-only` against `defaulter-blacklist` asks the paper's own question: is
    the system new, or an extension of credit scoring elsewhere? `defaulter-blacklist` against
    `patchwork-2018` asks what the patchwork adds to the court's list alone. A layered scenario
    sets the population, calendar, months, rates and seed of every column; the options given
    override them, as for `scslab run`."""
    from scslab.analysis.compare import checked, common_base
    from scslab.analysis.compare import compare as run_all
    from scslab.engine.scenario import Scenario

    if agents is not None and agents <= 0:
        raise ScenarioError(f"--agents {agents}: give at least one agent")
    if years is not None and years <= 0:
        raise ScenarioError(f"--years {years:g}: give a positive number of years")
    given = {"population": agents, "years": years, "seed": seed}
    flags = {
        "population": f"--agents {agents}",
        "years": f"--years {years}",
        "seed": f"--seed {seed}",
    }
    for key, value in given.items():  # checked before any name is looked up
        if isinstance(value, float) and not math.isfinite(value):
            raise ScenarioError(f"{flags[key]}: give a finite number")
    resolved = []
    for item in checked(items):
        if item.scenario is not None:  # the options given override it, as for `scslab run`
            updates: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
            if agents is not None:
                population = item.scenario.population
                updates["population"] = population.model_copy(update={"agents": agents})
            if updates:  # validated with its layers: a layer never in force is refused
                try:
                    item = replace(item, scenario=with_flags(item.scenario, updates, flags))
                except ScenarioError as exc:
                    said = " ".join(flags[k] for k in updates)
                    why = str(exc).removeprefix("the scenario (with the options given): ")
                    raise ScenarioError(f"{item.given} with {said}: {why}") from None
        resolved.append(item)
    default = with_flags(
        Scenario(),
        {
            "population": {"agents": 100_000 if agents is None else agents},
            "years": 5 if years is None else years,
            "seed": 0 if seed is None else seed,
        },
        flags,
    )
    base = common_base(resolved, default)
    folder = out or Path("runs") / f"compare-{datetime.now():%Y%m%d-%H%M%S}"
    with months_bar("{task.description}", as_json=as_json, eta=False) as bar:
        tasks: dict[str, Any] = {}

        def advance(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done)

        report = run_all(resolved, base, folder, overwrite=overwrite, progress=advance)
    from scslab.files import write_text
    from scslab.report.html import comparison_page

    page = write_text(folder / "compare.html", comparison_page(report, FIGURES), what="the page")
    report["page"] = str(page)
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=float))
        return
    show(report)
    console.print(f"runs: {folder}\nfigures: {page}")


def show(report: dict[str, Any]) -> None:
    """The comparison as a table: a column per scheme, per layer and per layered scenario's all
    layers, the people and months of each first; then what the columns share."""
    from scslab.analysis.compare import ALL_LAYERS

    rows = report["schemes"]
    months = report["months"]
    layered = any(item["kind"] == "layered" for item in report["items"].values())
    when = f" from {report['start']}" if report["start"] else ""
    table = Table(
        title=f"{report['agents']:,} people, {months} months{when}, seed {report['seed']}: "
        + ("the same people" if layered else "same people, same acts"),
        show_edge=False,
    )
    table.add_column("")
    for name, row in rows.items():
        table.add_column(
            f"{name}\n(all layers)" if row["kind"] == ALL_LAYERS else name, justify="right"
        )
    table.add_row(
        "people",
        *(
            f"{row['people']:,}" + (" firms" if row["subjects"] == "firms" else "")
            for row in rows.values()
        ),
    )
    table.add_row(
        "months of the run",
        *(_months(row["from"], row["until"], report["start"]) for row in rows.values()),
    )
    for key, label, kind in FIGURES:
        cells = []
        for row in rows.values():
            v = row[key]
            cells.append(
                "—"
                if v is None
                else f"{v:.2%}"
                if kind == "pct"
                else f"{v:,}"
                if kind == "int"
                else f"{v:.3f}"
            )
        table.add_row(label, *cells)
    console.print(table)
    if layered:
        console.print(
            "a layer: over its own people and months, as `scslab audit` on the layered run "
            "gives it; all layers: each person counted once among everyone, and sums over "
            "the layers (docs/layers.md#comparing-layered-scenarios)"
        )


def _months(first: int, end: int, start: str | None) -> str:
    """A row's months of the run: ``0 to 11``, or calendar months with a ``start``."""
    if start is None:
        return f"{first} to {end - 1}"
    from scslab.calibration.targets import month_text
    from scslab.months import month_index

    return f"{month_text(month_index(start) + first)} to {month_text(month_index(start) + end - 1)}"
