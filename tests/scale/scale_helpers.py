"""Helpers for the scale tests: compare results files, run the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb

#: Columns that say when and how long a run took: the only ones allowed to differ.
TIMING = ("started", "finished", "seconds")


def tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of a results file, row by row in stored order, without timing columns."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for (name,) in con.execute("SHOW TABLES").fetchall():
            cols = [c[0] for c in con.execute(f"DESCRIBE {name}").fetchall() if c[0] not in TIMING]
            select = ", ".join(f'"{c}"' for c in cols)
            out[name] = con.execute(f"SELECT {select} FROM {name}").fetchall()
        return out
    finally:
        con.close()


def scslab(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scslab", *args], capture_output=True, text=True, timeout=timeout
    )
