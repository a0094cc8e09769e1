"""A sweep's one DuckDB file: every run with its parameters, and each run's outputs.

Tables (``docs/sweeps.md`` documents every column):

- ``sweep``: one row, the spec and the base scenario;
- ``runs``: one row per design point and replicate, with each parameter as a column, planned as
  ``pending`` and updated when the run finishes;
- ``outputs``: each finished run's summary outputs, one row per run and output;
- ``steps``: the same figures month by month.

A finished run is written in one transaction as soon as its result arrives, so a sweep stopped at
any moment keeps every run that finished; a rerun of the same spec skips them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import yaml

from scslab.errors import ResourceError
from scslab.store.database import open_database
from scslab.sweep.design import Setting, Sweep
from scslab.sweep.task import RunResult

DATABASE = "sweep.duckdb"


def _sql_type(setting: Setting, values: list[Any]) -> str:
    if setting.parameter.range is not None:
        return "BIGINT" if setting.kind == "int" else "DOUBLE"
    if all(isinstance(v, bool) for v in values):
        return "BOOLEAN"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "BIGINT"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "DOUBLE"
    return "VARCHAR"


def _column(values: list[Any], sql: str) -> np.ndarray:
    if sql == "BOOLEAN":
        return np.array(values, bool)
    if sql == "BIGINT":
        return np.array(values, np.int64)
    if sql == "DOUBLE":
        return np.array(values, np.float64)
    return np.array([v if isinstance(v, str) else json.dumps(v) for v in values], dtype=object)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


#: The base tables (and their columns) a sweep's file must hold before anything is read from it.
TABLES = {
    "sweep": ("identity",),
    "runs": ("run", "point", "replicate", "status", "error"),
    "outputs": ("run", "output", "value"),
    "steps": ("run", "step", "output", "value"),
}


def _connect(path: Path, read_only: bool = False, fresh: bool = False) -> duckdb.DuckDBPyConnection:
    """The sweep's file, opened as every shared DuckDB file is (``scslab.store.database``)."""
    return open_database(
        path, {} if fresh else TABLES, read_only=read_only, error=ResourceError, what="sweep file"
    )


def _finished(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("SELECT DISTINCT run FROM runs WHERE status = 'complete'").fetchall()
    return {r[0] for r in rows}


class SweepStore:
    """The sweep's DuckDB file, open for writing; one per sweep, refused for a different spec."""

    def __init__(self, folder: Path, sweep: Sweep) -> None:
        self.check(folder, sweep)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResourceError(
                f"{folder}: cannot create the output folder ({exc.strerror})"
            ) from None
        self.path = folder / DATABASE
        self.sweep = sweep
        fresh = not self.path.exists()
        self.con = _connect(self.path, fresh=fresh)
        if fresh:
            self._create()

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @staticmethod
    def check(folder: Path, sweep: Sweep) -> set[str]:
        """Refuse a folder that cannot hold this sweep (not a folder, or another sweep's);
        return the keys of the runs it already holds complete."""
        if folder.exists() and not folder.is_dir():
            raise ResourceError(f"{folder}: exists and is not a folder")
        path = folder / DATABASE
        if not path.exists():
            return set()
        con = _connect(path, read_only=True)
        try:
            row = con.execute("SELECT identity FROM sweep").fetchone()
            done = _finished(con) if row is not None and row[0] == sweep.identity else set()
        except duckdb.Error:
            row = None
        finally:
            con.close()
        if row is None:
            raise ResourceError(f"{path}: this file is not a sweep's results; choose another --out")
        if row[0] != sweep.identity:
            ours = json.loads(sweep.identity)
            try:
                theirs = json.loads(row[0])
            except (TypeError, ValueError):
                theirs = None
            if isinstance(theirs, dict):
                keys = sorted(set(theirs) | set(ours))
                differ = ", ".join(k for k in keys if theirs.get(k) != ours.get(k))
            else:
                differ = "its identity, which is not a sweep spec"
            raise ResourceError(
                f"{path}: holds the runs of a different sweep (it differs in: {differ}); "
                "a rerun skips finished runs only for the same spec: choose another --out"
            )
        return done

    def _create(self) -> None:
        from scslab import __version__

        sweep, con = self.sweep, self.con
        types = [_sql_type(s, [p[j] for p in sweep.points]) for j, s in enumerate(sweep.settings)]
        params = "".join(
            f", {_quote(s.path)} {t}" for s, t in zip(sweep.settings, types, strict=True)
        )
        con.begin()
        con.execute(
            """CREATE TABLE sweep (identity VARCHAR, spec VARCHAR, base VARCHAR, design VARCHAR,
            parameters VARCHAR[], points INTEGER, replicates INTEGER, version VARCHAR,
            created TIMESTAMPTZ)"""
        )
        con.execute(
            "INSERT INTO sweep VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                sweep.identity,
                yaml.safe_dump(
                    sweep.spec.model_dump(mode="json", exclude_none=True), sort_keys=False
                ),
                sweep.base.to_yaml(),
                sweep.spec.design.kind,
                list(sweep.parameters),
                len(sweep.points),
                sweep.spec.replicates,
                __version__,
                datetime.now(UTC),
            ],
        )
        con.execute(
            f"""CREATE TABLE runs (run VARCHAR, point INTEGER, replicate INTEGER, seed UBIGINT
            {params}, status VARCHAR, seconds DOUBLE, worker VARCHAR, finished TIMESTAMPTZ,
            error VARCHAR, PRIMARY KEY (point, replicate))"""
        )
        con.execute(
            "CREATE TABLE outputs (run VARCHAR, output VARCHAR, value DOUBLE, "
            "PRIMARY KEY (run, output))"
        )
        con.execute(
            "CREATE TABLE steps (run VARCHAR, step INTEGER, output VARCHAR, value DOUBLE, "
            "PRIMARY KEY (run, output, step))"
        )
        runs = sweep.runs
        frame: dict[str, np.ndarray] = {
            "run": np.array([r.key for r in runs], dtype=object),
            "point": np.array([r.point for r in runs], np.int32),
            "replicate": np.array([r.replicate for r in runs], np.int32),
            "seed": np.array([r.seed for r in runs], np.uint64),
        }
        for j, t in enumerate(types):
            frame[f"p{j}"] = _column([sweep.points[r.point][j] for r in runs], t)
        con.register("_planned", frame)
        con.execute("INSERT INTO runs SELECT *, 'pending', NULL, NULL, NULL, NULL FROM _planned")
        con.unregister("_planned")
        con.commit()

    def finished(self) -> set[str]:
        """Keys of the runs already complete."""
        return _finished(self.con)

    def record(self, results: list[RunResult]) -> None:
        """Write finished runs in one transaction: their rows, outputs and months."""
        if not results:
            return
        now = datetime.now(UTC)
        con = self.con
        outputs: dict[str, list[Any]] = {"run": [], "output": [], "value": []}
        steps: dict[str, list[np.ndarray]] = {"run": [], "step": [], "output": [], "value": []}
        for res in results:
            for name, value in res.outputs.items():
                outputs["run"].append(res.key)
                outputs["output"].append(name)
                outputs["value"].append(value)
            for name, series in res.steps.items():
                n = len(series)
                steps["run"].append(np.full(n, res.key, dtype=object))
                steps["step"].append(np.arange(n, dtype=np.int32))
                steps["output"].append(np.full(n, name, dtype=object))
                steps["value"].append(np.asarray(series, np.float64))
        con.begin()
        try:
            con.executemany(
                "UPDATE runs SET status = ?, seconds = ?, worker = ?, finished = ?, error = ? "
                "WHERE run = ?",
                [[r.status, r.seconds, r.worker, now, r.error, r.key] for r in results],
            )
            keys = [r.key for r in results]
            # a run that failed before and is rerun now replaces nothing: failed runs have no rows
            con.execute("DELETE FROM outputs WHERE list_contains(?, run)", [keys])
            con.execute("DELETE FROM steps WHERE list_contains(?, run)", [keys])
            if outputs["run"]:
                con.register(
                    "_outputs",
                    {
                        "run": np.array(outputs["run"], dtype=object),
                        "output": np.array(outputs["output"], dtype=object),
                        "value": np.array(outputs["value"], np.float64),
                    },
                )
                con.execute("INSERT INTO outputs SELECT * FROM _outputs")
                con.unregister("_outputs")
            if steps["run"]:
                con.register("_steps", {k: np.concatenate(v) for k, v in steps.items()})
                con.execute("INSERT INTO steps SELECT * FROM _steps WHERE NOT isnan(value)")
                con.unregister("_steps")
            con.commit()
        except BaseException:
            con.rollback()
            raise

    def point_means(self, outputs: tuple[str, ...]) -> dict[str, np.ndarray]:
        """Each output averaged over a point's complete replicates: an array over points (NaN for
        a point with none)."""
        n = len(self.sweep.points)
        out = {name: np.full(n, np.nan) for name in outputs}
        if not outputs:
            return out
        rows = self.con.execute(
            """SELECT o.output, r.point, avg(o.value) FROM runs r JOIN outputs o ON o.run = r.run
            WHERE r.status = 'complete' AND list_contains(?, o.output) GROUP BY ALL""",
            [list(outputs)],
        ).fetchall()
        for name, point, value in rows:
            out[name][point] = value
        return out

    def counts(self) -> dict[str, int]:
        """Rows of ``runs`` by status."""
        rows = self.con.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall()
        return {status: int(n) for status, n in rows}

    def failures(self, limit: int = 5) -> list[tuple[int, int, str]]:
        """A few failed runs: point, replicate and why."""
        rows = self.con.execute(
            "SELECT point, replicate, error FROM runs WHERE status = 'failed' "
            "ORDER BY point, replicate LIMIT ?",
            [limit],
        ).fetchall()
        return [(int(p), int(r), str(e)) for p, r, e in rows]

    def close(self) -> None:
        self.con.close()
