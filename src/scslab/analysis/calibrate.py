"""Fitting the firm population to the published tax-credit distribution.

The State Taxation Administration rated 25.69 M taxpayers for 2018: 4.89 % A and 7.01 % D
(docs/sources.md#tax-ratings). The firm act catalogue gives only the *shape* of what firms do
(which acts are common, in which sectors and sizes); two scales set the level:
``violation_scale`` multiplies every unlawful act's rate and ``award_scale`` every lawful one's.
:func:`calibrate_firms` finds the pair for which a run of ``months`` months ends with the target
shares of A and D ratings among all firms (the STA's shares are of every rated taxpayer, so M
counts in the denominator).

D responds mostly to violations and A to awards (violations also pull firms out of A), so the
fit alternates two one-dimensional root searches, each bracketed by doubling and closed by
bisection in log scale, until both shares are within ``tolerance``. Every evaluation reruns the
same seed on the same people, so the shares are a deterministic function of the two scales.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from scslab.engine.scenario import Scenario
from scslab.errors import ScenarioError
from scslab.population.firms import FirmSpec
from scslab.population.individuals import Population

#: STA ratings for 2018 (docs/sources.md#tax-ratings).
STA_2018 = {"A": 0.0489, "D": 0.0701}
#: The range the scales are searched in (``FirmSpec`` allows up to 100).
SCALES = (1e-3, 100.0)


@dataclass
class Fit:
    """The fitted scales, the shares they give, and every evaluation made on the way."""

    violation_scale: float
    award_scale: float
    shares: dict[str, float]
    targets: dict[str, float]
    converged: bool
    evaluations: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "violation_scale": self.violation_scale,
            "award_scale": self.award_scale,
            "shares": self.shares,
            "targets": self.targets,
            "converged": self.converged,
            "evaluations": len(self.evaluations),
        }


def tax_shares(
    scenario: Scenario, months: int, people: Population | None = None
) -> dict[str, float]:
    """Shares of each tax rating among all firms after ``months`` months of ``scenario``."""
    from scslab.engine.simulation import Simulation

    sim = Simulation(scenario.model_copy(update={"years": months / 12}), population=people)
    record, _ = sim.execute()
    layout = sim.layout
    counts = {g: int(record.extra[f"tax__{g}"][months - 1].sum()) for g in layout.tax_grades}
    total = sum(counts.values())
    return {g: n / total for g, n in counts.items()}


def calibrate_firms(
    scenario: Scenario,
    targets: dict[str, float] | None = None,
    *,
    months: int = 12,
    tolerance: float = 0.0005,
    max_evaluations: int = 120,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> Fit:
    """Fit ``firms.violation_scale`` and ``firms.award_scale`` to the A and D ``targets``.

    ``scenario`` must name a firm scheme with a tax rating (``corporate-scs``); its current
    scales are the starting point. ``progress`` is called after every evaluation.
    """
    from scslab.engine.simulation import Simulation
    from scslab.schemes.loader import load_scheme

    targets = dict(STA_2018 if targets is None else targets)
    scheme = load_scheme(scenario.scheme)
    if scheme.subject != "enterprises" or scheme.tax_rating is None:
        raise ScenarioError(
            f"scheme '{scheme.id}' has no tax rating of firms to calibrate; use corporate-scs"
        )
    grades = {g.id for g in scheme.tax_rating.grades}
    for g, share in targets.items():
        if g not in grades:
            known = ", ".join(sorted(grades))
            raise ScenarioError(f"target {g}: the tax rating has grades {known}")
        if not 0 < share < 1:
            raise ScenarioError(f"target {g} = {share:g}: give a share between 0 and 1")
    if set(targets) != {"A", "D"}:
        raise ScenarioError("give targets for A (the top rating) and D (the bottom one)")
    if months < 1:
        raise ScenarioError(f"months {months}: give at least one month")

    spec = scenario.firms if scenario.firms is not None else FirmSpec()
    people = Simulation(scenario.model_copy(update={"firms": spec})).people
    assert people is not None
    population = people.population()
    assert isinstance(population, Population)
    fit = Fit(spec.violation_scale, spec.award_scale, {}, targets, False)

    seen: dict[tuple[float, float], dict[str, float]] = {}

    def shares(violation: float, award: float) -> dict[str, float]:
        if (violation, award) in seen:
            return seen[violation, award]
        if len(fit.evaluations) >= max_evaluations:
            raise _Exhausted
        firms = spec.model_copy(update={"violation_scale": violation, "award_scale": award})
        out = tax_shares(scenario.model_copy(update={"firms": firms}), months, population)
        seen[violation, award] = out
        row = {"violation_scale": violation, "award_scale": award, **out}
        fit.evaluations.append(row)
        if progress is not None:
            progress(row)
        return out

    def solve(f: Callable[[float], float], x: float) -> float:
        """A root of increasing ``f`` near ``x > 0``: bracket by doubling, then bisect."""
        a, fa = x, f(x)
        if abs(fa) <= tolerance:
            return x
        factor = 2.0 if fa < 0 else 0.5  # below the target: raise the scale
        while True:
            b = a * factor
            if not SCALES[0] <= b <= SCALES[1]:
                return a  # the target lies beyond the scales allowed; the nearest one
            fb = f(b)
            if abs(fb) <= tolerance:
                return b
            if (fb > 0) != (fa > 0):
                break
            a, fa = b, fb
        lo, hi = (a, b) if a < b else (b, a)  # f(lo) < 0 < f(hi)
        for _ in range(30):
            mid = math.sqrt(lo * hi)
            fm = f(mid)
            if abs(fm) <= tolerance:
                return mid
            lo, hi = (mid, hi) if fm < 0 else (lo, mid)
        return math.sqrt(lo * hi)

    v, a = fit.violation_scale, fit.award_scale
    try:
        for _ in range(8):
            v = solve(partial(_gap, shares, "D", targets["D"], award=a), v)
            a = solve(partial(_gap, shares, "A", targets["A"], violation=v), a)
            got = shares(v, a)
            fit.violation_scale, fit.award_scale, fit.shares = v, a, got
            if all(abs(got[g] - targets[g]) <= tolerance for g in targets):
                fit.converged = True
                break
    except _Exhausted:
        pass
    if not fit.shares and fit.evaluations:
        last = fit.evaluations[-1]
        fit.shares = {g: last[g] for g in last if g not in ("violation_scale", "award_scale")}
    return fit


def _gap(
    shares: Callable[[float, float], dict[str, float]],
    grade: str,
    target: float,
    x: float,
    *,
    violation: float | None = None,
    award: float | None = None,
) -> float:
    """How far ``grade``'s share lies above ``target`` when the free scale is ``x``."""
    v = x if violation is None else violation
    a = x if award is None else award
    return shares(v, a)[grade] - target


class _Exhausted(Exception):
    """The evaluation budget ran out."""
