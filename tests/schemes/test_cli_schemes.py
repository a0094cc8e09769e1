"""``scslab schemes list | show | validate``, run as a user runs them: ``python -m scslab``.

A user's mistake exits with status 2 and a located message on stderr, never a traceback.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from helpers import scslab
from scslab.schemes import builtin_names, builtin_text, load_scheme, parse_scheme

DATA = Path(__file__).parent / "data"
TINY = DATA / "tiny.yaml"
NAMES = builtin_names()
BUILT_INS = [
    "suining-2010",
    "rongcheng-2014",
    "sesame-credit",
    "corporate-scs",
    "defaulter-blacklist",
    "financial-only",
    "hangzhou-2018",
]


def assert_user_error(result: subprocess.CompletedProcess[str]) -> None:
    """Exit status 2, a message on stderr, and no traceback anywhere."""
    assert result.returncode == 2, result
    assert result.stderr.strip(), "a user's mistake must say what is wrong"
    assert "Traceback" not in result.stderr + result.stdout


# --- list -----------------------------------------------------------------------------------------


def test_list_shows_every_built_in() -> None:
    """`schemes list` names every built-in with its subject."""
    result = scslab("schemes", "list")
    assert result.returncode == 0, result.stderr
    for name in BUILT_INS:
        assert name in result.stdout
    assert "individuals" in result.stdout and "enterprises" in result.stdout


def test_list_json_is_machine_readable() -> None:
    """`schemes list --json` prints a JSON array with one object per built-in."""
    result = scslab("schemes", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == NAMES
    for row in rows:
        assert row["subject"] in {"individuals", "enterprises"}
        assert row["description"]


# --- show -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_show_prints_a_rules_table(name: str) -> None:
    """`schemes show NAME` prints the score and the events table with each rule's source."""
    scheme = load_scheme(name)
    result = scslab("schemes", "show", name)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert scheme.name in out
    for title in ("Score", "Categories", "Events"):
        assert title in out
    assert scheme.events[0].id in out
    assert "┃" in out or "|" in out  # a table, not a YAML dump


def test_show_table_has_every_kind_of_rule_and_its_source() -> None:
    """A scheme using every part of the language shows each part, with sources and 'assumed'."""
    result = scslab("schemes", "show", TINY)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for title in (
        "Grades",
        "Lists",
        "Sanctions",
        "Rewards",
        "Network rules",
        "Decay and repair",
        "Sources",
    ):
        assert title in out
    for text in ("loan-default", "petition", "barred from flights", "12 months", "assumed"):
        assert text in out
    assert "paper" in out


@pytest.mark.parametrize("name", NAMES)
def test_show_yaml_prints_the_built_in_text_exactly(name: str) -> None:
    """`show NAME --format yaml` is the shipped text, byte for byte, and re-parses to the scheme."""
    result = scslab("schemes", "show", name, "--format", "yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout == builtin_text(name)
    assert parse_scheme(result.stdout, "piped") == load_scheme(name)


def test_show_yaml_prints_a_users_file_exactly() -> None:
    """`show FILE --format yaml` prints the file's own text, comments included."""
    result = scslab("schemes", "show", TINY, "--format", "yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout == TINY.read_text(encoding="utf-8")


def test_show_json_prints_the_scheme_data() -> None:
    """`show --format json` prints data that validates back into the same scheme."""
    result = scslab("schemes", "show", TINY, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert parse_scheme(result.stdout, "json") == load_scheme(TINY)


def test_show_of_a_broken_file_exits_2_with_its_line(tmp_path: Path) -> None:
    """`show` refuses a broken file the same way `validate` does."""
    path = tmp_path / "broken.yaml"
    path.write_text(TINY.read_text(encoding="utf-8").replace("points: -30", "points: lots"))
    result = scslab("schemes", "show", path, "--format", "yaml")
    assert_user_error(result)
    assert f"{path}:24:" in result.stderr
    assert result.stdout == ""


# --- validate -------------------------------------------------------------------------------------


def _misspell_first_points(text: str) -> tuple[str, int]:
    """``text`` with its first ``points:`` key spelt ``pionts:``, and that line's number."""
    match = re.search(r"^(\s*(?:- )?)points:", text, flags=re.MULTILINE)
    assert match, "the built-in has no points: key"
    line = text.count("\n", 0, match.start()) + 1
    start = match.start() + len(match.group(1))
    return text[:start] + "pionts:" + text[start + len("points:") :], line


@pytest.mark.parametrize("name", NAMES)
def test_validate_refuses_a_printed_built_in_with_a_misspelt_key(name: str, tmp_path: Path) -> None:
    """A built-in piped out, with one key misspelt, is refused at the file's line: exit 2.

    ``show NAME --format yaml`` prints exactly ``builtin_text(NAME)`` (pinned above), so the text
    is taken from there rather than from one more subprocess.
    """
    text, line = _misspell_first_points(builtin_text(name))
    path = tmp_path / f"my-{name}.yaml"
    path.write_text(text, encoding="utf-8")

    result = scslab("schemes", "validate", path)
    assert_user_error(result)
    assert f"{path}:{line}:" in result.stderr
    assert "pionts" in result.stderr and "did you mean 'points'" in result.stderr
    assert "ok:" not in result.stdout


def test_validate_of_a_good_file_exits_0(tmp_path: Path) -> None:
    """A valid user file passes validation with an 'ok' line that counts its rules."""
    path = tmp_path / "mine.yaml"
    path.write_text(TINY.read_text(encoding="utf-8"), encoding="utf-8")
    result = scslab("schemes", "validate", path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")
    assert "tiny" in result.stdout and "3 events" in result.stdout


def test_validate_accepts_every_built_in_at_once() -> None:
    """`validate` takes several names and prints one 'ok' line per scheme."""
    result = scslab("schemes", "validate", *NAMES)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == len(NAMES)
    for name, line in zip(NAMES, lines, strict=True):
        assert line.startswith(f"ok: {name} (")


def test_validate_reports_every_bad_scheme_and_still_passes_the_good(tmp_path: Path) -> None:
    """With good and bad schemes together, the good get 'ok', the bad are all reported: exit 2."""
    bad1 = tmp_path / "bad1.yaml"
    bad2 = tmp_path / "bad2.yaml"
    bad1.write_text(TINY.read_text(encoding="utf-8").replace("cap: 50", "cap: 500"))
    bad2.write_bytes(b"\x00\x01junk")
    result = scslab("schemes", "validate", bad1, TINY, bad2)
    assert_user_error(result)
    assert "ok: " in result.stdout and "tiny" in result.stdout
    assert f"{bad1}:16:" in result.stderr
    assert f"{bad2}:1:1:" in result.stderr


def test_validate_refuses_a_scheme_that_run_refuses(tmp_path: Path) -> None:
    """A scheme whose event scores an act the act catalogue lacks is valid YAML and a valid
    scheme, but it cannot run: `validate` says so as `run` does, naming the act."""
    path = tmp_path / "unrunnable.yaml"
    text = TINY.read_text(encoding="utf-8")
    path.write_text(
        text.replace("  - id: volunteering\n", "  - id: volunteering\n    act: no-such-act\n"),
        encoding="utf-8",
    )
    assert load_scheme(path).events[1].act_id == "no-such-act"  # the scheme itself is fine
    checked = scslab("schemes", "validate", path)
    assert_user_error(checked)
    assert "'no-such-act'" in checked.stderr and "built-in acts.yaml" in checked.stderr
    assert "ok:" not in checked.stdout
    ran = scslab(
        "run",
        "--scheme",
        path,
        "--network",
        "--agents",
        "50",
        "--years",
        "0.1",
        "--out",
        tmp_path / "r",
    )
    assert_user_error(ran)
    assert "'no-such-act'" in ran.stderr
    assert not (tmp_path / "r").exists()


def test_validate_checks_against_the_catalogue_given_with_acts(tmp_path: Path) -> None:
    """--acts names the catalogue the scheme will run with: a catalogue without one of the
    scheme's acts is refused, the built-in one passes."""
    from scslab.behaviour.rates import catalogue_text, load_catalogue

    full = load_catalogue()
    fewer = full.model_copy(update={"acts": tuple(a for a in full.acts if a.id != "petitioning")})
    acts = tmp_path / "acts.yaml"
    acts.write_text(catalogue_text(fewer), encoding="utf-8")
    refused = scslab("schemes", "validate", TINY, "--acts", acts)
    assert_user_error(refused)
    assert "'petitioning'" in refused.stderr and str(acts) in refused.stderr
    full_path = tmp_path / "all-acts.yaml"
    full_path.write_text(catalogue_text(full), encoding="utf-8")
    assert scslab("schemes", "validate", TINY, "--acts", full_path).returncode == 0


def test_unknown_name_exits_2_with_a_did_you_mean_hint() -> None:
    """A built-in's name with a typo exits with 2 and suggests the right name."""
    result = scslab("schemes", "validate", "suining-2011")
    assert_user_error(result)
    assert "did you mean 'suining-2010'" in result.stderr


def test_show_of_an_unknown_name_exits_2() -> None:
    """`show` of a name that is neither a built-in nor a file is a user error."""
    result = scslab("schemes", "show", "no-such-scheme")
    assert_user_error(result)
    assert "no built-in scheme" in result.stderr


def test_missing_file_exits_2(tmp_path: Path) -> None:
    """A path that does not exist is a user error naming the path."""
    path = tmp_path / "absent.yaml"
    result = scslab("schemes", "validate", path)
    assert_user_error(result)
    assert str(path) in result.stderr


def test_validate_of_factor_weights_that_miss_one_exits_2_at_the_weight(tmp_path: Path) -> None:
    """Sesame piped out with one factor weight changed: refused at that weight's line, exit 2."""
    text = scslab("schemes", "show", "sesame-credit", "--format", "yaml").stdout
    assert text.count("weight: 0.05") == 1
    path = tmp_path / "sesame.yaml"
    path.write_text(text.replace("weight: 0.05", "weight: 0.15"), encoding="utf-8")
    result = scslab("schemes", "validate", path)
    assert_user_error(result)
    line = 1 + text[: text.index("weight: 0.05")].count("\n")
    assert f"{path}:{line}:" in result.stderr
    assert "the factor weights sum to 1.1; they must sum to 1" in result.stderr
