"""Network rules of each kind: friends below a score, on a list, in a grade. Each kind takes its
own key; a mistake is refused once, at its line and column, as the loader refuses others."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from test_loader_errors import SOURCE, TINY, at, column_of, edit, line_of, refuse

from scslab.schemes import parse_scheme

THRESHOLD = "    threshold: 50\n"


def with_rule(body: str, text: str = TINY) -> str:
    """The tiny scheme with its network rule's threshold replaced by ``body``."""
    return edit(THRESHOLD, body, text)


def test_a_friends_listed_and_a_friends_in_grade_rule_validate_and_dump_back() -> None:
    listed = parse_scheme(with_rule("    kind: friends-listed\n    list: blacklist\n"), SOURCE)
    assert (listed.network[0].kind, listed.network[0].list) == ("friends-listed", "blacklist")
    graded = parse_scheme(with_rule("    kind: friends-in-grade\n    grades: [B, C]\n"), SOURCE)
    assert graded.network[0].grades == ("B", "C")
    dumped = graded.network[0].model_dump(mode="json", exclude_defaults=True)
    assert dumped["kind"] == "friends-in-grade" and "threshold" not in dumped


def test_an_unknown_list_is_refused_at_its_value_with_a_suggestion() -> None:
    text = with_rule("    kind: friends-listed\n    list: blacklst\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "list: blacklst"), column_of(text, "blacklst")), msg
    assert "unknown list 'blacklst'; did you mean 'blacklist'?" in msg


def test_an_unknown_grade_is_refused_at_the_item() -> None:
    text = with_rule("    kind: friends-in-grade\n    grades: [A, Z]\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "grades: [A, Z]"), column_of(text, "Z]")), msg
    assert "unknown grade 'Z'" in msg


def test_a_grade_named_twice_and_an_empty_grade_list_are_refused() -> None:
    text = with_rule("    kind: friends-in-grade\n    grades: [C, C]\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "grades: [C, C]"), column_of(text, "C]")), msg
    assert "the grade 'C' is named twice" in msg
    text = with_rule("    kind: friends-in-grade\n    grades: []\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "grades: []"), column_of(text, "[]")), msg
    assert "give at least one grade" in msg


def test_friends_in_grade_on_a_scheme_without_grades_is_refused() -> None:
    # take out the grades and the reward that reads them
    start, end = TINY.index("grades:\n  - id: A"), TINY.index("lists:\n")
    text = TINY[:start] + TINY[end:]
    start, end = text.index("rewards:\n"), text.index("network:\n")
    text = with_rule("    kind: friends-in-grade\n    grades: [C]\n", text[:start] + text[end:])
    msg = refuse(text)
    assert at(msg, line_of(text, "grades: [C]"), column_of(text, "[C]")), msg
    assert "this scheme has no grades" in msg


def test_a_threshold_given_to_a_list_rule_is_refused_at_the_threshold() -> None:
    text = with_rule("    kind: friends-listed\n    list: blacklist\n    threshold: 50\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "threshold: 50"), 16), msg  # the value, after "    threshold: "
    assert "threshold is for kind friends-below; a friends-listed rule takes list" in msg


def test_a_list_given_to_a_below_rule_is_refused_at_the_list() -> None:
    text = edit(THRESHOLD, THRESHOLD + "    list: blacklist  # of the wrong kind\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "wrong kind"), 11), msg  # the value, after "    list: "
    assert "list is for kind friends-listed; a friends-below rule takes threshold" in msg


def test_a_rule_without_its_kinds_key_is_refused_at_the_kind_or_the_rule() -> None:
    text = with_rule("    kind: friends-listed\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "kind: friends-listed"), column_of(text, "friends-listed")), msg
    assert "a friends-listed rule needs list" in msg
    text = with_rule("")  # no kind: friends-below, which needs a threshold
    msg = refuse(text)
    assert at(msg, line_of(text, "- id: low-friends")), msg
    assert "a friends-below rule needs threshold" in msg


def test_an_unknown_kind_is_refused_with_the_kinds_there_are() -> None:
    text = with_rule("    kind: friends-listd\n    list: blacklist\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "friends-listd"), column_of(text, "friends-listd")), msg
    assert "'friends-below', 'friends-listed' or 'friends-in-grade'" in msg


def test_the_cli_refuses_a_bad_network_rule_with_one_line_and_status_2(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(with_rule("    kind: friends-listed\n    list: blacklst\n"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "scslab", "schemes", "validate", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    out = (done.stderr + done.stdout).strip()
    assert out.count("\n") == 0 and f"{path}:" in out
    assert "unknown list 'blacklst'" in out
