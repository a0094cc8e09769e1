"""The condition language's own mistakes: composed conditions (all/any/not), event triggers and
counts in a window, each refused once, at its line and column, as the loader refuses others."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from test_loader_errors import SOURCE, at, column_of, edit, line_of, refuse

from scslab.schemes import parse_scheme
from scslab.schemes.model import Condition

TRIGGER = "    trigger:\n      grades: [A]\n"


def with_trigger(body: str) -> str:
    """The tiny scheme with its reward's trigger replaced by ``body`` (indented YAML)."""
    return edit(TRIGGER, "    trigger:\n" + body)


def test_a_composed_trigger_validates_and_reads_back_with_its_own_keys() -> None:
    """all/any/not, an event trigger and a count load, and dump back under the keys written."""
    text = with_trigger(
        "      all:\n"
        "        - list: blacklist\n"
        "        - any: [{grades: [B]}, {score_below: 60}]\n"
        "        - not: {at_least: 3, of: volunteering, within_months: 12}\n"
    )
    s = parse_scheme(text, SOURCE)
    trigger = s.rewards[0].trigger
    assert trigger.kind == "all"
    assert [leaf.kind for leaf in trigger.leaves()] == ["list", "grades", "score_below", "at_least"]
    assert trigger.model_dump(mode="json", exclude_defaults=True)["all"][2] == {
        "not": {"at_least": 3, "within_months": 12, "of": "volunteering"}
    }


def test_conditions_nested_past_four_levels_are_refused_at_the_fifth() -> None:
    text = with_trigger(
        "      not:\n"
        "        all:\n"
        "          - any:\n"
        "              - not:\n"
        "                  grades: [B]\n"
    )
    msg = refuse(text)
    assert at(msg, line_of(text, "grades: [B]"), column_of(text, "grades: [B]")), msg
    assert "nest at most 4 deep" in msg


def test_an_empty_all_is_refused_at_its_key() -> None:
    text = with_trigger("      all: []\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "all: []"), column_of(text, "[]")), msg
    assert "`all:` needs at least one condition" in msg


def test_an_unknown_grade_inside_any_is_refused_at_the_item_with_a_suggestion() -> None:
    text = with_trigger("      any:\n        - grades: [Z]\n        - list: blacklist\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "grades: [Z]"), column_of(text, "Z]")), msg
    assert "unknown grade 'Z'" in msg


def test_a_household_condition_inside_a_composition_is_refused() -> None:
    text = with_trigger(
        "      all:\n        - {grades: [B], of: household}\n        - list: blacklist\n"
    )
    msg = refuse(text)
    assert at(msg, line_of(text, "of: household")), msg
    assert "not inside all/any/not" in msg


def test_a_list_inside_a_list_entry_composition_is_refused() -> None:
    text = edit(
        "      events: [loan-default]\n",
        "      any:\n        - events: [loan-default]\n        - list: blacklist\n",
    )
    msg = refuse(text)
    line = line_of(text, "- list: blacklist")
    assert at(msg, line, text.splitlines()[line - 1].index("blacklist") + 1), msg
    assert "cannot be another list" in msg


def test_an_event_trigger_without_a_duration_is_refused() -> None:
    text = with_trigger("      events: [loan-default]\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "- id: cheap-rent")), msg
    assert "give duration_months" in msg


def test_an_event_trigger_with_a_duration_validates() -> None:
    text = edit(
        "    trigger:\n      list: blacklist\n",
        "    trigger:\n      events: [loan-default]\n",
    )
    s = parse_scheme(text, SOURCE)
    assert s.sanctions[0].trigger.events == ("loan-default",)


def test_a_count_of_zero_records_is_refused_at_its_value() -> None:
    text = with_trigger("      {at_least: 0, of: volunteering, within_months: 12}\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "at_least: 0"), column_of(text, "0,")), msg
    assert "greater than or equal to 1" in msg


def test_a_count_of_an_unknown_event_is_refused_with_a_suggestion() -> None:
    text = with_trigger("      {at_least: 2, of: volunteerin, within_months: 12}\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "of: volunteerin"), column_of(text, "volunteerin,")), msg
    assert "did you mean 'volunteering'" in msg


def test_a_count_without_a_window_is_refused() -> None:
    text = with_trigger("      {at_least: 2, of: volunteering}\n")
    msg = refuse(text)
    assert "at_least needs within_months" in msg


def test_the_cli_refuses_a_bad_composition_with_one_line_and_status_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(with_trigger("      any: []\n"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "scslab", "schemes", "validate", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert f"{path}:" in done.stderr + done.stdout
    assert "`any:` needs at least one condition" in done.stderr + done.stdout


def test_the_plain_evaluator_of_a_condition_follows_and_or_not() -> None:
    c = Condition.model_validate(
        {"any": [{"all": [{"list": "x"}, {"grades": ["D"]}]}, {"not": {"score_below": 10}}]}
    )

    def holds(facts: set[str]) -> bool:
        return c.holds(lambda leaf: leaf.kind in facts)

    assert holds({"list", "grades", "score_below"})
    assert not holds({"list", "score_below"})
    assert holds({"list"})
    assert not holds({"grades", "score_below"})


def test_a_scheme_with_compositions_validates_again_from_its_full_dump() -> None:
    """A full dump (None for every key not given, as scenario values and the dashboard make it)
    reads back to the same scheme, compositions and simple conditions alike."""
    from scslab.schemes.model import Scheme

    text = with_trigger("      any: [{grades: [B]}, {not: {list: blacklist}}]\n")
    s = parse_scheme(text, SOURCE)
    assert Scheme.model_validate(s.model_dump()) == s
    assert Scheme.model_validate(s.model_dump(mode="json")) == s
