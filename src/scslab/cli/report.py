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
            "figures; default: assumptions.json beside the run's file, if it is for this scheme"
        ),
    ] = None,
) -> None:
    """Write report.html beside the run's results: figures, the audit and three timelines."""
    from scslab.analysis.audit import audit as compute_audit
    from scslab.errors import ScslabError
    from scslab.report.html import write_report
    from scslab.store.layered import is_layered
    from scslab.store.results import Results

    if is_layered(run):
        if ledger is not None:
            raise ScslabError(
                "--ledger: a layered run's layers have a scheme each; report on one layer "
                f"({run}/layers/<id>) with its ledger"
            )
        from scslab.analysis.audit import audit_layered
        from scslab.report.html import write_layered_report

        with err_console.status("building the report") as status:
            audits = audit_layered(run, progress=status.update) if audit else None
            path = write_layered_report(run, audits)
        console.print(f"report: {path}")
        return
    results = Results(run)
    with err_console.status("building the report"):
        audited = compute_audit(results) if audit else None
        if audited is not None:
            from scslab.sweep.ledger import find_ledger, ledger_notes

            found = find_ledger(results.path, ledger, str(results.run()["scheme"]))
            if found is not None:
                audited["assumptions"] = ledger_notes(found, audited)
        path = write_report(results, audited)
    results.close()
    console.print(f"report: {path}")
