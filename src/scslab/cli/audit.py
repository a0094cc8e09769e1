"""``scslab audit RUN``: the six audit questions, as tables or JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from scslab.cli import console, err_console


def audit(
    run: Annotated[
        Path,
        typer.Argument(
            help="a run folder or its results.duckdb; a layered run's folder audits each layer"
        ),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="print the audit as JSON on stdout, nothing else")
    ] = False,
    replicates: Annotated[
        int,
        typer.Option(
            "--replicates",
            help="runs of the scenario, seeds SEED..SEED+K-1, for intervals across replicates "
            "(1: the run alone)",
        ),
    ] = 1,
    intersect: Annotated[
        list[str] | None,
        typer.Option(
            "--intersect",
            help="traits compared jointly, e.g. hukou,income (repeatable; default hukou,income)",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="run the replicates on a Dask LocalCluster of this many processes (the scale "
            "extra); default: one after another in this process"
        ),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(help="run the replicates on this Dask scheduler (tcp://HOST:PORT)"),
    ] = None,
    ledger: Annotated[
        Path | None,
        typer.Option(
            help="an assumption ledger (scslab assumptions) to print beside the headline "
            "figures; default: assumptions.json beside the run's file, if it is for this scheme (a "
            "layered run's: in its folder, if it is of the run's layers)"
        ),
    ] = None,
) -> None:
    """Audit a run: risk ratios by group, wrongful outcomes and their counterfactual, rights,
    suppression, cross-context punishment, segregation and deterrence. Replays the run to
    compute counterfactuals."""
    from scslab.analysis.audit import audit as compute
    from scslab.errors import ScslabError
    from scslab.store.results import Results

    if replicates < 1:
        raise ScslabError(f"--replicates {replicates}: give 1 (the run alone) or more")
    if workers is not None and workers < 1:
        raise ScslabError(f"--workers {workers}: give at least one worker")
    if workers is not None and cluster is not None:
        raise ScslabError("--workers starts a LocalCluster; leave it out with --cluster")
    joint = [tuple(x.split(",")) for x in intersect] if intersect else None
    # what every audit takes: replicates, groups compared jointly, where the replicates run
    options: dict[str, Any] = {
        "replicates": replicates,
        "intersections": joint,
        "workers": workers,
        "cluster": cluster,
    }
    from scslab.store.layered import is_layered

    if is_layered(run):
        audit_layers(run, as_json, options, ledger)
        return
    from scslab.sweep.ledger import ledger_notes, ledger_of_run

    results = Results(run)
    try:
        found, lid = ledger_of_run(results.path, ledger, str(results.run()["scheme"]))
        with err_console.status("replaying the run for its counterfactuals") as status:
            report = compute(results, progress=status.update, **options)
    finally:
        results.close()
    if found is not None:
        report["assumptions"] = ledger_notes(found, report, layer=lid)
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=float))
        return
    show(report)
    show_notes(report.get("assumptions"))


def audit_layers(
    folder: Path, as_json: bool, options: dict[str, Any], ledger: Path | None = None
) -> None:
    """Every layer of a layered run, from one replay of the whole run per counterfactual; with
    the layered scenario's assumption ledger (``ledger``, or found in the run's folder), each
    layer's headline figures with the notes on what they rest on."""
    from scslab.analysis.audit import audit_layered, region_burden
    from scslab.store.layered import open_layered
    from scslab.sweep.ledger import find_layered_ledger, ledger_notes

    with open_layered(folder) as run:
        found = find_layered_ledger(folder, ledger, [(x.id, x.scheme) for x in run.layers])
    with err_console.status("replaying the layered run for its counterfactuals") as status:
        reports = audit_layered(folder, progress=status.update, **options)
    with open_layered(folder) as run:
        burden = region_burden(run)
    across: list[dict[str, Any]] = []
    if found is not None:
        for lid, report in reports.items():
            report["assumptions"] = ledger_notes(found, report, layer=lid)
        across = ledger_notes(found)
    if as_json:
        doc = {"layered": True, "layers": reports, "regions": burden}
        if found is not None:
            doc["assumptions"] = across
        typer.echo(json.dumps(doc, indent=2, default=float))
        return
    for lid, report in reports.items():
        console.rule(f"[bold]layer {lid}[/]")
        show(report)
        show_notes(report.get("assumptions"))
    console.rule("[bold]all layers[/]")
    t = Table(
        title=f"Sanction-months per 1,000 people over the run's {burden['months']} months, by "
        "region: what living there costs across the layers",
        show_edge=False,
    )
    for col in ("region", "people", *burden["layers"], "all layers"):
        t.add_column(col, justify="left" if col == "region" else "right")
    for r in burden["regions"]:
        per = [r["by_layer"][lid] for lid in burden["layers"]]
        t.add_row(
            r["region"],
            f"{r['people']:,}",
            *("not covered" if x is None else f"{x:,.1f}" for x in per),
            f"{r['all_layers']:,.1f}",
        )
    console.print(t)
    show_notes(across)


def show_notes(notes: list[dict[str, Any]] | None) -> None:
    """The ledger's notes beside the headline figures, one a line."""
    from scslab.sweep.ledger import note_line

    if notes:
        console.print("\n[bold]What the headline figures rest on[/] (assumption ledger):")
        for note in notes:
            console.print(f"  {note_line(note)}", markup=False)


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _ratio(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def _interval(x: list[float | None] | None) -> str:
    if not x or x[0] is None or x[1] is None:
        return ""
    return f"{x[0]:.2f}–{x[1]:.2f}"


def show(report: dict[str, Any]) -> None:
    runs = report["replicates"]["runs"]
    for outcome, by_attr in report["risk_ratio"].items():
        di = Table(
            title=f"{outcome}: people ever {outcome.replace('_', ' ')} over the run, each group "
            f"against the largest (95 % intervals; {runs} run{'s' if runs > 1 else ''})",
            show_edge=False,
        )
        for col in ("by", "group", "affected", "rate", "risk ratio", "replicates", "diff.", "4/5"):
            di.add_column(col)
        for attr, comparison in by_attr.items():
            for r in comparison["groups"]:
                if r["reference"]:
                    ratio = "reference"
                elif r["note"]:
                    ratio = f"{_ratio(r['risk_ratio'])} ({r['note']})"
                else:
                    ratio = f"{_ratio(r['risk_ratio'])} ({_interval(r['interval'])})"
                diff = r["risk_difference"]
                di.add_row(
                    attr,
                    r["group"],
                    f"{r['affected']:,} of {r['people']:,}",
                    _pct(r["rate"]),
                    ratio,
                    _interval(r["replicate_interval"]),
                    "—" if diff is None else f"{100 * diff:+.2f} pp",
                    "[red]below[/]" if r["four_fifths"]["flag"] else "",
                )
        console.print(di)

    w, c = report["wrongful"], report["counterfactual"]
    console.print(
        f"\n[bold]Wrongful[/]: {w['sanctions_with_a_false_record_among_causes']:,} sanctions "
        f"({w['sanctions_with_a_false_record_among_causes_per_100k']:.1f} per 100,000 people) "
        f"and {w['list_entries_with_a_false_record_among_causes']:,} list entries have a false "
        "record among their causes."
    )
    console.print(
        f"[bold]Counterfactual[/] (paired run without false records, same random numbers): "
        f"{c['people_sanctioned_who_would_not_have_been']:,} of "
        f"{c['people_ever_sanctioned']:,} people ever sanctioned would not have been, and bore "
        f"{c['sanction_months_they_bore']:,} months of sanction; "
        f"{c['people_listed_who_would_not_have_been']:,} of {c['people_ever_listed']:,} people "
        "ever listed would not have been."
    )

    r = report["rights"]
    console.print(
        f"\n[bold]Rights[/]: rights-tagged events cause {_pct(r['share_of_deductions'])} of "
        f"deductions, {_pct(r['share_of_list_entries'])} of list entries and "
        f"{_pct(r['share_of_sanctions'])} of sanctions. Lawful rights-tagged activity changes by "
        f"{_pct(r['chilling']['change_in_lawful_rights_activity'])} against a world without "
        "the scheme (chilling)."
    )
    sup = report["suppression"]
    if sup["by_act"]:
        console.print(
            f"[bold]Suppression[/]: lawful acts the scheme penalises change by "
            f"{_pct(sup['change_in_penalised_lawful_acts'])} against a world without the scheme: "
            + "; ".join(f"{a['act']} {_pct(a['change'])}" for a in sup["by_act"])
            + "."
        )

    cc = report["cross_context"]
    t = Table(
        title=f"Cross-context punishment: {_pct(cc['share'])} of sanction-months land outside "
        f"the context of their causes ({_pct(cc['share_weighted'])} weighted by points)",
        show_edge=False,
    )
    for col in (
        "sanction",
        "life domain",
        "months",
        "cross-context",
        "by points",
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
            _pct(p["cross_context_share_weighted"]),
            ", ".join(p["cause_domains"]),
            str(p["sanction_severity"]),
            "—" if gravity is None else f"{gravity:.1f}",
            "[red]yes[/]" if p["disproportionate"] else "",
        )
    console.print(t)
    if cc.get("cross_layer_share"):
        console.print(
            f"Of them, {_pct(cc['cross_layer_share'])} of sanction-months are imposed through "
            "another layer's list or grade: caused by records another scheme acted on, so out of "
            "context whatever their domains."
        )

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
    a = report["appeals"]
    if a is not None:
        console.print(
            f"\n[bold]Appeals[/]: {a['lodged']:,} lodged, {a['decided']:,} decided "
            f"({a['won']['false_records']:,} won and {a['lost']['false_records']:,} lost against "
            f"false records, {a['won']['true_records']:,} won and {a['lost']['true_records']:,} "
            f"lost against true ones); {a['wrongful_listings_corrected']:,} of "
            f"{a['wrongful_list_entries']:,} wrongful list entries corrected, after "
            f"{a['months_wrongful_listings_lasted']:,} months on the list in all."
        )
    gen = report.get("intergenerational")
    if gen is not None:
        line = (
            f"\n[bold]Intergenerational[/]: {gen['came_of_age']:,} children came of age, "
            f"{gen['parent_sanctioned']:,} of them with a household adult sanctioned before."
        )
        for o in ("sanctioned", "low_grade"):
            if o in gen:
                a, b = gen[o]["groups"]  # with a sanctioned parent, and the others
                rr: float | None = (
                    a["rate"] / b["rate"] if a["rate"] is not None and b["rate"] else None
                )
                why = a["note"] or b["note"]
                line += (
                    f" {o.replace('_', ' ').capitalize()} as adults: {_pct(a['rate'])} of those "
                    f"with a sanctioned parent, {_pct(b['rate'])} of the others"
                    + (f" ({why})." if why else f" (risk ratio {_ratio(rr)}).")
                )
        console.print(line)
