"""A run's tables as Parquet or CSV files, for pandas, R, Stata and the rest.

``export("runs/x", fmt="csv")`` writes one file per table (``steps.csv``, ``panel.csv``, ...) into
``runs/x/export/``; of a layered run's folder, the tables of its layers together (``steps`` and
``flows``, with a ``layer`` column; each layer's own folder exports as any run's). DuckDB's
``COPY`` writes them from the results file, opened as every shared
file is (:func:`scslab.store.database.open_database`: read-only, no views or macros, no network,
settings locked), with the files being written as the only paths it may reach. Each file is
written beside its name and renamed into place once complete (:func:`scslab.files.replacing`):
a failed or interrupted export leaves no half-written file and nothing it would have replaced is
touched.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb

from scslab.errors import ResourceError, ScslabError
from scslab.files import replacing
from scslab.store.database import open_database
from scslab.store.layered import TOGETHER, TOGETHER_TABLES, is_layered
from scslab.store.results import TABLES
from scslab.store.writer import RESULTS

#: Formats and the options DuckDB's COPY writes them with.
FORMATS = {"parquet": "FORMAT parquet", "csv": "FORMAT csv, HEADER"}

#: The folder inside the run folder that exports go to unless told otherwise.
EXPORT_DIR = "export"


def _results_file(run: str | Path) -> tuple[Path, Mapping[str, Sequence[str]]]:
    """The results file of a run folder, and the tables it must hold; of a layered run's
    folder, its layers' tables together (``layers.duckdb``: ``steps`` and ``flows`` with a
    ``layer`` column)."""
    p = Path(run)
    if is_layered(p):
        if not (p / TOGETHER).is_file():
            raise ScslabError(
                f"{p}: a layered run without {TOGETHER} (it was interrupted before its end); "
                f"export one layer's results ({p}/layers/<id>)"
            )
        return p / TOGETHER, TOGETHER_TABLES
    if p.is_dir():
        p = p / RESULTS
    if not p.is_file():
        raise ScslabError(f"{p}: no results file here; run `scslab run --out DIR` first")
    return p, TABLES


def _quoted(text: str, quote: str) -> str:
    return quote + text.replace(quote, quote * 2) + quote


def tables_of(run: str | Path) -> list[str]:
    """The tables in a run's results file, in name order."""
    path, spec = _results_file(run)
    con = open_database(path, spec, threads=1)
    try:
        rows = con.execute(
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = 'main' "
            "ORDER BY table_name"
        ).fetchall()
    finally:
        con.close()
    return [str(r[0]) for r in rows]


def export(
    run: str | Path,
    *,
    fmt: str = "parquet",
    tables: Sequence[str] | None = None,
    out: str | Path | None = None,
) -> list[Path]:
    """Write ``tables`` (default: all) of ``run`` (a run folder or a ``.duckdb`` file) as ``fmt``
    files into ``out`` (default ``RUN/export``, created if missing); return the files written.

    An unknown format or table is a :class:`~scslab.errors.ScslabError`, raised before anything
    is written; existing files of the same names are replaced atomically.
    """
    if fmt not in FORMATS:
        raise ScslabError(f"--format {fmt}: give one of {', '.join(FORMATS)}")
    path, spec = _results_file(run)
    present = tables_of(run)
    wanted = list(dict.fromkeys(tables)) if tables else present
    if not wanted:
        raise ScslabError("--tables: name at least one table")
    unknown = [t for t in wanted if t not in present]
    if unknown:
        raise ScslabError(
            f"--tables {unknown[0]}: no such table in {path}; its tables are {', '.join(present)}"
        )
    folder = Path(out) if out is not None else path.parent / EXPORT_DIR
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ResourceError(f"{folder}: cannot make the export folder ({exc.strerror})") from None
    if not folder.is_dir():
        raise ResourceError(f"{folder}: is not a folder; give a folder for --out")
    finals = [folder / f"{t}.{fmt}" for t in wanted]
    with contextlib.ExitStack() as stack:
        asides = [
            stack.enter_context(replacing(f, create=False, what=f"the {t} table"))
            for f, t in zip(finals, wanted, strict=True)
        ]
        con = open_database(path, spec, threads=1, writable=[a.path for a in asides])
        stack.callback(con.close)
        for table, aside in zip(wanted, asides, strict=True):
            source, target = _quoted(table, '"'), _quoted(str(aside.path), "'")
            try:
                con.execute(f"COPY {source} TO {target} ({FORMATS[fmt]})")
            except duckdb.Error as exc:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ResourceError(
                    f"{aside.final}: cannot write the {table} table ({first})"
                ) from None
            aside.hold()
    return finals
