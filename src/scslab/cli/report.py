"""``scslab report RUN``: write report.html, a self-contained page of figures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scslab.cli import console, err_console


def report(
    run: Annotated[
        Path,
        typer.Argument(
            help="a run folder or its results.duckdb; a layered run's folder: its layers"
        ),
    ],
    audit: Annotated[
        bool, typer.Option("--audit/--no-audit", help="include the audit (replays the run)")
    ] = True,
    ledger: Annotated[
        Path | None,
        typer.Option(
            help="an assumption ledger (scslab assumptions) to print beside the audit's headline "
            "figures; default: assumptions.json beside the run's file, if it is for this scheme (a "
            "layered run's: in its folder, if it is of the run's layers)"
        ),
    ] = None,
) -> None:
    """Write report.html beside the run's results: figures, the audit and three timelines."""
    from scslab.analysis.audit import audit as compute_audit
    from scslab.report.html import write_report
    from scslab.store.layered import is_layered
    from scslab.store.results import Results

    if is_layered(run):
        from scslab.analysis.audit import audit_layered
        from scslab.report.html import write_layered_report
        from scslab.store.layered import open_layered
        from scslab.sweep.ledger import find_layered_ledger, ledger_notes

        with open_layered(run) as layered:
            held = find_layered_ledger(run, ledger, [(x.id, x.scheme) for x in layered.layers])
        with err_console.status("building the report") as status:
            audits = audit_layered(run, progress=status.update) if audit else None
            if audits is not None and held is not None:  # each layer's beside its figures
                for layer, audited_layer in audits.items():
                    audited_layer["assumptions"] = ledger_notes(held, audited_layer, layer=layer)
            path = write_layered_report(run, audits)
        console.print(f"report: {path}")
        return
    results = Results(run)
    with err_console.status("building the report"):
        audited = compute_audit(results) if audit else None
        if audited is not None:
            from scslab.sweep.ledger import ledger_notes, ledger_of_run

            found, lid = ledger_of_run(results.path, ledger, str(results.run()["scheme"]))
            if found is not None:
                audited["assumptions"] = ledger_notes(found, audited, layer=lid)
        path = write_report(results, audited)
    results.close()
    console.print(f"report: {path}")
