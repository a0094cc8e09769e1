"""One conformance suite that every built-in scheme passes (in the spirit of scikit-learn's checks).

Each check runs once per name that ``builtin_names()`` returns, so a new built-in is checked the
moment its YAML file is added.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources

import pytest
import yaml
from pydantic import BaseModel

from scslab.schemes import builtin_names, builtin_text, dump_scheme, load_scheme, parse_scheme
from scslab.schemes.model import Scheme, Sourced

EXPECTED = {
    "suining-2010",
    "rongcheng-2014",
    "sesame-credit",
    "corporate-scs",
    "defaulter-blacklist",
    "financial-only",
    "hangzhou-2018",
}

NAMES = builtin_names()


def test_there_are_exactly_the_designed_built_ins() -> None:
    """The built-ins are the six schemes DESIGN.md names and a second model city (Hangzhou), no
    more and no fewer."""
    assert set(builtin_names()) == EXPECTED
    assert len(builtin_names()) == len(EXPECTED)


@pytest.mark.parametrize("name", NAMES)
def test_built_in_loads(name: str) -> None:
    """The built-in validates into a Scheme by name."""
    assert isinstance(load_scheme(name), Scheme)


@pytest.mark.parametrize("name", NAMES)
def test_built_in_id_equals_its_file_name(name: str) -> None:
    """A scheme's id is the name it is loaded by, so results name it unambiguously."""
    assert load_scheme(name).id == name


@pytest.mark.parametrize("name", NAMES)
def test_built_in_round_trips_through_yaml(name: str) -> None:
    """dump_scheme then parse_scheme gives an equal scheme; dumping again gives the same text."""
    scheme = load_scheme(name)
    text = dump_scheme(scheme)
    again = parse_scheme(text, f"dumped:{name}")
    assert again == scheme
    assert dump_scheme(again) == text


@pytest.mark.parametrize("name", NAMES)
def test_built_in_round_trips_through_a_full_dump(name: str) -> None:
    """model_dump with every default (what scheme_values, sweeps and results store) validates
    back to an equal scheme: a condition's unset all:/any: (None) is not taken as given."""
    scheme = load_scheme(name)
    assert Scheme.model_validate(scheme.model_dump()) == scheme
    assert Scheme.model_validate_json(scheme.model_dump_json()) == scheme


@pytest.mark.parametrize("name", NAMES)
def test_built_in_text_parses_to_the_loaded_scheme(name: str) -> None:
    """The shipped text and the name give the same scheme (what `show --format yaml` relies on)."""
    assert parse_scheme(builtin_text(name), name) == load_scheme(name)


# --- every number has a source --------------------------------------------------------------------


def _numbers(model: BaseModel) -> Iterator[tuple[str, object]]:
    """Numeric values held by ``model`` or by nested plain (non-rule) models inside it."""
    for field in type(model).model_fields:
        value = getattr(model, field)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            yield field, value
        elif isinstance(value, BaseModel) and not isinstance(value, Sourced):
            for sub, v in _numbers(value):
                yield f"{field}.{sub}", v


def _rules(model: BaseModel, path: str = "") -> Iterator[tuple[str, Sourced]]:
    """Every rule (Sourced model) anywhere in ``model``, with a dotted path for messages."""
    if isinstance(model, Sourced):
        yield path or "(top)", model
    for field in type(model).model_fields:
        value = getattr(model, field)
        items = value if isinstance(value, tuple) else (value,)
        for i, item in enumerate(items):
            if isinstance(item, BaseModel):
                where = f"{path}.{field}" if path else field
                yield from _rules(item, f"{where}.{i}" if isinstance(value, tuple) else where)


@pytest.mark.parametrize("name", NAMES)
def test_every_rule_with_a_number_names_a_listed_source_or_is_assumed(name: str) -> None:
    """Each rule that carries a number says where it comes from: a key of sources, or assumed."""
    scheme = load_scheme(name)
    unsourced = []
    for path, rule in _rules(scheme):
        numbers = dict(_numbers(rule))
        numbers.pop("source", None)
        if not numbers and not rule._needs_source():
            continue
        sourced = rule.source is not None and rule.source in scheme.sources
        if sourced == rule.assumed:  # neither, or both
            unsourced.append(f"{path} {numbers}")
    assert not unsourced, "rules without a source:\n" + "\n".join(unsourced)


@pytest.mark.parametrize("name", NAMES)
def test_every_listed_source_has_text(name: str) -> None:
    """Each entry of sources: says what the source is."""
    for key, text in load_scheme(name).sources.items():
        assert text.strip(), f"source '{key}' has no text"


# --- the scheme scores acts that people can commit ------------------------------------------------


def _default_acts(name: str = "acts.yaml") -> set[str]:
    acts_file = resources.files("scslab.behaviour").joinpath(name)
    if not acts_file.is_file():
        pytest.skip("the default act catalogue behaviour/acts.yaml does not exist yet")
    from scslab.behaviour.model import Catalogue

    catalogue = Catalogue.model_validate(yaml.safe_load(acts_file.read_text(encoding="utf-8")))
    return {a.id for a in catalogue.acts}


@pytest.mark.parametrize("name", NAMES)
def test_every_scored_act_is_in_the_default_act_catalogue(name: str) -> None:
    """Every act a built-in scores exists in its default catalogue (behaviour/acts.yaml, or
    firm_acts.yaml for firms), so a run can produce it."""
    scheme = load_scheme(name)
    file = "firm_acts.yaml" if scheme.subject == "enterprises" else "acts.yaml"
    known = _default_acts(file)
    missing = [act for act in scheme.acts() if act not in known]
    assert not missing, f"acts not in behaviour/{file}: {', '.join(missing)}"


# --- reachability in a tiny engine run ------------------------------------------------------------
#
# Reserved for the lead: "every rule fires in a tiny run" (DESIGN.md, Examples to follow). Each
# built-in will be run on a small population, and every event, grade, list, sanction and reward is
# checked to occur at least once. It needs the engine, so no test stands here yet.
