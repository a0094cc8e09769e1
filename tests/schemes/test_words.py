"""Every kind of condition in words: the one wording `schemes show` and `explain` both print."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import scslab
from scslab.schemes import builtin_names, load_scheme
from scslab.schemes.model import Condition
from scslab.schemes.words import condition_words


def words(data: dict[str, Any]) -> str:
    return condition_words(Condition.model_validate(data))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"grades": ["D"]}, "in grade D"),
        ({"grades": ["C", "D"]}, "in grade C or D"),
        ({"list": "judgment-defaulters"}, "on list judgment-defaulters"),
        ({"score_below": 600}, "scoring below 600"),
        ({"score_at_least": 1050}, "scoring at least 1050"),
        ({"score_below": 60.5}, "scoring below 60.5"),
        ({"score_at_least": 60.0}, "scoring at least 60"),
        ({"events": ["unpaid-judgment"]}, "on a record of unpaid-judgment"),
        ({"events": ["fraud", "theft"]}, "on a record of fraud or theft"),
        (
            {"representative_listed": True},
            "with its legal representative or a director on a blacklist",
        ),
        (
            {"at_least": 2, "of": "volunteering", "within_months": 24},
            "with 2 or more records of volunteering within 24 months",
        ),
        ({"grades": ["D"], "of": "household"}, "anyone in the household in grade D"),
        ({"list": "defaulters", "of": "household"}, "anyone in the household on list defaulters"),
        ({"layer": "spc", "list": "defaulters"}, "on layer spc's list defaulters"),
        ({"layer": "spc", "grades": ["B", "C"]}, "in layer spc's grade B or C"),
    ],
)
def test_each_kind_of_leaf_in_words(condition: dict[str, Any], expected: str) -> None:
    assert words(condition) == expected


def test_compositions_in_words() -> None:
    """all: and any: are put in brackets, joined by `and` / `or`; not: goes before its part,
    layer leaves and counts included; of: household speaks of the whole composition."""
    assert (
        words({"all": [{"grades": ["A"]}, {"not": {"layer": "spc", "list": "defaulters"}}]})
        == "(in grade A and not on layer spc's list defaulters)"
    )
    assert (
        words({"any": [{"score_below": 600}, {"at_least": 3, "of": "fraud", "within_months": 12}]})
        == "(scoring below 600 or with 3 or more records of fraud within 12 months)"
    )
    assert words({"not": {"events": ["theft"]}}) == "not on a record of theft"
    assert (
        words({"of": "household", "all": [{"grades": ["D"]}, {"list": "x"}]})
        == "anyone in the household (in grade D and on list x)"
    )


#: the layers of the built-in patchwork-2018 scenario, which read each other's lists
PATCHWORK = Path(scslab.__file__).parent / "scenarios" / "patchwork-2018"


def test_every_trigger_of_the_built_ins_has_words() -> None:
    """Every list entry and trigger of the built-in schemes and layers is worded (none falls
    through to another kind's words)."""
    for name in (*builtin_names(), *sorted(PATCHWORK.glob("*.yaml"))):
        scheme = load_scheme(name)
        conditions = [r.entry for r in scheme.lists]
        conditions += [c.trigger for c in (*scheme.sanctions, *scheme.rewards)]
        assert conditions, name
        for c in conditions:
            text = condition_words(c)
            assert text and "None" not in text, (name, text)
