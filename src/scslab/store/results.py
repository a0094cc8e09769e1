"""Reading a run back: :class:`Results` answers questions with DuckDB relations.

Each method returns a ``duckdb.DuckDBPyRelation``: it prints as a table, displays in Jupyter, and
converts with ``.pl()`` (Polars), ``.df()`` (pandas) or ``.fetchall()``.

>>> r = Results("runs/default/results.duckdb")
>>> r.grades(by="hukou")          # share of each grade per step and hukou
>>> r.sql("SELECT max(step) FROM steps")
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb

from scslab.errors import ScslabError
from scslab.store.database import open_database
from scslab.store.writer import RESULTS

#: The traits results can be grouped by: people's, then firms'.
GROUPS = ("region", "hukou", "age", "income", "sector", "size", "conduct")

#: The base tables (and their columns) a results file must hold before anything is read from it.
TABLES = {
    "runs": ("scheme", "subjects", "agents", "steps", "steps_done", "seconds", "status"),
    "steps": ("step", "agents"),
}


def _ident(name: str) -> str:
    """A column name from the file as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _text(value: str) -> str:
    """A string from the file as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


class Results:
    """One run's results file, opened read-only and locked down (``scslab.store.database``):
    a file holding views or macros is refused, and queries reach only its tables."""

    def __init__(self, path: str | Path) -> None:
        p = Path(path)
        if p.is_dir():
            p = p / RESULTS
        if not p.is_file() and (p.parent / "layers.json").is_file():  # scslab.engine.layers
            ids = sorted(q.name for q in (p.parent / "layers").iterdir() if q.is_dir())
            raise ScslabError(
                f"{p.parent}: a layered run, with results per layer; give one of "
                + ", ".join(str(p.parent / "layers" / i) for i in ids)
            )
        if not p.is_file():
            raise ScslabError(f"{p}: no results file here; run `scslab run --out DIR` first")
        self.path = p
        self.con = open_database(p, TABLES, threads=1)
        self._columns = [row[0] for row in self.con.execute("DESCRIBE steps").fetchall()]

    def __repr__(self) -> str:
        run = self.run()
        return (
            f"Results({str(self.path)!r}: scheme {run['scheme']}, {run['agents']:,} agents, "
            f"{run['steps_done']} of {run['steps']} steps, {run['status']})"
        )

    @property
    def columns(self) -> list[str]:
        """The columns of the ``steps`` table."""
        return list(self._columns)

    @property
    def groups(self) -> tuple[str, ...]:
        """The traits this run's rows can be grouped by (people's or firms')."""
        return tuple(g for g in GROUPS if g in self._columns)

    def _repr_html_(self) -> str:
        """A summary table for Jupyter: the run, then the final state."""
        from html import escape

        s = self.summary()
        agents = s["agents"]
        rows = [
            ("scheme", s["scheme"]),
            (s["subjects"], f"{agents:,}"),
            ("months", str(s["steps"])),
            ("status", s["status"]),
        ]
        rows += [(f"grade {g}", f"{share:.2%}") for g, share in s["grades"].items()]
        rows += [(f"list {k}", f"{n:,} ({n / agents:.2%})") for k, n in s["lists"].items()]
        rows += [(f"sanction: {k}", f"{n:,} ({n / agents:.2%})") for k, n in s["sanctions"].items()]
        rows += [(f"reward: {k}", f"{n:,} ({n / agents:.2%})") for k, n in s["rewards"].items()]
        ev = s["events"]
        rows.append(
            (
                "true acts / records / false",
                f"{ev['true']:,} / {ev['recorded']:,} / {ev['false']:,}",
            )
        )
        body = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(v)}</td></tr>"
            for k, v in rows
        )
        return f"<table><caption>{escape(str(self.path))}</caption>{body}</table>"

    def sql(self, query: str) -> duckdb.DuckDBPyRelation:
        """Any SQL over the run's tables (see docs/results.md).

        A query reaches the tables of this one file and nothing else: no other file (no
        ``read_csv``, ``read_text``, ``COPY ... TO``, ``EXPORT DATABASE`` or ``ATTACH``), no URL,
        no extension (nothing is installed or loaded, ``INSTALL`` and ``LOAD`` fail), and no
        Python variable by name; ``SET`` cannot change this. Those fail with a
        ``duckdb.PermissionException`` or ``duckdb.InvalidInputException``. To write a table
        out, fetch it (``.df()``, ``.pl()``) and write that.
        """
        return self.con.sql(query)

    def run(self) -> dict[str, Any]:
        """The ``runs`` row as a dict."""
        cur = self.con.execute("SELECT * FROM runs")
        names = [d[0] for d in cur.description]
        row = cur.fetchall()[0]
        assert row is not None
        return dict(zip(names, row, strict=True))

    def _prefixed(self, prefix: str) -> list[str]:
        return [c for c in self._columns if c.startswith(prefix)]

    def _by(self, by: str | None) -> tuple[str, str]:
        if by is None:
            return "", ""
        if by not in self.groups:
            raise ScslabError(f"by={by!r}: group by one of {', '.join(self.groups)}")
        return f", {by}", f", {by}"

    def grades(self, by: str | None = None) -> duckdb.DuckDBPyRelation:
        """Share of people in each grade, per step (and group)."""
        return self._shares("grade__", "grade", by)

    def lists(self, by: str | None = None) -> duckdb.DuckDBPyRelation:
        """People on each list, and their share, per step (and group)."""
        return self._shares("list__", "list", by)

    def sanctions(self, by: str | None = None) -> duckdb.DuckDBPyRelation:
        """People under a sanction in each life domain, per step (and group)."""
        return self._shares("sanction__", "domain", by)

    def rewards(self, by: str | None = None) -> duckdb.DuckDBPyRelation:
        """People with a reward in each life domain, per step (and group)."""
        return self._shares("reward__", "domain", by)

    def _shares(self, prefix: str, name: str, by: str | None) -> duckdb.DuckDBPyRelation:
        cols = self._prefixed(prefix)
        sel, grp = self._by(by)
        if not cols:
            group = f", NULL::VARCHAR AS {by}" if by else ""
            return self.con.sql(
                f"SELECT NULL::INTEGER AS step{group}, NULL::VARCHAR AS {name}, "
                "NULL::BIGINT AS people, NULL::BIGINT AS agents, NULL::DOUBLE AS share LIMIT 0"
            )
        parts = " UNION ALL ".join(
            f"SELECT step{sel}, {_text(c[len(prefix) :])} AS {name}, "
            f"sum({_ident(c)})::BIGINT AS people, "
            f"sum(agents)::BIGINT AS agents FROM steps GROUP BY step{grp}"
            for c in cols
        )
        return self.con.sql(
            f"SELECT *, people / agents AS share FROM ({parts}) ORDER BY step{grp}, {name}"
        )

    def events(self, by: str | None = None) -> duckdb.DuckDBPyRelation:
        """True acts, records and false records per act, summed over the run (and group)."""
        acts = [c[len("true__") :] for c in self._prefixed("true__")]
        sel, grp = self._by(by)
        parts = " UNION ALL ".join(
            f"SELECT {_text(a)} AS act{sel}, sum({_ident('true__' + a)})::BIGINT AS true, "
            f"sum({_ident('recorded__' + a)})::BIGINT AS recorded, "
            f"sum({_ident('false__' + a)})::BIGINT AS false "
            "FROM steps" + (f" GROUP BY {by}" if by else "")
            for a in acts
        )
        return self.con.sql(f"SELECT * FROM ({parts}) ORDER BY act{grp}")

    def summary(self) -> dict[str, Any]:
        """Final grade shares, list sizes, sanctions and rewards by domain, and event totals."""
        run = self.run()
        counted = [
            c
            for c in self._columns
            if c.startswith(SUMMED) or c in FIRM_COUNTS or c in CONTRACT_COUNTS
        ]
        final: dict[str, int] = {}
        totals: dict[str, float] = {}
        last = self.con.execute("SELECT max(step) FROM steps").fetchall()[0][0]
        if counted and last is not None:
            sums = ", ".join(
                f"sum({_ident(c)}) FILTER (WHERE step = $last), sum({_ident(c)})" for c in counted
            )
            row = self.con.execute(f"SELECT {sums} FROM steps", {"last": last}).fetchall()[0]
            final = {c: int(row[2 * k] or 0) for k, c in enumerate(counted)}
            # points are in the scheme's units: fractions where it sets a finer resolution
            totals = {
                c: _count(row[2 * k + 1] or 0, c.startswith("effect_points__"))
                for k, c in enumerate(counted)
            }
        assortativity: list[float | None] = []
        ties: list[int] = []
        if "score_assortativity" in self._columns:
            rows = self.con.execute(
                "SELECT step, any_value(score_assortativity), any_value(ties_cut) FROM steps "
                "GROUP BY step ORDER BY step"
            ).fetchall()
            assortativity = [r[1] for r in rows]
            ties = [int(r[2]) for r in rows]
        agents = int(run["agents"])
        return {
            "scheme": run["scheme"],
            "subjects": run["subjects"],
            "agents": agents,
            "steps": int(run["steps_done"]),
            "status": run["status"],
            "seconds": round(float(run["seconds"]), 3),
            "start": run.get("start"),
            **summarize(agents, run["subjects"], final, totals, assortativity, ties),
            "path": str(self.path),
        }

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Results:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: The ``steps`` columns a summary adds up: counts named by these prefixes, and a firm run's own.
SUMMED = (
    "grade__",
    "list__",
    "sanction__",
    "reward__",
    "tax__",
    "true__",
    "recorded__",
    "false__",
    "entries__",
    "exits__",
    "blocked__",
    "appeals__",
    "effect_points__",
)
#: What each ``appeals__`` count of a scheme with appeals is, in words (summaries and reports).
APPEAL_WORDS = {
    "lodged": "lodged",
    "won_false": "won against a false record",
    "won_true": "won against a true record",
    "lost_false": "lost against a false record",
    "lost_true": "lost against a true record",
    "corrected_false": "wrongful listings corrected",
    "months_false": "months they had lasted",
    "corrected_true": "listings of true records removed",
    "months_true": "months those had lasted",
    "consequences_ended": "sanctions and rewards ended with a listing",
}
FIRM_COUNTS = ("closed", "managers_listed", "representatives_restricted")
#: The contract game's counts (``scslab.engine.contracts``).
CONTRACT_COUNTS = ("contracts", "contracts_kept", "contracts_kept_without_scheme")


def _count(v: Any, points: bool) -> float:
    """A summed ``steps`` column as a Python number: a count (an int), or points, which keep
    their fraction in a scheme with a finer resolution."""
    return float(v) if points and not float(v).is_integer() else int(v)


def summarize(
    agents: int,
    subjects: str,
    final: dict[str, int],
    totals: Mapping[str, float],
    assortativity: list[float | None],
    ties_cut: list[int],
) -> dict[str, Any]:
    """The figures of a run's summary from the ``steps`` table's count columns.

    ``final`` maps each count column (:data:`SUMMED`, :data:`FIRM_COUNTS`) to its sum over the
    last step, ``totals`` to its sum over the run; ``assortativity`` and ``ties_cut`` are the
    network's, month by month. :meth:`Results.summary` reads them from the file; a sweep sums them
    from a run held in memory (``scslab.sweep.outputs``).
    """

    def at_end(prefix: str) -> dict[str, int]:
        return {c[len(prefix) :]: int(v) for c, v in final.items() if c.startswith(prefix)}

    def each_over_run(prefix: str) -> dict[str, int]:
        return {c[len(prefix) :]: int(v) for c, v in totals.items() if c.startswith(prefix)}

    exits: dict[str, dict[str, int]] = {}
    for name, n in each_over_run("exits__").items():
        list_id, reason = name.rsplit("__", 1)
        exits.setdefault(list_id, {})[reason] = n

    def over_run(prefix: str) -> int:
        return sum(int(v) for c, v in totals.items() if c.startswith(prefix))

    network = None
    if assortativity and assortativity[0] is not None:
        network = {
            "assortativity_first": assortativity[0],
            "assortativity_last": assortativity[-1],
            "ties_cut": int(sum(ties_cut)),
        }
    tax_grades = firms = None
    if subjects == "firms":
        tax_grades = {g: round(n / agents, 6) for g, n in at_end("tax__").items()}
        firms = {
            "closed": int(totals.get("closed", 0)),
            "managers_listed": int(final.get("managers_listed", 0)),
            "representatives_restricted": int(final.get("representatives_restricted", 0)),
        }
    contracts = None
    if totals.get("contracts"):
        made = int(totals["contracts"])
        contracts = {
            "contracts": made,
            "kept": round(totals["contracts_kept"] / made, 6),
            "kept_without_scheme": round(totals["contracts_kept_without_scheme"] / made, 6),
        }
    return {
        "grades": {g: round(n / agents, 6) for g, n in at_end("grade__").items()},
        "lists": at_end("list__"),
        "list_entries": each_over_run("entries__"),
        "list_exits": exits,
        "blocked": each_over_run("blocked__"),
        "sanctions": at_end("sanction__"),
        "rewards": at_end("reward__"),
        "events": {e: over_run(f"{e}__") for e in ("true", "recorded", "false")},
        "network": network,
        "tax_grades": tax_grades,
        "firms": firms,
        "contracts": contracts,
        # a scheme with appeals: lodged, won and lost by record, listings corrected (over the run)
        "appeals": each_over_run("appeals__") or None,
        # consequences' points effects: the points each moved scores by over the run
        "effect_points": {
            c[len("effect_points__") :]: int(v) if float(v).is_integer() else round(float(v), 6)
            for c, v in totals.items()
            if c.startswith("effect_points__")
        }
        or None,
    }
