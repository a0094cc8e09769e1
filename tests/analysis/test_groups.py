"""Group comparisons: risk ratios, differences and intervals against small cases worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scslab.analysis.groups import compare_counts, group_codes
from scslab.errors import ScslabError

Z = 1.959963984540054  # the 97.5 % normal quantile
T2 = 4.302652729911275  # the 97.5 % quantile of Student's t with 2 degrees of freedom


def test_risk_ratio_and_katz_interval_match_a_case_worked_by_hand() -> None:
    """30 of 100 against the reference's 10 of 200: RR 6, Katz log interval, difference 0.25;
    a group with nobody affected gets a ratio of 0 and "too small" instead of an interval."""
    out = compare_counts(["a", "ref", "none"], [100, 200, 50], [30, 10, 0])
    assert out["reference"] == "ref"
    a, ref, none = out["groups"]
    assert ref["reference"] and ref["risk_ratio"] == 1.0
    assert a["risk_ratio"] == pytest.approx(6.0)
    assert a["risk_difference"] == pytest.approx(0.30 - 0.05)
    se = math.sqrt(1 / 30 - 1 / 100 + 1 / 10 - 1 / 200)
    assert a["interval"] == pytest.approx([6 * math.exp(-Z * se), 6 * math.exp(Z * se)])
    assert a["note"] is None
    # four-fifths beside: not-affected 0.70 against the best group's 1.0
    assert a["four_fifths"] == {"ratio": pytest.approx(0.7), "flag": True}
    # the reference is not the most favoured group: it is flagged against "none" too
    assert ref["four_fifths"] == {"ratio": pytest.approx(0.95), "flag": False}
    out = compare_counts(["a", "ref"], [100, 200], [1, 100])
    assert out["groups"][1]["four_fifths"] == {"ratio": pytest.approx(0.5 / 0.99), "flag": True}
    assert none["risk_ratio"] == 0.0 and none["interval"] is None
    assert none["note"].startswith("too small") and none["four_fifths"]["flag"] is None


def test_no_figure_is_nan_when_the_reference_has_no_one_affected() -> None:
    """Nobody affected in the largest group: no ratio (None), a stated reason, never NaN."""
    out = compare_counts(["big", "small"], [1000, 10], [0, 3])
    small = out["groups"][1]
    assert small["risk_ratio"] is None and small["interval"] is None
    assert "reference" in small["note"]
    assert small["risk_difference"] == pytest.approx(0.3)
    for row in out["groups"]:
        for v in row.values():
            assert not (isinstance(v, float) and math.isnan(v))


def test_replicate_interval_is_the_t_interval_of_the_mean_log_ratio() -> None:
    """Three runs: the interval is exp(mean ± t(0.975, 2) · sd / √3) of the log risk ratios."""
    runs = [([100, 200], [30, 10]), ([100, 200], [24, 12]), ([100, 200], [36, 9])]
    (n, a), *more = runs
    out = compare_counts(["a", "ref"], n, a, more)
    logs = np.log([0.30 / 0.05, 0.24 / 0.06, 0.36 / 0.045])
    half = T2 * logs.std(ddof=1) / math.sqrt(3)
    row = out["groups"][0]
    assert row["replicates"] == 3
    assert row["replicate_interval"] == pytest.approx(
        [math.exp(logs.mean() - half), math.exp(logs.mean() + half)]
    )
    diffs = np.array([0.25, 0.18, 0.315])
    half_d = T2 * diffs.std(ddof=1) / math.sqrt(3)
    assert row["replicate_difference_interval"] == pytest.approx(
        [diffs.mean() - half_d, diffs.mean() + half_d]
    )


def test_an_intersection_with_an_empty_group_states_it_is_too_small() -> None:
    """hukou × income where no rural person is rich: that group has a row saying so."""
    levels = {"hukou": ("urban", "rural"), "income": ("poor", "rich")}
    traits = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    code, names = group_codes(levels, traits, ("hukou", "income"))
    assert names == ["urban*poor", "urban*rich", "rural*poor", "rural*rich"]
    assert code.tolist() == [0, 1, 2, 3]
    out = compare_counts(names, [500, 300, 400, 0], [20, 5, 30, 0])
    empty = out["groups"][3]
    assert empty["people"] == 0 and empty["rate"] is None and empty["risk_ratio"] is None
    assert empty["note"] == "too small: nobody in this group"
    with pytest.raises(ScslabError, match="no trait 'shoe'"):
        group_codes(levels, traits, ("hukou", "shoe"))
