"""Writing a run to one DuckDB file, atomically.

The file is written beside its final name and renamed into place only when complete, so a file
called ``results.duckdb`` is always a finished run. A run stopped by Ctrl-C is written as
``results.partial.duckdb`` with ``status = 'interrupted'`` in its ``runs`` table.
``docs/results.md`` documents every table and column.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import duckdb
import numpy as np

from scslab.engine.compiled import ALL_CAUSES, EFFECT_POINTS, REVERSAL
from scslab.errors import ResourceError
from scslab.files import check_output, clean_leftovers, replacing
from scslab.population.firms import Firms
from scslab.schemes.model import DOMAINS

if TYPE_CHECKING:
    from scslab.behaviour.model import Catalogue
    from scslab.behaviour.rates import RateTables
    from scslab.engine.compiled import SchemeLayout
    from scslab.engine.scenario import Scenario
    from scslab.engine.simulation import Record
    from scslab.population.individuals import Cells, Population
    from scslab.schemes.model import Consequence, Scheme

RESULTS = "results.duckdb"
PARTIAL = "results.partial.duckdb"
#: Files a run writes; ``--overwrite`` replaces these and nothing else.
RUN_FILES = (RESULTS, PARTIAL, "report.html", "summary.json")
#: Files made from a run's results: removed when new results replace them.
DERIVED = ("report.html", "summary.json")
#: Names whose hidden ``.writing`` files a killed run may leave in its folder.
LEFTOVERS = (*RUN_FILES, "checkpoint")
CAUSES = (*DOMAINS, "none")


class Written(Protocol):
    """What the writer reads of the run it writes, besides its :class:`Record`: the scenario, the
    scheme and acts as run, the cells and the population. An engine
    :class:`~scslab.engine.simulation.Simulation` is one; the store needs nothing else of it."""

    scenario: Scenario
    scheme: Scheme
    catalogue: Catalogue
    also_personal: tuple[str, ...]
    cells: Cells
    layout: SchemeLayout
    rates: RateTables
    #: the population row of the run's row 0 and the household number of its household 0 (a
    #: layer over some regions: its panel names people and households as the population does)
    row_offset: int
    household_offset: int

    @property
    def agents(self) -> int: ...

    @property
    def subjects(self) -> str: ...

    def population(self) -> Population | Firms: ...


def prepare_out(folder: Path, overwrite: bool) -> bool:
    """Make ``folder`` ready for a run, before any work; return whether it was created here.

    A folder that holds anything is refused unless ``overwrite``. Nothing in it is removed: the
    run's files replace the old ones only once complete (:func:`write_results`), so a run that
    fails, is refused or is killed leaves the old results as they were. Leftovers of a killed
    run's writes are removed; a file still being written by another process is refused, as are
    a symbolic link, a folder or a device under one of the names a run writes.
    """
    if folder.is_symlink() and not folder.is_dir():
        raise ResourceError(f"{folder}: is a symbolic link to no folder; give a folder")
    if folder.exists() and not folder.is_dir():
        raise ResourceError(f"{folder}: exists and is not a folder")
    if folder.is_dir():
        busy = clean_leftovers(folder, LEFTOVERS)
        if busy:
            raise ResourceError(
                f"{folder}: another process is writing {busy[0].name} in this folder; wait for "
                "it to finish or choose another --out"
            )
        if not overwrite and any(folder.iterdir()):
            raise ResourceError(
                f"{folder}: the output folder already exists; pass --overwrite to replace the "
                "results in it, or choose another --out"
            )
        for name in RUN_FILES:
            check_output(folder / name)
        return False
    try:
        folder.mkdir(parents=True)
    except OSError as exc:
        raise ResourceError(f"{folder}: cannot create the output folder ({exc.strerror})") from None
    return True


def write_results(folder: Path, sim: Written, record: Record, meta: dict[str, Any]) -> Path:
    """Write every table beside its final name, then rename it into place; return the path.

    A complete run replaces ``results.duckdb`` and removes what described the results before it
    (``report.html``, ``summary.json``, ``results.partial.duckdb``); an interrupted one writes
    ``results.partial.duckdb`` and leaves ``results.duckdb`` alone.
    """
    complete = meta["status"] == "complete"
    final = folder / (RESULTS if complete else PARTIAL)
    with replacing(final, create=False, what="the results") as aside:
        con = duckdb.connect(str(aside.path))
        aside.hold()
        try:
            _write(con, sim, record, meta)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        if complete:  # the old run's report would describe results that are about to go
            for name in DERIVED:
                (folder / name).unlink(missing_ok=True)
    if complete:
        (folder / PARTIAL).unlink(missing_ok=True)
    return final


def _table(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, Any]) -> None:
    con.register("_frame", {k: np.asarray(v) for k, v in columns.items()})
    kinds = {k: np.asarray(v).dtype.kind for k, v in columns.items()}
    casts = ", ".join(
        f'CAST("{k}" AS VARCHAR) AS "{k}"'
        if kinds[k] in "OU"
        else f'CAST("{k}" AS DATE) AS "{k}"'
        if kinds[k] == "M"
        else f'"{k}"'
        for k in columns
    )
    con.execute(f"CREATE TABLE {name} AS SELECT {casts} FROM _frame")
    con.unregister("_frame")


def flow_columns(sim: Written, rec: Record) -> dict[str, np.ndarray]:
    """The ``steps`` columns of list flows and blocked attempts, as int64[steps done, cells]:
    ``entries__<list>``, ``exits__<list>__<reason>`` (expiry, repair, fulfilment, and appeal
    where the scheme has appeals), ``blocked__<act>`` for each act a sanction of the scheme
    blocks, and with appeals ``appeals__<count>`` (:data:`scslab.engine.kernels.APPEAL_COUNTS`)."""
    from scslab.engine.kernels import APPEAL_COUNTS, ENTRY, exit_reasons

    T, layout = rec.done, sim.layout
    out: dict[str, np.ndarray] = {}
    for li, lid in enumerate(layout.lists):
        out[f"entries__{lid}"] = rec.lflow[:T, :, li, ENTRY].astype(np.int64)
        for k, reason in enumerate(exit_reasons(layout.appeals)):
            out[f"exits__{lid}__{reason}"] = rec.lflow[:T, :, li, ENTRY + 1 + k].astype(np.int64)
    for act in layout.blocked:
        v = layout.attempts.index(act)
        out[f"blocked__{act}"] = rec.blocked[:T, :, v].astype(np.int64)
    if layout.appeals:
        for k, name in enumerate(APPEAL_COUNTS):
            out[f"appeals__{name}"] = rec.appeals[:T, :, k].astype(np.int64)
    return out


def points_effects(layout: SchemeLayout) -> list[tuple[int, Consequence]]:
    """The consequences with a ``points:`` effect, each with its group (which holds it alone):
    their ``steps`` columns ``effect_points__<id>`` and panel events (act ``sanction:<id>`` or
    ``reward:<id>``)."""
    return [(q, c) for q, c in layout.consequences if c.points_effect() is not None]


def _write(con: duckdb.DuckDBPyConnection, sim: Written, rec: Record, meta: dict[str, Any]) -> None:
    from scslab import __version__
    from scslab.behaviour.rates import catalogue_text
    from scslab.schemes.loader import dump_scheme

    sc = sim.scenario
    T = rec.done
    levels = sim.cells.levels
    layout = sim.layout
    acts = sim.rates.act_ids

    con.execute(
        """CREATE TABLE runs (scheme VARCHAR, subjects VARCHAR, scenario VARCHAR,
        scheme_yaml VARCHAR, acts_yaml VARCHAR, personal_acts VARCHAR[],
        version VARCHAR, seed UBIGINT, agents BIGINT, steps INTEGER, steps_done INTEGER,
        started TIMESTAMPTZ, finished TIMESTAMPTZ, seconds DOUBLE, status VARCHAR,
        start VARCHAR, with_layers BOOLEAN)"""
    )
    con.execute(
        "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            sim.scheme.id,
            sim.subjects,
            sc.to_yaml(),
            dump_scheme(sim.scheme),
            catalogue_text(sim.catalogue),
            list(sim.also_personal),
            __version__,
            sc.seed,
            sim.agents,
            sc.steps,
            T,
            meta["started"],
            meta["finished"],
            meta["seconds"],
            meta["status"],
            sc.start,
            # one layer of a layered run of several, replayed only with the others
            bool(meta.get("with_layers", False)),
        ],
    )

    # steps: one row per step and cell that has people (or firms)
    traits = sim.cells.traits()
    agents = np.bincount(sim.population().cell, minlength=traits.shape[0])
    moving = rec.agents.shape[0] > 0  # people age or incomes move: counted month by month
    held = rec.agents[:T].any(axis=0) | (agents > 0) if moving else agents > 0
    if moving:  # a count of a cell someone moved into at a month's end (ties cut)
        held = held | (sum(np.abs(v[:T]).sum(axis=0) for v in rec.extra.values()) > 0)
    cells = np.flatnonzero(held)
    step_ix = np.repeat(np.arange(T), len(cells))
    cell_ix = np.tile(cells, T)
    cols: dict[str, Any] = {"step": step_ix.astype(np.int32)}
    # the first day of the step's month; NULL (NaT) without a start
    dates = sc.dates(T)
    cols["date"] = (
        dates[step_ix].astype("datetime64[s]")
        if dates is not None
        else np.full(len(step_ix), np.datetime64("NaT"), "datetime64[s]")
    )
    for k, (trait, names) in enumerate(levels.items()):
        cols[trait] = np.array(names, dtype=object)[traits[cell_ix, k]]
    cols["agents"] = rec.agents[:T, cells].ravel() if moving else agents[cell_ix].astype(np.int64)
    cols["sanctioned"] = rec.anyc[:T, cells, 0].ravel()
    cols["rewarded"] = rec.anyc[:T, cells, 1].ravel()
    # scores are stored in the scheme's units (engine integers / scale: scslab.schemes.units)
    unit = sim.layout.score_units
    cols["mean_score"] = rec.score_sum[:T, cells].ravel() / np.maximum(cols["agents"], 1)
    if unit.scale != 1:
        cols["mean_score"] = cols["mean_score"] / unit.scale
    for g, gid in enumerate(layout.grades):
        cols[f"grade__{gid}"] = rec.grade[:T, cells, g].ravel()
    for li, lid in enumerate(layout.lists):
        cols[f"list__{lid}"] = rec.listed[:T, cells, li].ravel()
    for name, counts in flow_columns(sim, rec).items():
        cols[name] = counts[:, cells].ravel()
    for q, c in points_effects(layout):  # in the scheme's units, as scores are
        cols[f"effect_points__{c.id}"] = unit.units(rec.effect_points[:T, cells, q].ravel())
    s_domains = sorted({c.domain for c in sim.scheme.sanctions}, key=DOMAINS.index)
    r_domains = sorted({c.domain for c in sim.scheme.rewards}, key=DOMAINS.index)
    for d in s_domains:
        cols[f"sanction__{d}"] = rec.dom_s[:T, cells, DOMAINS.index(d)].ravel()
    for d in r_domains:
        cols[f"reward__{d}"] = rec.dom_r[:T, cells, DOMAINS.index(d)].ravel()
    # network-wide, so the same on every row of a step; NULL without a network
    cols["score_assortativity"] = np.repeat(rec.assortativity[:T], len(cells))
    cols["ties_cut"] = np.repeat(rec.ties_cut[:T], len(cells))
    # a firm run's managers, closures and tax rating
    for name, counts in rec.extra.items():
        cols[name] = counts[:T, cells].ravel()
    if "contracts" in rec.extra:  # the share of the cell's contracts kept; NULL without any
        with np.errstate(invalid="ignore", divide="ignore"):
            cols["cooperation"] = cols["contracts_kept"] / cols["contracts"]
    for a, aid in enumerate(acts):
        cols[f"true__{aid}"] = rec.ev_true[:T, cells, a].ravel()
        cols[f"recorded__{aid}"] = rec.ev_rec[:T, cells, a].ravel()
        cols[f"false__{aid}"] = rec.ev_false[:T, cells, a].ravel()
    _table(con, "steps", cols)
    con.execute("UPDATE steps SET score_assortativity = NULL WHERE isnan(score_assortativity)")
    if "cooperation" in cols:
        con.execute("UPDATE steps SET cooperation = NULL WHERE isnan(cooperation)")

    # flows and exposure: list entries and exits, consequence starts and ends, by cause
    items: list[tuple[str, str, str | None, int]] = [
        ("list", lid, None, li) for li, lid in enumerate(layout.lists)
    ]
    L = len(layout.lists)
    for q, c in layout.consequences:
        kind = "sanction" if c in sim.scheme.sanctions else "reward"
        items.append((kind, c.id, c.domain, L + q))
    words = {
        "list": ("list_entry", "list_exit", None),
        "sanction": ("sanction_start", "sanction_end", "sanction"),
        "reward": ("reward_start", "reward_end", "reward"),
    }
    # ways 0 and 1 are flows (entries and exits, starts and ends); way 2 is people under it
    for table, ways, value in (("flows", (0, 1), "count"), ("exposure", (2,), "people")):
        for by_cause in (False, True):
            keys = ["step", "kind", "item", "domain"] + (["cause_domain"] if by_cause else [])
            rows: dict[str, list[Any]] = {
                k: [] for k in [*keys, "false_record", "rights_record", value]
            }
            for kind, item, domain, ix in items:
                for way in ways:
                    if words[kind][way] is None:
                        continue
                    block = rec.flow[:T, way, ix]  # [T, cause slot, false + 2 * rights]
                    block = block[:, : len(CAUSES)] if by_cause else block[:, ALL_CAUSES:]
                    for t, cause, mark in zip(*np.nonzero(block), strict=True):
                        rows["step"].append(int(t))
                        rows["kind"].append(words[kind][way])
                        rows["item"].append(item)
                        rows["domain"].append(domain)
                        if by_cause:
                            rows["cause_domain"].append(CAUSES[cause])
                        rows["false_record"].append(bool(mark & 1))
                        rows["rights_record"].append(bool(mark & 2))
                        rows[value].append(int(block[t, cause, mark]))
            name = f"{table}_by_cause" if by_cause else table
            types = {"step": np.int32, value: np.int64, "false_record": bool, "rights_record": bool}
            _table(con, name, _typed(rows, types))
    # the score distribution: people per equal-width score bin, each month
    # bin b holds the scores s with (s - min) * bins // (max - min + 1) == b; a narrow range
    # leaves some bins empty of scores, and those are not written
    bins = rec.hist.shape[1]
    # (in engine integers; low and high stored in the scheme's units: at resolution 0.1, a bin
    # of 0..9 engine steps holds the scores 0 to 0.9)
    unit = sim.layout.score_units
    lo, hi = unit.engine(sim.scheme.score.min), unit.engine(sim.scheme.score.max)
    first = lo + (np.arange(bins + 1) * (hi - lo + 1) + bins - 1) // bins
    real = np.flatnonzero(first[1:] > first[:-1])
    _table(
        con,
        "score_histogram",
        {
            "step": np.repeat(np.arange(T, dtype=np.int32), len(real)),
            "low": unit.units(np.tile(first[real], T).astype(np.int32)),
            "high": unit.units(np.tile(first[real + 1] - 1, T).astype(np.int32)),
            "people": rec.hist[:T][:, real].ravel().astype(np.int64),
        },
    )
    if rec.cell_flows:
        _write_cell_flows(con, sim, rec)
    _write_panel(con, sim, rec, items)


def _write_cell_flows(con: duckdb.DuckDBPyConnection, sim: Written, rec: Record) -> None:
    """A firm run's flows by cell: who entered and left lists and sanctions, by sector and size."""
    T = rec.done
    layout = sim.layout
    traits = sim.cells.traits()
    levels = sim.cells.levels
    rows: dict[str, list[Any]] = {k: [] for k in ("step", "kind", "item", "domain", "cell", "n")}
    words = ("list_entry", "list_exit")
    for (kind, ix), counts in rec.cell_flows.items():
        members: list[tuple[str, str, str | None]]
        if kind < 2:
            members = [(words[kind], layout.lists[ix], None)]
        else:
            members = [
                (
                    ("sanction" if c in sim.scheme.sanctions else "reward")
                    + ("_start" if kind == 2 else "_end"),
                    c.id,
                    c.domain,
                )
                for c in layout.groups[ix]
            ]
        steps, cells = np.nonzero(counts[:T])
        for word, item, domain in members:
            rows["step"] += steps.tolist()
            rows["kind"] += [word] * len(steps)
            rows["item"] += [item] * len(steps)
            rows["domain"] += [domain] * len(steps)
            rows["cell"] += cells.tolist()
            rows["n"] += counts[steps, cells].tolist()
    cell = np.array(rows.pop("cell"), np.int64)
    n = rows.pop("n")
    cols: dict[str, Any] = _typed(rows, {"step": np.int32})
    for k, (trait, names) in enumerate(levels.items()):
        cols[trait] = np.array(names, dtype=object)[traits[cell, k]]
    cols["firms"] = np.array(n, np.int64)
    _table(con, "firm_flows", cols)


def _spells(marks: np.ndarray) -> list[tuple[int, int | None]]:
    """Spells of one membership: runs of equal non-negative marks (entry or end step).

    Returns ``(first step, first step after)``; the second is ``None`` if still running.
    """
    out: list[tuple[int, int | None]] = []
    T = len(marks)
    t = 0
    while t < T:
        if marks[t] < 0:
            t += 1
            continue
        s = t
        while t + 1 < T and marks[t + 1] == marks[s]:
            t += 1
        out.append((s, t + 1 if t + 1 < T else None))
        t += 1
    return out


def _typed(rows: dict[str, list[Any]], dtypes: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.array(v, dtype=dtypes.get(k, object)) for k, v in rows.items()}


def _write_panel(
    con: duckdb.DuckDBPyConnection,
    sim: Written,
    rec: Record,
    items: list[tuple[str, str, str | None, int]],
) -> None:
    T = rec.done
    people = rec.panel_people
    P = len(people)
    layout = sim.layout
    grades = np.array([*layout.grades, None] if layout.grades else [None], dtype=object)
    pop = sim.population()
    levels = sim.cells.levels
    L = len(layout.lists)

    cols: dict[str, Any] = {
        "step": np.repeat(np.arange(T, dtype=np.int32), P),
        # people as rows of the whole population (a layer's regions begin at its row offset)
        "person": np.tile(people + sim.row_offset, T).astype(np.int64),
    }
    if isinstance(pop, Firms):
        cols["representative"] = np.tile(pop.representative[people], T).astype(np.int64)
    else:
        household = pop.household[people].astype(np.int64) + sim.household_offset
        cols["household"] = np.tile(household, T)
    for k, (trait, column) in enumerate(pop.trait_columns().items()):
        if rec.panel_cell.size:  # income moves: each month's traits are those of its cell
            at = sim.cells.traits()[rec.panel_cell[:T].ravel(), k]
        else:
            at = np.tile(column[people], T)
        cols[trait] = np.array(levels[trait], dtype=object)[at]
    unit = layout.score_units  # scores and points in the scheme's units
    cols["score"] = unit.units(rec.panel_score[:T].ravel().astype(np.int32))
    before = np.concatenate([rec.panel_start[None, :], rec.panel_score[: max(T - 1, 0)]])
    cols["score_before"] = unit.units(before[:T].ravel().astype(np.int32))
    g = rec.panel_grade[:T].ravel()
    cols["grade"] = grades[np.where(g == 255, len(grades) - 1, g)]
    _table(con, "panel", cols)

    # memberships: one row per panel person, list/group and spell
    spells: dict[str, list[Any]] = {
        k: []
        for k in (
            "person",
            "kind",
            "item",
            "domain",
            "start_step",
            "end_step",
            "cause_domains",
            "false_record",
            "rights_record",
        )
    }
    for kind, item, domain, ix in items:
        marks = rec.panel_lists[:T, :, ix] if ix < L else rec.panel_until[:T, :, ix - L]
        causes = rec.panel_lcause[:T, :, ix] if ix < L else rec.panel_cause[:T, :, ix - L]
        for p in range(P):
            for start, stop in _spells(marks[:, p]):
                mask = int(causes[start, p])
                spells["person"].append(int(people[p]) + sim.row_offset)
                spells["kind"].append(kind)
                spells["item"].append(item)
                spells["domain"].append(domain)
                spells["start_step"].append(start)
                spells["end_step"].append(-1 if stop is None else stop)
                spells["cause_domains"].append(
                    ",".join(d for k, d in enumerate(DOMAINS) if mask >> k & 1)
                )
                spells["false_record"].append(bool(mask >> 31 & 1))
                spells["rights_record"].append(bool(mask >> 30 & 1))
    _table(
        con,
        "panel_spells",
        _typed(
            spells,
            {
                "person": np.int64,
                "start_step": np.int32,
                "end_step": np.int32,
                "false_record": bool,
                "rights_record": bool,
            },
        ),
    )
    con.execute("UPDATE panel_spells SET end_step = NULL WHERE end_step = -1")

    events = np.concatenate(rec.panel_events[:T]) if T else np.zeros((0, 7), np.int32)
    # rows with a negative act are rule deductions logged like records: network rule -1 - act,
    # or collective rule -9 - act; or a record reversed on appeal (act REVERSAL, its event); or
    # the points effect of group EFFECT_POINTS - act's consequence starting
    rules = [r.id for r in sim.scheme.network] + [""] * (8 - len(sim.scheme.network))
    rules += [c.id for c in sim.scheme.collective]
    act_ids = np.array(sim.rates.act_ids, dtype=object)
    ev_ids = np.array([e.id for e in sim.scheme.events] + [None], dtype=object)
    acts = events[:, 2]
    by_event = (acts >= 0) | (acts == REVERSAL)
    by_act = acts >= 0
    by_effect = acts <= EFFECT_POINTS
    by_rule = ~by_event & ~by_effect
    names = np.empty(len(events), dtype=object)
    scored = np.empty(len(events), dtype=object)
    names[by_act] = act_ids[acts[by_act]]
    names[acts == REVERSAL] = "appeal"
    scored[by_event] = ev_ids[events[by_event, 6]]
    names[by_rule] = [
        f"{'network' if a > -9 else 'collective'}:{rules[-1 - a]}" for a in acts[by_rule]
    ]
    scored[by_rule] = [rules[-1 - a] for a in acts[by_rule]]
    sanctions = {c.id for c in sim.scheme.sanctions}
    started = {q: c.id for q, c in points_effects(layout)}
    ids = [started[EFFECT_POINTS - a] for a in acts[by_effect]]
    names[by_effect] = [f"{'sanction' if i in sanctions else 'reward'}:{i}" for i in ids]
    scored[by_effect] = ids
    _table(
        con,
        "panel_events",
        {
            "step": events[:, 0],
            "person": events[:, 1].astype(np.int64),
            "act": names,
            "false_record": events[:, 3].astype(bool),
            "recorded": events[:, 4].astype(bool),
            "event": scored,
            "points": unit.units(events[:, 5]),
        },
    )
