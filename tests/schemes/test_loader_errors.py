"""Every bad scheme gets one clear ``path:line:column: ...`` message, raised as a SchemeError.

Each test breaks the small fixture scheme ``data/tiny.yaml`` in one way and checks that the loader
says so once, at the line (and where it matters, the column) of the mistake.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scslab import _yaml
from scslab.errors import SchemeError, ScslabError
from scslab.schemes import builtin_names, builtin_text, load_scheme, parse_scheme

DATA = Path(__file__).parent / "data"
TINY = (DATA / "tiny.yaml").read_text(encoding="utf-8")
SOURCE = "bad.yaml"


def edit(old: str, new: str, text: str = TINY) -> str:
    """``text`` with ``old`` (which must occur exactly once) replaced by ``new``."""
    assert text.count(old) == 1, f"fixture edit is ambiguous or stale: {old!r}"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """1-based number of the only line that contains ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def column_of(text: str, needle: str) -> int:
    """1-based column where ``needle`` starts on its line."""
    line = text.splitlines()[line_of(text, needle) - 1]
    return line.index(needle) + 1


def refuse(text: str | bytes) -> str:
    """The one-line message with which the loader refuses ``text``."""
    with pytest.raises(SchemeError) as info:
        parse_scheme(text, SOURCE)
    message = str(info.value)
    assert "\n" not in message, f"expected one message, got:\n{message}"
    assert re.match(rf"^{re.escape(SOURCE)}:\d+:\d+: ", message), message
    return message


def at(message: str, line: int, column: int | None = None) -> bool:
    where = f"{SOURCE}:{line}:" if column is None else f"{SOURCE}:{line}:{column}:"
    return message.startswith(where)


# --- the fixture itself -------------------------------------------------------------------------


def test_the_fixture_scheme_is_valid() -> None:
    """The unbroken fixture loads, so every failure below is caused by its one edit."""
    scheme = parse_scheme(TINY, SOURCE)
    assert scheme.id == "tiny"


def test_scheme_error_is_a_scslab_error() -> None:
    """SchemeError belongs to the user-mistake family that the CLI turns into exit status 2."""
    assert issubclass(SchemeError, ScslabError)


# --- keys -----------------------------------------------------------------------------------------


def test_misspelt_required_key_is_reported_once_at_the_key_with_its_spelling() -> None:
    """'pionts' is one problem (not also 'points missing'), located at the misspelt key."""
    text = edit("    points: -30\n", "    pionts: -30\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "pionts"), 5)
    assert "unknown key 'pionts'" in msg
    assert "did you mean 'points'" in msg


def test_many_misspelt_keys_are_each_one_problem_with_a_suggestion() -> None:
    """400 categories with 'name' misspelt: 400 problems (not 800 with the missing 'name's),
    the first ten shown with the spelling, the rest counted; and unknown keys beside them."""
    extra = "".join(f"  - id: c{i}\n    nmae: C {i}\n" for i in range(400))
    text = edit("events:\n", extra + "events:\n") + "colour: red\n"
    with pytest.raises(SchemeError) as info:
        parse_scheme(text, SOURCE)
    lines = str(info.value).splitlines()
    assert len(lines) == 11 and lines[-1] == "... and 391 more problem(s)"
    rows = text.splitlines()
    for i, line in enumerate(lines[:10]):
        assert at(line, rows.index(f"    nmae: C {i}") + 1, 5)
        assert line.endswith(f"categories.{2 + i}.nmae: unknown key 'nmae'; did you mean 'name'?")


def test_misspelt_optional_key_is_reported_with_a_suggestion() -> None:
    """An optional key spelt wrong is not silently ignored; the message offers the right key."""
    text = edit("duration_months: 12", "duraton_months: 12")
    msg = refuse(text)
    assert at(msg, line_of(text, "duraton_months"), 5)
    assert "did you mean 'duration_months'" in msg


def test_unknown_top_level_key_is_reported_at_its_line() -> None:
    """A key the scheme language does not have is refused where it stands."""
    text = TINY + "colour: red\n"
    msg = refuse(text)
    assert at(msg, line_of(text, "colour: red"), 1)
    assert "colour" in msg


def test_missing_required_key_is_reported_at_its_mapping() -> None:
    """A required key that is absent is reported at the mapping that should hold it."""
    text = edit("    domain: transport\n", "")
    msg = refuse(text)
    assert at(msg, line_of(text, "- id: no-flights"), 5)
    assert "domain" in msg and "required" in msg


def test_duplicate_yaml_key_is_reported_at_the_second_one() -> None:
    """A key given twice in one mapping is refused at the repeat, naming the first line."""
    text = edit("name: Tiny test scheme\n", "name: Tiny test scheme\nname: again\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "name: again"), 1)
    assert f"first on line {line_of(text, 'name: Tiny')}" in msg


# --- types and values -----------------------------------------------------------------------------


def test_wrong_type_is_reported_at_the_value() -> None:
    """Text where a number belongs is refused at the value itself."""
    text = edit("points: -30", "points: lots")
    msg = refuse(text)
    assert at(msg, line_of(text, "points: lots"), column_of(text, "lots"))
    assert "events.0.points" in msg


def test_list_where_a_mapping_belongs_is_refused() -> None:
    """A list given for the score block is refused at the list."""
    text = edit("score:\n  base: 100\n  min: 0\n  max: 200\n  source: paper\n", "score: [1, 2]\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "score: [1, 2]"))
    assert "score" in msg


def test_negative_duration_is_refused_at_its_line() -> None:
    """A sanction cannot last a negative number of months."""
    text = edit("duration_months: 12", "duration_months: -3")
    msg = refuse(text)
    column = column_of(text, "duration_months: -3") + len("duration_months: ")
    assert at(msg, line_of(text, "duration_months: -3"), column)
    assert "greater than 0" in msg


def test_unknown_domain_is_refused_at_its_line() -> None:
    """Life domains come from a fixed vocabulary."""
    text = edit("domain: housing", "domain: hovercraft")
    msg = refuse(text)
    assert at(msg, line_of(text, "hovercraft"))


# --- grade bands ----------------------------------------------------------------------------------


def test_overlapping_grade_bands_are_refused_at_the_overlap() -> None:
    """Grade B starting inside grade C's band is an overlap, reported at B's min."""
    text = edit("    min: 50\n", "    min: 40\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "min: 40"), 10)
    assert "overlapping" in msg


def test_gapped_grade_bands_are_refused_at_the_gap() -> None:
    """Scores 50..59 without a grade are a gap, reported at the band that starts too late."""
    text = edit("    min: 50\n", "    min: 60\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "min: 60"), 10)
    assert "50..59" in msg


def test_grade_bands_that_stop_short_of_the_top_are_refused() -> None:
    """The top grade must reach the top of the score range."""
    text = edit(
        "    max: 200\n    source: paper\n  - id: B", "    max: 190\n    source: paper\n  - id: B"
    )
    msg = refuse(text)
    assert at(msg, line_of(text, "max: 190"))
    assert "200" in msg


# --- references -----------------------------------------------------------------------------------


def test_unknown_category_reference_is_refused_with_a_suggestion() -> None:
    """An event naming a category that does not exist is refused at the reference."""
    text = edit("    category: civic\n    points: 5", "    category: civc\n    points: 5")
    msg = refuse(text)
    assert at(msg, line_of(text, "category: civc"), column_of(text, "civc"))
    assert "did you mean 'civic'" in msg


def test_unknown_event_in_a_list_entry_is_refused_at_the_item() -> None:
    """A list entered on an event that does not exist is refused at that item of the list."""
    text = edit("events: [loan-default]", "events: [loan-defualt]")
    msg = refuse(text)
    assert at(msg, line_of(text, "loan-defualt"), column_of(text, "loan-defualt"))
    assert "unknown event" in msg


def test_unknown_list_in_a_trigger_is_refused() -> None:
    """A sanction triggered by a list that does not exist is refused at the reference."""
    text = edit("      list: blacklist", "      list: redlist")
    msg = refuse(text)
    assert at(msg, line_of(text, "list: redlist"))
    assert "unknown list" in msg


def test_duplicate_event_ids_are_refused_once_at_the_repeat() -> None:
    """Two events with one id are one problem, reported at the second id."""
    text = edit("  - id: volunteering", "  - id: loan-default")
    msg = refuse(text)
    lines = [i for i, line in enumerate(text.splitlines(), 1) if "- id: loan-default" in line]
    assert at(msg, lines[1], 9)
    assert "used 2 times" in msg


def test_duplicate_ids_across_sanctions_and_rewards_are_refused_at_the_repeat() -> None:
    """A reward may not reuse a sanction's id; the message points at the reward's id."""
    text = edit("  - id: cheap-rent", "  - id: no-flights")
    msg = refuse(text)
    lines = [i for i, line in enumerate(text.splitlines(), 1) if "- id: no-flights" in line]
    assert at(msg, lines[1], 9)
    assert "sanctions and rewards" in msg


# --- caps -----------------------------------------------------------------------------------------


def test_cap_of_a_category_without_events_is_refused() -> None:
    """A cap on a category no event belongs to can never be reached."""
    text = edit(
        "    name: Civic conduct\n",
        "    name: Civic conduct\n  - id: empty\n    cap: 10\n    assumed: true\n",
    )
    msg = refuse(text)
    assert at(msg, line_of(text, "cap: 10"), 10)
    assert "'empty'" in msg


def test_cap_larger_than_the_score_span_is_refused() -> None:
    """A cap of 500 on a 0..200 scale can never be reached."""
    text = edit("cap: 50", "cap: 500")
    msg = refuse(text)
    assert at(msg, line_of(text, "cap: 500"), 10)
    assert "0..200" in msg


# --- sources --------------------------------------------------------------------------------------


def test_rule_with_a_number_but_no_source_is_refused_at_the_rule() -> None:
    """An event with neither source nor assumed: true is refused where the event starts."""
    text = edit(
        "    domain: finance\n    source: paper\n  - id: volunteering",
        "    domain: finance\n  - id: volunteering",
    )
    msg = refuse(text)
    assert at(msg, line_of(text, "- id: loan-default"), 5)
    assert "assumed: true" in msg


def test_unknown_source_key_is_refused_at_the_source() -> None:
    """A source that is not listed under sources: is refused, naming the ones that are."""
    text = edit(
        "    domain: finance\n    source: paper\n", "    domain: finance\n    source: papr\n"
    )
    msg = refuse(text)
    assert at(msg, line_of(text, "source: papr"), column_of(text, "papr"))
    assert "paper" in msg


def test_source_and_assumed_together_are_refused() -> None:
    """A rule is either sourced or assumed, not both."""
    text = edit("    effect: rent discount\n", "    effect: rent discount\n    source: paper\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "effect: rent discount") + 2)  # its assumed: true
    assert "not both" in msg


# --- documents that are not a scheme at all -------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\n", "# only a comment\n", b""])
def test_empty_file_is_refused_at_line_one(text: str | bytes) -> None:
    """Empty text, blank lines or comments only: the file is empty."""
    msg = refuse(text)
    assert at(msg, 1, 1)
    assert "empty" in msg


def test_non_yaml_text_is_refused_where_parsing_fails() -> None:
    """Broken YAML syntax is refused at the position the parser stopped."""
    text = "id: tiny\nname: [unclosed\ndescription: x: y\n"
    msg = refuse(text)
    assert at(msg, 3)
    assert "not valid YAML" in msg


def test_tab_indentation_is_refused_at_its_line() -> None:
    """YAML forbids tabs for indentation; the message says where the tab is."""
    msg = refuse("id: tiny\n\tname: x\n")
    assert at(msg, 2, 1)


def test_binary_junk_is_refused_as_binary() -> None:
    """Bytes with a NUL in them are a binary file, not YAML."""
    msg = refuse(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert at(msg, 1, 1)
    assert "binary" in msg


def test_text_that_is_not_utf8_is_refused() -> None:
    """Bytes that are not UTF-8 are refused without a UnicodeDecodeError."""
    msg = refuse(b"id: tiny\nname: caf\xe9\n")
    assert "UTF-8" in msg


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- a\n- b\n", "list"), ("just some words\n", "string"), ("~\n", "null"), ("42\n", "value")],
)
def test_document_that_is_not_a_mapping_is_refused(text: str, kind: str) -> None:
    """A scheme is a mapping of keys to values; a list or a scalar is refused."""
    msg = refuse(text)
    assert at(msg, 1, 1)
    assert "mapping" in msg and kind in msg


def test_unsafe_python_tag_is_refused() -> None:
    """Only plain YAML is read: a python tag on a value is refused, never constructed."""
    text = edit("name: Tiny test scheme", "name: !!python/name:os.system x")
    msg = refuse(text)
    assert at(msg, line_of(text, "!!python"), column_of(text, "!!python"))
    assert "cannot be read safely" in msg


def test_tag_on_a_list_or_mapping_is_refused() -> None:
    """A tag on a collection is refused rather than silently dropped."""
    text = edit("rights: [petition]", "rights: !!python/object/apply:os.system [echo hi]")
    msg = refuse(text)
    assert at(msg, line_of(text, "!!python"), column_of(text, "!!python"))
    assert "tag" in msg


def test_alias_that_contains_itself_is_refused() -> None:
    """A recursive alias is refused instead of recursing without end."""
    msg = refuse("id: tiny\nevents: &e [*e]\n")
    assert at(msg, 2)
    assert "alias" in msg


def test_alias_bomb_is_refused() -> None:
    """Aliases that expand a short text into millions of values are refused quickly."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    msg = refuse("\n".join(lines) + "\n")
    assert "expands to more than" in msg


def test_a_long_base_60_integer_is_refused_before_it_is_built() -> None:
    """YAML 1.1 reads 1:59:59 as base 60; PyYAML builds one of 200,000 parts in minutes."""
    text = "id: tiny\nscore: 1:" + ":".join(["59"] * 200_000) + "\n"
    msg = refuse(text)
    assert at(msg, 2, 8)
    assert "more than 4,300 digits" in msg


def test_deeply_nested_text_is_refused() -> None:
    """Nesting deeper than the parser can follow is a SchemeError, not a RecursionError."""
    msg = refuse("id: " + "[" * 400 + "]" * 400 + "\n")
    assert "nested too deeply" in msg


def test_key_that_is_a_list_is_refused_at_the_key() -> None:
    """Keys are names; a list used as a key is refused where it stands."""
    msg = refuse("id: tiny\n? [a, b]\n: 1\n")
    assert at(msg, 2, 3)
    assert "key" in msg


# --- names and paths ------------------------------------------------------------------------------


def test_error_in_a_file_is_located_by_its_path(tmp_path: Path) -> None:
    """Loading a file names the file in the message, with the line of the mistake."""
    path = tmp_path / "mine.yaml"
    text = edit("points: -30", "points: lots")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SchemeError, match=rf"^{re.escape(str(path))}:{line_of(text, 'lots')}:"):
        load_scheme(path)
    with pytest.raises(SchemeError, match=rf"^{re.escape(str(path))}:{line_of(text, 'lots')}:"):
        load_scheme(str(path))


def test_missing_file_is_refused(tmp_path: Path) -> None:
    """A path to a file that does not exist is a SchemeError naming the path."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(SchemeError, match="no such scheme file"):
        load_scheme(str(path))


def test_a_folder_or_file_named_like_a_built_in_does_not_hide_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After ``--out rongcheng-2014`` the name still means the built-in, as does a file of that
    name; only an argument that looks like a path (``./x``, ``x.yaml``) reads the file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rongcheng-2014").mkdir()  # a run's output folder
    (tmp_path / "suining-2010").write_text("not: a scheme\n", encoding="utf-8")
    assert load_scheme("rongcheng-2014") == load_scheme(builtin_names_path("rongcheng-2014"))
    assert load_scheme("suining-2010").id == "suining-2010"
    with pytest.raises(SchemeError, match=r"rongcheng-2014: this is a folder, not a scheme file"):
        load_scheme("./rongcheng-2014")
    with pytest.raises(SchemeError, match=r"^\./suining-2010:1:1: "):
        load_scheme("./suining-2010")


def test_a_bare_name_that_is_no_built_in_may_name_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--scheme mine`` reads the file ``mine`` when no built-in has that name."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").write_text(TINY, encoding="utf-8")
    assert load_scheme("mine") == parse_scheme(TINY)


def builtin_names_path(name: str) -> Path:
    """The shipped file of a built-in scheme."""
    from importlib import resources

    return Path(str(resources.files("scslab.schemes.builtin").joinpath(f"{name}.yaml")))


def test_unknown_name_lists_the_built_ins() -> None:
    """A name that is neither a built-in nor a file is refused, listing what exists."""
    with pytest.raises(SchemeError, match="no built-in scheme has this name") as info:
        load_scheme("no-such-scheme")
    for name in builtin_names():
        assert name in str(info.value)


def test_near_miss_name_suggests_the_built_in() -> None:
    """A built-in's name with a typo gets a 'did you mean' hint."""
    names = builtin_names()
    if not names:
        pytest.skip("no built-in schemes yet")
    with pytest.raises(SchemeError, match=f"did you mean '{re.escape(names[0])}'"):
        load_scheme(names[0][:-1])


# --- inputs that are not small regular files -------------------------------------------------


def test_a_fifo_a_device_and_a_folder_are_refused_before_reading(tmp_path: Path) -> None:
    """A FIFO without a writer would hang a read and ``/dev/zero`` never ends: both are refused
    from what the file is, not from what a read returns."""
    import os

    fifo = tmp_path / "scheme.yaml"
    os.mkfifo(fifo)
    with pytest.raises(SchemeError, match="not a regular file"):
        load_scheme(str(fifo))
    if Path("/dev/zero").exists():
        with pytest.raises(SchemeError, match="not a regular file"):
            load_scheme(Path("/dev/zero"))
    with pytest.raises(SchemeError, match="this is a folder, not a scheme file"):
        load_scheme(tmp_path)


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    """A sparse file over the limit is refused from its size; text over it is not parsed."""
    from scslab._yaml import MAX_INPUT_BYTES

    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(MAX_INPUT_BYTES + 1)
    with pytest.raises(SchemeError, match="larger than 8 MiB"):
        load_scheme(big)
    with pytest.raises(SchemeError, match=r"^upload\.yaml:1:1: the text is larger than"):
        parse_scheme(b"#" * (MAX_INPUT_BYTES + 1), "upload.yaml")


# --- appeals ------------------------------------------------------------------------------------

APPEALS = """appeals:
  objection: 0.3
  success_if_false: 0.9
  success_if_true: 0.05
  delay_months: 2
  assumed: true
"""


def test_an_appeal_probability_outside_0_1_is_refused_where_it_stands() -> None:
    """Each of the three chances of an appeal must lie in [0, 1]: one above or below is refused
    at its line and column, by name; the unbroken block loads."""
    assert parse_scheme(TINY + APPEALS, SOURCE).appeals is not None
    for key, bad in (("objection", "1.5"), ("success_if_false", "-0.1"), ("success_if_true", "2")):
        line = next(x for x in APPEALS.splitlines() if x.strip().startswith(f"{key}:"))
        text = TINY + APPEALS.replace(line, f"  {key}: {bad}")
        msg = refuse(text)
        assert at(msg, line_of(text, f"{key}:"), len(f"  {key}: ") + 1), msg
        assert key in msg and (
            "less than or equal to 1" in msg or "greater than or equal to 0" in msg
        )


def test_an_appeal_delay_below_one_month_and_an_appeal_without_source_are_refused() -> None:
    """A decision needs at least one month; the chances are numbers, so they need a source."""
    text = TINY + APPEALS.replace("delay_months: 2", "delay_months: 0")
    msg = refuse(text)
    assert at(msg, line_of(text, "delay_months"), 17) and "greater than 0" in msg
    text = TINY + APPEALS.replace("  assumed: true\n", "")
    msg = refuse(text)
    assert at(msg, line_of(text, "objection")) and "appeals: " in msg and "add source" in msg


def test_reaching_children_without_a_household_trigger_is_refused_at_reaches() -> None:
    """`reaches: children` names members of a household: a trigger without `of: household` is
    refused at the `reaches` key."""
    text = edit("    domain: transport\n", "    reaches: children\n    domain: transport\n")
    msg = refuse(text)
    assert at(msg, line_of(text, "reaches: children"))
    assert "of: household" in msg
    fixed = edit("      list: blacklist\n", "      list: blacklist\n      of: household\n", text)
    assert parse_scheme(fixed, SOURCE).sanctions[0].reaches == "children"


# --- points by channel or severity, and a weighted-factor score ---------------------------------


def test_severity_shares_that_do_not_sum_to_one_are_refused_at_the_rule() -> None:
    """A severity's levels split every record between them: shares must sum to 1."""
    text = edit(
        "    points: 5\n",
        "    points_by:\n      severity:\n        small: {share: 0.5, points: 5}\n"
        "        large: {share: 0.4, points: 20}\n      assumed: true\n",
    )
    msg = refuse(text)
    assert at(msg, line_of(text, "large:"), column_of(text, "0.4"))
    assert "the severity shares sum to 0.9; they must sum to 1" in msg


def test_an_unknown_channel_in_points_by_is_refused_at_the_key() -> None:
    text = edit(
        "    points: 5\n", "    points: 5\n    points_by: {channel: {cctv: 2}, assumed: true}\n"
    )
    msg = refuse(text)
    assert at(msg, line_of(text, "cctv"))
    assert "cctv" in msg


def test_factor_weights_that_do_not_sum_to_one_are_refused_at_the_last_weight() -> None:
    factors = (
        "  factors:\n    - {id: money, weight: 0.6}\n    - {id: conduct, weight: 0.3}\n"
        "  source: paper\n"
    )
    text = edit("  source: paper\ncategories:", factors + "categories:")
    for name, factor in (("loan-default", "money"), ("volunteering", "conduct")):
        text = edit(f"  - id: {name}\n", f"  - id: {name}\n    factor: {factor}\n", text)
    text = edit("  - id: petitioning\n", "  - id: petitioning\n    factor: conduct\n", text)
    text = edit("    points: -5\n", "    points: -5\n    factor: conduct\n", text)
    msg = refuse(text)
    assert at(msg, line_of(text, "weight: 0.3"), column_of(text, "0.3"))
    assert "the factor weights sum to 0.9; they must sum to 1" in msg
    fixed = text.replace("weight: 0.3", "weight: 0.4")
    assert parse_scheme(fixed, SOURCE).score.factors[1].weight == 0.4
    msg = refuse(
        edit("volunteering\n    factor: conduct", "volunteering\n    factor: condcut", fixed)
    )
    assert "unknown factor 'condcut'; did you mean 'conduct'?" in msg


@pytest.mark.parametrize("name", builtin_names())
def test_libyaml_reads_a_scheme_to_the_same_data_and_positions_as_pyyaml(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # grade names such as 优 and 良 must not move a column: a position is counted in characters
    text = builtin_text(name)
    fast = _yaml.load_located(text, name, SchemeError)
    monkeypatch.setattr(_yaml, "_FAST_LOADER", None)
    pure = _yaml.load_located(text, name, SchemeError)
    assert fast.data == pure.data
    assert fast.positions == pure.positions


def test_a_text_libyaml_cannot_take_is_refused_as_pyyaml_refuses_it() -> None:
    # libyaml fails on a lone surrogate with a UnicodeEncodeError; PyYAML says where it stands
    with pytest.raises(SchemeError, match=r"^<s>:2:7: this text holds a character YAML does not"):
        parse_scheme("id: x\nname: \ud800\n", "<s>")
