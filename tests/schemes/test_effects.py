"""Effects of consequences in the scheme language: what the validator refuses, and where."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from helpers import scslab
from scslab.errors import SchemeError
from scslab.schemes import parse_scheme

TINY = Path(__file__).parent / "data" / "tiny.yaml"


def assert_user_error(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr + result.stdout


SANCTION = "    effect: barred from flights\n"


def with_effects(effects: str) -> str:
    text = TINY.read_text(encoding="utf-8")
    assert SANCTION in text
    return text.replace(SANCTION, SANCTION + "    effects:\n" + effects, 1)


def test_an_effect_on_acts_is_read_and_blocks_are_its_zero_case() -> None:
    s = parse_scheme(with_effects("      - acts: {online-shopping: 0.5}\n        assumed: true\n"))
    c = s.sanctions[0]
    assert c.effects[0].kind == "acts" and c.effects[0].acts == {"online-shopping": 0.5}
    assert c.act_multipliers() == {"online-shopping": 0.5}
    blocked = c.model_copy(update={"blocks": ("buy-flight-ticket",)})
    assert blocked.act_multipliers() == {"buy-flight-ticket": 0.0, "online-shopping": 0.5}


@pytest.mark.parametrize(
    ("effects", "line", "message"),
    [
        ("      - assumed: true\n", 68, "give exactly one of acts"),
        ("      - acts: {online-shopping: 0.5}\n", 68, "add source: KEY from sources"),
        ("      - acts: {online-shopping: -1}\n        assumed: true\n", 68, "greater than"),
        ("      - acts: {}\n        assumed: true\n", 68, "at least 1 item"),
        (
            "      - acts: {online-shopping: 0.5}\n        assumed: true\n"
            "      - acts: {online-shopping: 2}\n        assumed: true\n",
            70,
            "the act 'online-shopping' is already named",
        ),
    ],
)
def test_a_bad_effect_is_refused_at_its_line(effects: str, line: int, message: str) -> None:
    with pytest.raises(SchemeError, match=message) as err:
        parse_scheme(with_effects(effects), "s.yaml")
    assert re.search(rf"s\.yaml:{line}:\d+", str(err.value)), str(err.value)


@pytest.mark.parametrize(
    ("effects", "message"),
    [
        ("      - acts: {online-shoping: 0.5}\n", "which the act catalogue does not have; did you"),
        ("      - acts: {buy-flight-ticket: 1.5}\n", "share of attempts let through, at most 1"),
    ],
)
def test_an_effect_the_catalogue_cannot_carry_exits_2_at_its_line(
    effects: str, message: str, tmp_path: Path
) -> None:
    """The catalogue is known when the scheme is checked for a run: an unknown act or an attempt
    raised above 1 is reported at the effect's path:line:column, status 2."""
    path = tmp_path / "s.yaml"
    path.write_text(with_effects(effects + "        assumed: true\n"), encoding="utf-8")
    parse_scheme(path.read_text(encoding="utf-8"))  # a valid scheme on its own
    result = scslab("schemes", "validate", path)
    assert_user_error(result)
    assert f"{path}:68:" in result.stderr and message in result.stderr, result.stderr
