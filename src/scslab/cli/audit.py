"""``scslab audit RUN``: the six audit questions, as tables or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from scslab.cli import console, err_console


def audit(
    run: Annotated[Path, typer.Argument(help="a run folder or its results.duckdb")],
    as_json: Annotated[
        bool, typer.Option("--json", help="print the audit as JSON on stdout, nothing else")
    ] = False,
) -> None:
    """Audit a run: disparate impact, wrongful outcomes, rights, cross-context punishment,
    segregation and deterrence. Replays the run to compute counterfactuals."""
    from scslab.analysis.audit import audit as compute
    from scslab.store.results import Results

    results = Results(run)
    with err_console.status("replaying the run for its counterfactuals"):
        report = compute(results)
    results.close()
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=float))
        return
    show(report)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def show(report: dict[str, Any]) -> None:
    di = Table(title="Disparate impact at the end of the run (four-fifths rule)", show_edge=False)
    for col in ("outcome", "by", "rate in each group", "lowest ratio", "flag"):
        di.add_column(col)
    for outcome, by_attr in report["disparate_impact"].items():
        for attr, rows in by_attr.items():
            worst = min(rows, key=lambda r: r["ratio"])
            di.add_row(
                outcome,
                attr,
                " · ".join(f"{r['group']} {_pct(r['rate'])}" for r in rows),
                f"{worst['ratio']:.3f} ({worst['group']})",
                "[red]below 4/5[/]" if worst["flag"] else "",
            )
    console.print(di)

    w = report["wrongful"]
    console.print(
        f"\n[bold]Wrongful[/]: {w['sanctions']:,} sanctions ({w['sanctions_per_100k']:.1f} per "
        f"100,000 people) and {w['list_entries']:,} list entries "
        f"({w['list_entries_per_100k']:.1f} per 100,000) rest on a false record. Of the "
        f"{w['listed_at_end']:,} people listed at the end, "
        f"{w['listed_only_because_of_false_records']:,} "
        f"({_pct(w['share_of_listed_not_listed_without_false_records'])}) would not be listed "
        "without false records (paired run, same random numbers)."
    )

    r = report["rights"]
    console.print(
        f"\n[bold]Rights[/]: rights-tagged events cause {_pct(r['share_of_deductions'])} of "
        f"deductions, {_pct(r['share_of_list_entries'])} of list entries and "
        f"{_pct(r['share_of_sanctions'])} of sanctions. Lawful rights-tagged activity changes by "
        f"{_pct(r['chilling']['change_in_lawful_rights_activity'])} against a world without "
        "the scheme (chilling)."
    )

    cc = report["cross_context"]
    t = Table(
        title=f"Cross-context punishment: {_pct(cc['share'])} of sanction-months land outside "
        "the context of their causes",
        show_edge=False,
    )
    for col in (
        "sanction",
        "life domain",
        "months",
        "cross-context",
        "causes",
        "severity",
        "offence",
        "disproportionate",
    ):
        t.add_column(col)
    for p in cc["proportionality"]:
        gravity = p["offence_severity"]
        t.add_row(
            p["sanction"],
            p["life_domain"],
            f"{p['sanction_months']:,}",
            _pct(p["cross_context_share"]),
            ", ".join(p["cause_domains"]),
            str(p["sanction_severity"]),
            "—" if gravity is None else f"{gravity:.1f}",
            "[red]yes[/]" if p["disproportionate"] else "",
        )
    console.print(t)

    seg = report["segregation"]
    if seg is None:
        console.print("\n[bold]Segregation[/]: no social network in this run.")
    else:
        console.print(
            f"\n[bold]Segregation[/]: score assortativity of friendships went from "
            f"{seg[0]['assortativity']:.3f} to {seg[-1]['assortativity']:.3f}; "
            f"{sum(s['ties_cut'] for s in seg):,} ties were cut."
        )
    d = report["deterrence"]
    console.print(
        f"\n[bold]Deterrence[/]: scored offences change by "
        f"{_pct(d['change_in_scored_offences'])} against a world without the scheme "
        "(paired run, same random numbers)."
    )
