"""Helpers that tests in several folders share (``tests/`` is on the path: pyproject's
``pythonpath``): a run's stored tables, read and compared table by table; a run stopped by
Ctrl-C and resumed from its checkpoint; the CLI, run; numba's threads, set for a while."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pytest

if TYPE_CHECKING:
    from scslab.runs import Simulation


@contextmanager
def numba_threads(n: int) -> Iterator[int]:
    """Numba's parallel kernels on ``n`` threads (at most as many as numba started) inside the
    block, which is given the number; the number before, after it."""
    import numba

    before = numba.get_num_threads()
    now = max(1, min(n, numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(now)
    try:
        yield now
    finally:
        numba.set_num_threads(before)


#: Columns that say when and how long a run took: the only ones two equal runs may differ in.
TIMING = ("started", "finished", "seconds")

Tables = dict[str, list[tuple[Any, ...]]]


def tables(results: Any, *, sort: bool = False, runs: str | None = None) -> Tables:
    """Every table of a results file (its path, or an open ``Results``), row by row, without the
    timing columns: in stored order, or sorted (``sort``); ``runs`` keeps only these columns
    of the ``runs`` table (a comma-separated list)."""
    con = (
        duckdb.connect(str(results), read_only=True)
        if isinstance(results, str | Path)
        else results.con
    )
    try:
        out = {}
        for (name,) in con.execute("SHOW TABLES").fetchall():
            cols = [c[0] for c in con.execute(f"DESCRIBE {name}").fetchall() if c[0] not in TIMING]
            select = (
                runs if name == "runs" and runs is not None else ", ".join(f'"{c}"' for c in cols)
            )
            order = " ORDER BY ALL" if sort else ""
            out[name] = con.execute(f"SELECT {select} FROM {name}{order}").fetchall()
        return out
    finally:
        if isinstance(results, str | Path):
            con.close()


def assert_same_tables(got: Tables, expected: Tables, what: str = "") -> None:
    """Two runs' stored tables are the same: the same tables, each with the same rows. A
    difference names ``what`` (which runs), the table, and the first row that differs."""
    where = f"{what}: " if what else ""
    assert sorted(got) == sorted(expected), f"{where}tables {sorted(got)} != {sorted(expected)}"
    for name, rows in expected.items():
        mine = got[name]
        if mine == rows:
            continue
        pairs = zip(mine, rows, strict=False)
        i = next((k for k, (a, b) in enumerate(pairs) if a != b), min(len(mine), len(rows)))
        row, want = (r[i] if i < len(r) else "no row" for r in (mine, rows))
        raise AssertionError(
            f"{where}table {name}: {len(mine)} rows, expected {len(rows)}; "
            f"first difference at row {i}: {row} != {want}"
        )


def stopped(sim: Simulation, folder: Path, *, after: int, every: int) -> Path:
    """``sim`` run into ``folder`` with a checkpoint every ``every`` months and stopped as by
    Ctrl-C after month ``after``: the run's folder, its last checkpoint checked to be there."""
    from scslab.engine.checkpoint import read_manifest
    from scslab.engine.simulation import RunInterrupted
    from scslab.runs import run_checkpointed

    def stop(done: int, total: int) -> None:
        if done == after:
            raise KeyboardInterrupt

    folder = sim.prepare(folder)
    with pytest.raises(RunInterrupted):
        run_checkpointed(sim, folder, every, stop)
    assert read_manifest(folder).step == after // every * every
    return folder


def stopped_and_resumed(sim: Simulation, folder: Path, *, after: int, every: int) -> Tables:
    """The tables of ``sim`` :func:`stopped` after month ``after`` and resumed to its end."""
    from scslab.runs import resume_run
    from scslab.store.writer import RESULTS

    folder = stopped(sim, folder, after=after, every=every)
    resume_run(folder).close()
    return tables(folder / RESULTS)


#: a wide terminal without colour: rich prints tables and messages whole, as plain text
TERMINAL = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


def scslab(
    *args: str | Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m scslab ARGS`` in ``cwd``, with ``env`` added to this process's
    environment and a wide terminal without colour, capturing its text output."""
    return subprocess.run(
        [sys.executable, "-m", "scslab", *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env={**os.environ, **TERMINAL, **(env or {})},
        timeout=timeout,
        check=False,
    )
