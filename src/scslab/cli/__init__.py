"""The ``scslab`` command line: Typer commands, Rich output, status 2 for a user's mistake."""

from __future__ import annotations

import math
import os
import sys
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.text import Text

from scslab.errors import ScslabError

if TYPE_CHECKING:  # the engine is imported when a command needs it, not when the CLI starts
    from scslab.engine.scenario import Scenario

app = typer.Typer(
    name="scslab",
    help="scslab: a laboratory for social credit systems, on synthetic populations only.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


def months_bar(label: str, *, as_json: bool, eta: bool = True, unit: str = "months") -> Progress:
    """The progress bar of commands that run months (or ``unit``: seeds, ...): on stderr (and
    gone after) with ``--json``, so that stdout holds the JSON alone. ``label`` may use
    ``{task.description}``."""
    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn(unit)]
    if eta:
        columns.append(TimeRemainingColumn())
    return Progress(*columns, console=err_console if as_json else console, transient=as_json)


def with_flags(scenario: Scenario, updates: dict[str, Any], flags: dict[str, str]) -> Scenario:
    """``scenario`` with the settings given on the command line, validated as a whole.

    ``updates`` maps top-level settings to values (a nested model is revalidated from its data,
    so ``--agents`` meets the population's limits); ``flags`` maps each to the flag that set it
    (``{"seed": "--seed 9223372036854775808"}``). A value the scenario refuses is a one-line
    :class:`ScenarioError` naming the flag: ``--years nan: give a finite number``.
    """
    from pydantic import BaseModel, ValidationError

    from scslab._yaml import clean_loc, describe_error
    from scslab.errors import ScenarioError

    data = scenario.model_dump()
    for key, value in updates.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise ScenarioError(f"{flags.get(key, key)}: give a finite number")
        data[key] = value.model_dump() if isinstance(value, BaseModel) else value
    try:
        return type(scenario).model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = clean_loc(err["loc"])
        flag = flags.get(str(loc[0])) if loc else None
        dotted = ".".join(map(str, loc)) or "the scenario"
        where = f"{flag}: {dotted}" if flag else f"{dotted} (with the options given)"
        raise ScenarioError(f"{where}: {describe_error(err)}") from None


def _register() -> None:
    from scslab.cli import (
        assumptions,
        audit,
        calibrate,
        compare,
        explain,
        export,
        game,
        report,
        resume,
        run,
        schemes,
        serve,
        sweep,
        validate,
    )

    app.add_typer(schemes.app, name="schemes")
    app.command(name="calibrate")(calibrate.calibrate)
    app.command(name="validate")(validate.validate)
    app.command(name="run")(run.run)
    app.command(name="resume")(resume.resume)
    app.command(name="sweep")(sweep.sweep)
    app.command(name="audit")(audit.audit)
    app.command(name="assumptions")(assumptions.assumptions)
    app.command(name="compare")(compare.compare)
    app.command(name="explain")(explain.explain)
    app.command(name="report")(report.report)
    app.command(name="export")(export.export)
    app.command(name="serve")(serve.serve)
    app.command(name="game")(game.game)


def _show_version(value: bool) -> None:
    if value:
        from scslab import __version__

        typer.echo(f"scslab {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="print scslab's version and exit",
            is_eager=True,
            callback=_show_version,
        ),
    ] = False,
) -> None:
    """scslab: a laboratory for social credit systems, on synthetic populations only."""


def _click_errors() -> tuple[type[Exception], ...]:
    """The base class of click's errors in whichever click Typer runs on: the copy it bundles
    (``typer._click``, Typer 0.29 and later) and the separate ``click`` package (earlier Typers)."""
    import importlib

    found: list[type[Exception]] = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            base = importlib.import_module(name).ClickException
        except (ImportError, AttributeError):
            continue
        if isinstance(base, type) and issubclass(base, Exception):
            found.append(base)
    return tuple(found)


def _usage_line(exc: Exception) -> str:
    """A click error as one line: what is wrong, with the option or argument, and where to look.

    E.g. ``invalid value for '--agents': 'abc' is not a valid integer (see: scslab run --help)``.
    """
    format_message = getattr(exc, "format_message", None)
    message = str(format_message() if callable(format_message) else exc)
    message = " ".join(part.strip() for part in message.splitlines() if part.strip())
    if message[:1].isupper() and message[1:2].islower():  # "Invalid value" -> "invalid value"
        message = message[0].lower() + message[1:]
    message = message.removesuffix(".")
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None)
    return f"{message} (see: {command} --help)" if command else message


def _fail(message: str) -> NoReturn:
    """Print ``error: message`` on stderr and exit with status 2."""
    _quiet_stdout()  # a full disk under stdout: no second complaint as Python exits
    err_console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    sys.exit(2)


def _quiet_stdout() -> None:
    """If stdout can no longer be written (a closed pipe, a full disk), point it at /dev/null so
    that Python's last flush does not print a second error."""
    try:
        sys.stdout.flush()
    except OSError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass


def main() -> None:
    """Entry point: a user's mistake is one line on stderr and status 2, never a traceback.

    Besides :class:`ScslabError`, that covers click's usage errors (an unknown option, a value of
    the wrong type, a missing argument), an ``OSError`` that reached this far (a full disk, a
    read-only folder, no permission) and a DuckDB error (a damaged results file).
    """
    _register()
    try:
        code = app(standalone_mode=False)
    except ScslabError as exc:
        _fail(str(exc))
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except BrokenPipeError:  # `scslab ... | head`: the reader has what it wanted
        _quiet_stdout()
        sys.exit(1)
    except OSError as exc:
        from scslab.errors import StorageError

        _fail(str(StorageError.of(exc)))
    except Exception as exc:
        if isinstance(exc, _click_errors()):
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `scslab`: help, as click does
                show = getattr(exc, "show", None)
                if callable(show):
                    show()
                sys.exit(2)
            _fail(_usage_line(exc))
        duckdb = sys.modules.get("duckdb")  # loaded only by commands that open results
        if duckdb is not None and isinstance(exc, duckdb.Error):
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            _fail(f"the results file could not be read or written ({first})")
        raise
    if isinstance(code, int) and code:  # without standalone mode, click returns typer.Exit's code
        sys.exit(code)
