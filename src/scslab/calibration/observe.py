"""From a run's monthly counts to the figure each target names, in the target's own unit.

A run's monthly counts are the columns of its ``steps`` table summed over cells
(:func:`scslab.sweep.outputs.step_totals`): ``list__<list>``, ``entries__<list>``,
``exits__<list>__<reason>``, ``blocked__<act>``, ``grade__<grade>``, ``tax__<grade>``,
``sanction__<domain>``. :func:`check_targets` makes sure, before anything runs, that every target
names something the scenario has and a month inside the run; :func:`measure` then reads them.

Units: a ``count`` is ours scaled to the published population (ours × reference / subjects), so
that ours and the published figure stand side by side; a ``share`` is ours over all subjects; a
``ratio`` is the measure over its ``per`` measure.

A list's observables (``stock``, ``entries``, ``exits``) are what was *published* of the list:
ours times the scenario's ``observation.published_share`` (default 1: everything the scheme
listed). The share acts here only, on what a target reads, never on the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scslab.calibration.targets import FLOWS, Measure, Target, TargetsFile, month_number
from scslab.engine.kernels import exit_reasons
from scslab.engine.scenario import Scenario
from scslab.errors import ScenarioError

if TYPE_CHECKING:
    from scslab.engine.simulation import Simulation


def start_month(scenario: Scenario) -> int | None:
    """The scenario's first month (months since year 0), or ``None`` if it has no ``start``."""
    start = getattr(scenario, "start", None)
    return None if start is None else month_number(str(start))


def column(m: Measure) -> str | tuple[str, ...]:
    """The ``steps`` column(s) a measure reads: several (added up) for exits of every reason."""
    if m.observable == "stock":
        return f"list__{m.of}"
    if m.observable == "entries":
        return f"entries__{m.of}"
    if m.observable == "exits":
        if m.reason is None:  # every reason; `appeal` only where the scheme has appeals
            return tuple(f"exits__{m.of}__{r}" for r in exit_reasons(appeals=True))
        return f"exits__{m.of}__{m.reason}"
    if m.observable == "blocked":
        return f"blocked__{m.of}"
    if m.observable == "grade":
        return f"grade__{m.of}"
    if m.observable == "tax":
        return f"tax__{m.of}"
    return f"sanction__{m.of}"


@dataclass(frozen=True)
class Window:
    """Where a target is read in a run: the last month, and the first month of a flow."""

    first: int  # step index, inclusive
    last: int  # step index, inclusive


def _names(sim: Simulation, m: Measure) -> tuple[str, list[str]]:
    """What kind of thing ``m.of`` is, and the names of that kind the scenario has."""
    from scslab.schemes.model import DOMAINS

    layout = sim.layout
    if m.observable in ("stock", "entries", "exits"):
        return "list", list(layout.lists)
    if m.observable == "blocked":
        return "act", list(sim.rates.act_ids)
    if m.observable == "grade":
        return "grade", list(layout.grades)
    if m.observable == "tax":
        return "tax rating", list(getattr(layout, "tax_grades", ()))
    domains = {c.domain for c in sim.scheme.sanctions}
    return "life domain with a sanction", [d for d in DOMAINS if d in domains]


def check_targets(file: TargetsFile, scenario: Scenario, sim: Simulation) -> dict[str, Window]:
    """Check every target against the scenario (its scheme, acts and months); return where each
    target is read. A problem is a :class:`ScenarioError` located in the targets file."""
    from difflib import get_close_matches

    start = start_month(scenario)
    steps = scenario.steps
    windows: dict[str, Window] = {}
    for k, t in enumerate(file.targets.targets):
        for loc, m in (((), t), (("per",), t.per)):
            if m is None:
                continue
            kind, names = _names(sim, m)
            if m.of not in names:
                near = get_close_matches(m.of, names, n=1)
                hint = f"did you mean '{near[0]}'? " if near else ""
                have = ", ".join(names) if names else "none"
                raise ScenarioError(
                    f"{file.where_target(k, *loc, 'of')}: targets.{k}.{'.'.join((*loc, 'of'))}: "
                    f"scheme '{sim.scheme.id}' has no {kind} '{m.of}'; {hint}"
                    f"it has: {have}"
                )
            if m.observable == "tax" and sim.subjects != "firms":
                raise ScenarioError(
                    f"{file.where_target(k, *loc, 'observable')}: targets.{k}: tax ratings are "
                    f"of firms; scheme '{sim.scheme.id}' scores people"
                )
        if start is None:
            raise ScenarioError(
                f"{file.where_target(k, 'date')}: targets.{k}.date: the scenario has no "
                "`start: YYYY-MM`, so its months have no dates; give it one"
            )
        last = month_number(t.date) - start
        if not 0 <= last < steps:
            from scslab.calibration.targets import month_text

            raise ScenarioError(
                f"{file.where_target(k, 'date')}: targets.{k}.date: {t.date} is outside the run "
                f"({month_text(start)} to {month_text(start + steps - 1)})"
            )
        first = 0
        for loc, m in (((), t), (("per",), t.per)):
            if m is not None and m.since is not None:
                s = month_number(m.since) - start
                if s < 0:
                    raise ScenarioError(
                        f"{file.where_target(k, *loc, 'since')}: targets.{k}.since: {m.since} "
                        f"is before the run starts ({month_text(start)})"
                    )
                if loc == ():
                    first = s
        windows[t.id] = Window(first, last)
    return windows


#: The observables of a list: what ``observation.published_share`` scales.
PUBLISHED = ("stock", "entries", "exits")


def _recorded(names: str | tuple[str, ...], columns: dict[str, np.ndarray]) -> tuple[str, ...]:
    """The columns to add up: all of several exit reasons but appeal exits, which a run records
    only when its scheme has appeals (a scheme without them has none to add)."""
    if isinstance(names, str):
        return (names,)
    return tuple(n for n in names if n in columns or not n.endswith("__appeal"))


def published(m: Measure, share: float) -> float:
    """The factor a measure's figure is taken at: ``share`` for a list's observables, else 1."""
    return share if m.observable in PUBLISHED else 1.0


def _read(
    columns: dict[str, np.ndarray], m: Measure, w: Window, start: int, share: float = 1.0
) -> float:
    names = _recorded(column(m), columns)
    missing = [n for n in names if n not in columns]
    if missing:
        raise ScenarioError(
            f"observable {m.observable} of '{m.of}': this run records no `{missing[0]}`; "
            "this version of the engine does not count it"
        )
    series = sum(np.asarray(columns[n], np.float64) for n in names)
    assert isinstance(series, np.ndarray)
    if m.observable in FLOWS:
        first = w.first if m.since is None else month_number(m.since) - start
        return float(series[first : w.last + 1].sum()) * published(m, share)
    return float(series[w.last]) * published(m, share)


def measure(
    file: TargetsFile,
    windows: dict[str, Window],
    columns: dict[str, np.ndarray],
    subjects: int,
    start: int,
    share: float = 1.0,
) -> dict[str, float]:
    """Each target's figure in one run, in the target's unit (see the module docstring); a
    list's observables at the published ``share`` of ours."""
    out: dict[str, float] = {}
    for t in file.targets.targets:
        w = windows[t.id]
        ours = _read(columns, t, w, start, share)
        if t.unit == "count":
            ref = file.targets.reference(t)
            assert ref is not None
            out[t.id] = ours * ref / subjects
        elif t.unit == "share":
            out[t.id] = ours / subjects
        else:
            assert t.per is not None
            below = _read(columns, t.per, w, start, share)
            out[t.id] = ours / below if below else float("nan")
    return out


def trajectory(
    file: TargetsFile,
    target: Target,
    columns: dict[str, np.ndarray],
    subjects: int,
    share: float = 1.0,
) -> np.ndarray:
    """The target's observable month by month over the whole run, in the target's unit (flows
    summed from the first month; a list's at the published ``share``); for the plots. Ratios
    are left out (NaN)."""
    names = _recorded(column(target), columns)
    if any(n not in columns for n in names) or target.unit == "ratio":
        steps = len(next(iter(columns.values()))) if columns else 0
        return np.full(steps, np.nan)
    series = sum(np.asarray(columns[n], np.float64) for n in names)
    assert isinstance(series, np.ndarray)
    if target.observable in FLOWS:
        series = np.cumsum(series)
    series = series * published(target, share)
    if target.unit == "count":
        ref = file.targets.reference(target)
        assert ref is not None
        return series * ref / subjects
    return series / subjects
