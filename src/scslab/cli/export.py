"""``scslab export RUN``: a run's tables as Parquet or CSV files, one file per table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scslab.cli import console


def export(
    run: Annotated[
        Path,
        typer.Argument(
            help="a run folder or its results.duckdb; a layered run's folder: its layers' tables"
        ),
    ],
    fmt: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
    tables: Annotated[
        list[str] | None,
        typer.Option(
            "--tables", help="the tables to write, comma-separated or repeated (default: all)"
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="the folder to write into (default: RUN/export)")
    ] = None,
) -> None:
    """Write a run's tables as Parquet or CSV files, for pandas, R, Stata and the rest."""
    from scslab.store.export import export as write

    names = [n.strip() for arg in tables or [] for n in arg.split(",") if n.strip()]
    if tables and not names:
        from scslab.errors import ScslabError

        raise ScslabError("--tables: name at least one table")
    for path in write(run, fmt=fmt, tables=names or None, out=out):
        console.print(str(path), soft_wrap=True, highlight=False)
