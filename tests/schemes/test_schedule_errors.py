"""A rule's months in force (``in_force:``): what loads, and each mistake refused once, at its
line and column, as the loader refuses others."""

from __future__ import annotations

import pytest
from test_loader_errors import SOURCE, at, column_of, edit, line_of, refuse

from scslab.schemes import parse_scheme
from scslab.schemes.values import RefusedValue, with_scheme_values

RULE = "    effect: barred from flights\n"


def with_in_force(body: str) -> str:
    """The tiny scheme with ``in_force: BODY`` on its sanction."""
    return edit(RULE, f"{RULE}    in_force: {body}\n")


def test_in_force_loads_reads_back_and_is_listed_with_its_rule() -> None:
    """Calendar months, months of the run, either bound alone; they dump back under ``from``."""
    for body, months in (
        ("{from: 2016-10, until: 2019-01, source: paper}", ("2016-10", "2019-01")),
        ("{from: 12, assumed: true}", (12, None)),
        ("{until: 2020-01, assumed: true}", (None, "2020-01")),
    ):
        s = parse_scheme(with_in_force(body), SOURCE)
        ((loc, f),) = s.scheduled()
        assert loc == ("sanctions", 0)
        assert (f.start_at, f.until) == months
        dumped = s.model_dump(mode="json", exclude_defaults=True)["sanctions"][0]["in_force"]
        assert dumped.get("from") == months[0] and "start_at" not in dumped
        assert parse_scheme(with_in_force(body), SOURCE) == s


def test_every_kind_of_rule_may_be_scheduled() -> None:
    text = TINY_ALL
    s = parse_scheme(text, SOURCE)
    assert [loc[0] for loc, _ in s.scheduled()] == [
        "events",
        "lists",
        "sanctions",
        "rewards",
        "network",
    ]


TINY_ALL = with_in_force("{from: 3, assumed: true}")
for _old in (
    "    domain: finance\n    source: paper\n",
    "      after_months: 24\n",
    "    effect: rent discount\n",
    "    category: civic\n    assumed: true\n",
):
    TINY_ALL = edit(_old, f"{_old}    in_force: {{until: 30, assumed: true}}\n", TINY_ALL)


def test_until_not_after_from_is_refused_at_until() -> None:
    text = with_in_force("{from: 2016-10, until: 2016-10, source: paper}")
    msg = refuse(text)
    assert at(msg, line_of(text, "in_force"), column_of(text, "until: 2016-10") + 7), msg
    assert "until 2016-10 is not after from 2016-10" in msg


def test_months_written_both_ways_are_refused() -> None:
    text = with_in_force("{from: 2016-10, until: 40, source: paper}")
    msg = refuse(text)
    assert at(msg, line_of(text, "in_force")), msg
    assert "write from and until alike" in msg


def test_a_month_that_is_not_a_calendar_month_is_refused_at_it() -> None:
    text = with_in_force("{from: 2016-13, source: paper}")
    msg = refuse(text)
    assert at(msg, line_of(text, "in_force"), column_of(text, "2016-13")), msg
    assert "'2016-13' is not a calendar month" in msg


def test_in_force_with_no_month_is_refused() -> None:
    msg = refuse(with_in_force("{source: paper}"))
    assert "give from, until or both" in msg


def test_a_date_without_a_source_is_refused() -> None:
    text = with_in_force("{from: 2016-10}")
    msg = refuse(text)
    assert at(msg, line_of(text, "in_force")), msg
    assert "add source: KEY from sources, or assumed: true" in msg


def test_a_scenario_may_move_an_assumed_month_of_the_run_but_not_a_sourced_one() -> None:
    """``scheme_values`` reaches an assumed rule's month by its field name (``start_at``, as
    ``from`` is called in Python), as it reaches any assumed number; a sourced one is refused."""
    s = parse_scheme(with_in_force("{from: 3, assumed: true}"), SOURCE)
    moved = with_scheme_values(s, {"sanctions": {"no-flights": {"in_force": {"start_at": 5}}}})
    assert moved.sanctions[0].in_force is not None
    assert moved.sanctions[0].in_force.start_at == 5
    sourced = parse_scheme(with_in_force("{from: 3, source: paper}"), SOURCE)
    with pytest.raises(RefusedValue, match="does not mark"):
        with_scheme_values(sourced, {"sanctions": {"no-flights": {"in_force": {"start_at": 5}}}})
