"""``scslab resume``: continue a run from its last checkpoint to the end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scslab.cli import err_console, months_bar
from scslab.cli.run import show_layers, show_summary, stopped


def resume(
    run_folder: Annotated[Path, typer.Argument(help="the folder of a run that checkpointed")],
    cluster: Annotated[
        str | None,
        typer.Option(help="Dask scheduler address for a sharded run; default: local workers"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the summary as JSON on stdout, nothing else")
    ] = False,
) -> None:
    """Continue a run (one started with --checkpoint-every, or sharded) from its last checkpoint.

    The results are those the run would have had without stopping; a corrupted or truncated
    checkpoint is refused.
    """
    from scslab.layered import resume_layered
    from scslab.runs import RunInterrupted, resumable, resume_run

    manifest = resumable(run_folder)
    first = manifest.step
    with months_bar(f"[bold]resuming[/] {run_folder} from month {first}", as_json=as_json) as bar:
        task = bar.add_task("resume", total=manifest.steps, completed=first)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done)

        try:
            if manifest.extra.get("layered"):
                lsim, layers = resume_layered(
                    manifest, progress=advance, cluster=cluster, log=err_console.print
                )
            else:
                results = resume_run(
                    run_folder, progress=advance, cluster=cluster, log=err_console.print
                )
        except RunInterrupted as stop:
            stopped(stop)
    if manifest.extra.get("layered"):
        show_layers(lsim, layers, as_json=as_json)
    else:
        show_summary(results, as_json=as_json)
