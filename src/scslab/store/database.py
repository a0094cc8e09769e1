"""Opening a DuckDB file that someone else may have made: its tables, and nothing it could run.

Results and sweep files are what people share, and a DuckDB file can hold more than tables: a
view runs its query whenever it is read (``read_text('~/.ssh/id_rsa')``, a URL), and a macro
replaces a built-in function of the same name (a macro ``max`` changes every ``max()``).
:func:`open_database` is the one way scslab opens such a file. The connection is made with:

- ``enable_external_access = false``: no query reaches a file other than the database itself, or
  the network. ``read_text``, ``read_csv``, ``glob``, ``COPY ... TO``, ``EXPORT DATABASE``,
  ``ATTACH``, URLs and scans of Python variables by name all fail;
- ``autoinstall_known_extensions = false``, ``autoload_known_extensions = false`` and
  ``allow_community_extensions = false``: no extension is downloaded or loaded on demand, and
  ``INSTALL`` and ``LOAD`` fail because they need the file system;
- ``temp_directory = ''``: nothing is spilled to a folder beside the file (which would otherwise
  be the one folder a query could write to);
- ``lock_configuration = true``: no later ``SET`` or ``PRAGMA`` can undo any of this.

Then its catalogue is checked before anything is read: a file holding a view or a macro is
refused, and the tables scslab reads must be base tables with the columns it reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb

from scslab.errors import ScslabError

#: The settings every connection to a shared file is made with (see the module docstring).
LOCKED: dict[str, str | bool | int | float | list[str]] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "temp_directory": "",
    "lock_configuration": True,
}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _quoted(name: str) -> str:
    return repr(name) if not name.isprintable() else f"'{name}'"


def open_database(
    path: Path,
    tables: Mapping[str, Sequence[str]],
    *,
    read_only: bool = True,
    threads: int | None = None,
    error: type[ScslabError] = ScslabError,
    what: str = "results file",
    writable: Sequence[Path] = (),
) -> duckdb.DuckDBPyConnection:
    """Open ``path`` locked down; refuse, with ``error``, a file that is not one of ours.

    ``tables`` names the base tables the file must hold and, for each, the columns that must be
    in it. A file holding any view or macro, or with one of these tables missing or replaced, is
    refused with a one-line message saying so.

    ``writable``: files that ``COPY ... TO`` may write (``scslab export``), and the only ones
    outside the database the connection can reach (DuckDB's ``allowed_paths``, set before
    external access is turned off and the configuration locked).
    """
    config = dict(LOCKED)
    if threads is not None:
        config["threads"] = threads
    if writable:  # allowed_paths can only be set on a running database, before the lock
        del config["enable_external_access"], config["lock_configuration"]
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.Error as exc:
        raise error(
            f"{path}: cannot open the {what} (not a DuckDB file, damaged, or in use: "
            f"{_first_line(exc)})"
        ) from None
    try:
        if writable:
            con.execute("SET allowed_paths = ?", [[str(p) for p in writable]])
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        _check(con, path, tables, what, error)
    except BaseException:
        con.close()
        raise
    return con


def _check(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    tables: Mapping[str, Sequence[str]],
    what: str,
    error: type[ScslabError],
) -> None:
    db = con.execute("SELECT current_database()").fetchall()[0][0]
    views = [
        r[0]
        for r in con.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal AND database_name = ?", [db]
        ).fetchall()
    ]
    macros = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT function_name FROM duckdb_functions() "
            "WHERE NOT internal AND database_name = ?",
            [db],
        ).fetchall()
    ]
    found = [f"view {_quoted(v)}" for v in sorted(views)]
    found += [f"macro {_quoted(m)}" for m in sorted(macros)]
    if found:
        raise error(
            f"{path}: this file holds {', '.join(found[:3])}"
            f"{f' and {len(found) - 3} more' if len(found) > 3 else ''}; scslab reads only the "
            f"tables it writes and will not open a {what} with views or macros, which run queries "
            "or replace functions when read"
        )
    present: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() "
        "WHERE database_name = ? AND schema_name = 'main'",
        [db],
    ).fetchall():
        present.setdefault(table, set()).add(column)
    for table, columns in tables.items():
        if table not in present:
            raise error(
                f"{path}: the table '{table}' is missing; this is not an scslab {what}, or "
                "it is damaged"
            )
        missing = [c for c in columns if c not in present[table]]
        if missing:
            raise error(
                f"{path}: the table '{table}' lacks the column(s) {', '.join(missing)}; this is "
                f"not an scslab {what}, or it is damaged"
            )
