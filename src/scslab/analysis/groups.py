"""Group comparisons a statistician would sign: risk ratios and differences, with intervals.

For an adverse outcome (ever sanctioned, ever listed, ...) and a grouping of people (by hukou, by
income band, by hukou × income band), each group is compared with a *reference group*: the
largest group. :func:`compare_counts` gives, per group, its people and those affected, the rate,
the risk ratio and the risk difference against the reference, and two intervals:

- within the run: the 95 % Katz log interval of the risk ratio
  (``scipy.stats.contingency.relative_risk(...).confidence_interval()``), which treats the run's
  people as a sample of the scenario's;
- across replicates (runs of the same scenario with seeds ``seed .. seed + K - 1``): the 95 %
  Student t interval (``scipy.stats.t``) of the mean log risk ratio and of the mean risk
  difference, which also holds the scheme's own randomness.

A group is *too small* for an interval when it or the reference has no one affected, or when fewer
than :data:`MIN_EXPECTED` people would be affected in it at the pooled rate; then the row says
``"too small"`` and carries no interval and no four-fifths flag. No figure is ever NaN: what cannot
be computed is ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats
from scipy.stats.contingency import relative_risk

from scslab.errors import ScslabError

#: fewer people than this affected in a group at the pooled rate: no interval ("too small")
MIN_EXPECTED = 5.0
FOUR_FIFTHS = 0.8
LEVEL = 0.95


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def compare_counts(
    names: Sequence[str],
    people: Sequence[int],
    affected: Sequence[int],
    replicates: Sequence[tuple[Sequence[int], Sequence[int]]] = (),
    *,
    favourable: bool = False,
) -> dict[str, Any]:
    """Each group against the largest: counts, rate, risk ratio and difference, intervals.

    ``people[g]`` and ``affected[g]`` are group ``g``'s counts in the run; ``replicates`` holds
    the same counts in each further run of the scenario (the run itself counts as one). The
    reference is the group with the most people (the first on a tie). ``favourable``: the
    outcome is a good one (a reward), so the four-fifths rule compares the affected rate itself
    rather than the share not affected.
    """
    n = np.asarray(people, np.int64)
    a = np.asarray(affected, np.int64)
    if len(n) == 0 or n.max() == 0:
        raise ScslabError("no group has anyone in it: nothing to compare")
    ref = int(np.argmax(n))
    runs = [(n, a)] + [(np.asarray(p, np.int64), np.asarray(x, np.int64)) for p, x in replicates]
    pooled = a.sum() / n.sum()
    rates = np.divide(a, n, out=np.zeros(len(n)), where=n > 0)
    fav = rates if favourable else 1 - rates
    best = max(float(fav[g]) for g in range(len(n)) if n[g] > 0)
    rows = []
    for g, name in enumerate(names):
        row: dict[str, Any] = {
            "group": name,
            "people": int(n[g]),
            "affected": int(a[g]),
            "rate": float(rates[g]) if n[g] else None,
            "reference": g == ref,
            "risk_ratio": None,
            "interval": None,
            "risk_difference": None,
            "replicate_interval": None,
            "replicate_difference_interval": None,
            "note": None,
        }
        if n[g] == 0:
            row["note"] = "too small: nobody in this group"
            row["four_fifths"] = {"ratio": None, "flag": None}
            rows.append(row)
            continue
        row["risk_difference"] = float(rates[g] - rates[ref])
        if a[ref] > 0:
            row["risk_ratio"] = float(rates[g] / rates[ref])
        small = a[g] == 0 or a[ref] == 0 or n[g] * pooled < MIN_EXPECTED
        ratio = float(fav[g] / best) if best > 0 else 1.0
        if g == ref:  # the four-fifths rule compares with the most favoured group, not this one
            row["four_fifths"] = {"ratio": ratio, "flag": ratio < FOUR_FIFTHS}
            rows.append(row)
            continue
        if small:
            why = (
                "no one affected in the reference group"
                if a[ref] == 0
                else "no one affected in this group"
                if a[g] == 0
                else f"fewer than {MIN_EXPECTED:g} affected expected at the pooled rate"
            )
            row["note"] = f"too small: {why}"
            row["four_fifths"] = {"ratio": ratio, "flag": None}
        else:
            ci = relative_risk(int(a[g]), int(n[g]), int(a[ref]), int(n[ref])).confidence_interval(
                LEVEL
            )
            lo, hi = _finite(ci.low), _finite(ci.high)
            row["interval"] = [lo, hi] if lo is not None and hi is not None else None
            row["four_fifths"] = {"ratio": ratio, "flag": ratio < FOUR_FIFTHS}
        if len(runs) > 1:
            _replicate_intervals(row, runs, g, ref)
        rows.append(row)
    return {"reference": names[ref], "groups": rows}


def _replicate_intervals(
    row: dict[str, Any], runs: list[tuple[np.ndarray, np.ndarray]], g: int, ref: int
) -> None:
    """t intervals over replicates: of the mean log risk ratio, and of the mean difference."""
    diffs, logs = [], []
    for n, a in runs:
        if n[g] == 0 or n[ref] == 0:
            return
        rg, rr = a[g] / n[g], a[ref] / n[ref]
        diffs.append(rg - rr)
        logs.append(math.log(rg / rr) if rg > 0 and rr > 0 else None)
    k = len(runs)
    row["replicates"] = k
    d = np.asarray(diffs)
    row["replicate_difference_interval"] = _t_interval(d)
    if all(x is not None for x in logs):
        lo_hi = _t_interval(np.asarray(logs, np.float64))
        if lo_hi is not None:
            row["replicate_interval"] = [math.exp(lo_hi[0]), math.exp(lo_hi[1])]
    elif row["note"] is None:
        row["note"] = "too small across replicates: a replicate has no one affected"


def _t_interval(x: np.ndarray) -> list[float] | None:
    k = len(x)
    mean = float(x.mean())
    sd = float(x.std(ddof=1))
    if sd == 0:
        return [mean, mean]
    lo, hi = stats.t.interval(LEVEL, k - 1, loc=mean, scale=sd / math.sqrt(k))
    return [float(lo), float(hi)]


def group_codes(
    levels: dict[str, tuple[str, ...]], traits: np.ndarray, by: Sequence[str]
) -> tuple[np.ndarray, list[str]]:
    """Each cell's group under the attributes ``by`` (one, or an intersection), and the names.

    ``traits`` is ``Cells.traits()``: the level of each trait in every cell. An intersection's
    groups are every combination of the levels, named ``"rural*low"``.
    """
    keys = list(levels)
    unknown = [b for b in by if b not in keys]
    if unknown:
        raise ScslabError(f"no trait {unknown[0]!r} in this run; group by {', '.join(keys)}")
    code = np.zeros(traits.shape[0], np.int64)
    names = [""]
    for b in by:
        k = keys.index(b)
        size = len(levels[b])
        code = code * size + traits[:, k]
        names = [f"{p}*{lv}" if p else lv for p in names for lv in levels[b]]
    return code, names
