"""The ``scslab`` command line: Typer commands, Rich output, status 2 for a user's mistake."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from scslab.errors import ScslabError

app = typer.Typer(
    name="scslab",
    help="scslab: a laboratory for social credit systems, on synthetic populations only.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def months_bar(label: str, *, as_json: bool, eta: bool = True) -> Progress:
    """The progress bar of commands that run months: on stderr (and gone after) with ``--json``,
    so that stdout holds the JSON alone. ``label`` may use ``{task.description}``."""
    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("months")]
    if eta:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=err_console if as_json else console, transient=as_json)


def _register() -> None:
    from scslab.cli import (
        audit,
        calibrate,
        compare,
        explain,
        game,
        report,
        resume,
        run,
        schemes,
        serve,
        sweep,
    )

    app.add_typer(schemes.app, name="schemes")
    app.add_typer(calibrate.app, name="calibrate")
    app.command(name="run")(run.run)
    app.command(name="resume")(resume.resume)
    app.command(name="sweep")(sweep.sweep)
    app.command(name="audit")(audit.audit)
    app.command(name="compare")(compare.compare)
    app.command(name="explain")(explain.explain)
    app.command(name="report")(report.report)
    app.command(name="serve")(serve.serve)
    app.command(name="game")(game.game)


def main() -> None:
    """Entry point: a :class:`ScslabError` is printed without a traceback and exits with 2."""
    _register()
    try:
        code = app(standalone_mode=False)
    except ScslabError as exc:
        err_console.print(Text.assemble(("error: ", "bold red"), str(exc)), soft_wrap=True)
        sys.exit(2)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # click's usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(2)
        raise
    if isinstance(code, int) and code:  # without standalone mode, click returns typer.Exit's code
        sys.exit(code)
