"""A scenario's own values for the numbers a scheme marks ``assumed``.

A number that a scheme marks ``assumed: true`` is ours, not a source's: the 24-month listing of
the defaulter list, the monthly chance of credit repair. A scenario may set such a number (and
``scslab calibrate`` may fit it) without copying the scheme file, under ``scheme_values``, by the
number's path into the scheme: a section, the id of a rule in it, then the fields down to the
number (a rule of a list whose rules have no ids, a consequence's effects, by its place from 0)::

    scheme_values:
      lists:
        judgment-defaulters:
          exit: {after_months: 30}
      repair: {monthly_probability: 0.05}

As a dotted path (a sweep's or a calibration's parameter):
``scheme_values.lists.judgment-defaulters.exit.after_months``.

A number is *marked assumed* when the innermost rule that holds it (a list, a sanction, the
repair rule, a fulfilment rule, ...) says ``assumed: true``. A number that names a source, or a
path the scheme does not have, is refused: a scenario may revise what is ours, never what was
published.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from scslab.errors import ScenarioError
from scslab.schemes.model import Scheme, Sourced

#: The scenario's setting that holds them.
FIELD = "scheme_values"


class RefusedValue(ScenarioError):
    """A value under ``scheme_values`` that the scheme does not allow; ``loc`` is its path."""

    def __init__(self, loc: tuple[str, ...], message: str) -> None:
        super().__init__(f"{FIELD}.{'.'.join(loc)}: {message}")
        self.loc = loc


def leaves(
    values: Mapping[str, Any], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Each value under ``values`` with its path, depth first, in the order written."""
    for key, value in values.items():
        loc = (*prefix, str(key))
        if isinstance(value, Mapping):
            yield from leaves(value, loc)
        else:
            yield loc, value


def _find(scheme: Scheme, loc: tuple[str, ...]) -> tuple[list[str | int], Any, Sourced | None]:
    """The position of ``loc`` in the scheme's data, its current value, and the innermost rule
    that holds it. Rules in a list (lists, sanctions, events, ...) are named by their id."""
    node: Any = scheme
    rule: Sourced | None = None
    where: list[str | int] = []
    k = 0
    while k < len(loc):
        name = loc[k]
        so_far = ".".join(loc[: k + 1])
        if not isinstance(node, BaseModel) or name not in type(node).model_fields:
            inside = ".".join(loc[:k]) or f"scheme '{scheme.id}'"
            if isinstance(node, BaseModel):
                have = ", ".join(type(node).model_fields)
                raise RefusedValue(loc, f"{inside} has no '{name}' (it has {have})")
            raise RefusedValue(loc, f"{inside} is a single value with nothing inside it")
        node = getattr(node, name)
        where.append(name)
        if isinstance(node, tuple) and node and all(isinstance(x, BaseModel) for x in node):
            if k + 1 == len(loc):
                raise RefusedValue(
                    loc,
                    f"{so_far} holds rules; name one by its id (by its place, from 0, if it "
                    "has none)",
                )
            # a rule by its id; one of rules without ids (a consequence's effects) by its place
            ids = [
                str(x.id) if "id" in type(x).model_fields else str(j) for j, x in enumerate(node)
            ]
            wanted = loc[k + 1]
            if wanted not in ids:
                raise RefusedValue(
                    loc, f"scheme '{scheme.id}' has no {name} '{wanted}'; it has {', '.join(ids)}"
                )
            where.append(ids.index(wanted))
            node = node[ids.index(wanted)]
            k += 1
        if isinstance(node, Sourced):
            rule = node
        k += 1
    return where, node, rule


def check(scheme: Scheme, loc: tuple[str, ...], value: Any) -> list[str | int]:
    """Refuse ``value`` at ``loc`` unless it is a number that the scheme sets and marks assumed;
    return where it goes in the scheme's data."""
    where, current, rule = _find(scheme, loc)
    path = ".".join(loc)
    if isinstance(current, BaseModel):
        raise RefusedValue(loc, f"{path} is a rule, not a number; name a number inside it")
    if current is None:
        raise RefusedValue(
            loc, f"scheme '{scheme.id}' does not set {path}; only numbers it sets can be given"
        )
    if isinstance(current, bool) or not isinstance(current, int | float):
        raise RefusedValue(loc, f"{path} is not a number ({current!r})")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RefusedValue(loc, f"{value!r} is not a number")
    if rule is None or not rule.assumed:
        why = f"from source '{rule.source}'" if rule is not None and rule.source else "not assumed"
        raise RefusedValue(
            loc,
            f"scheme '{scheme.id}' does not mark {path} assumed ({why}); a scenario may set only "
            "numbers a scheme marks assumed: true",
        )
    return where


def with_scheme_values(scheme: Scheme, values: Mapping[str, Any]) -> Scheme:
    """The scheme with each of ``values`` (nested by path, as in a scenario) in place of the
    assumed number at its path. Each is checked; the scheme is then validated as a whole."""
    if not values:
        return scheme
    data = scheme.model_dump(by_alias=False)  # keys as `_find` names them (fields, not aliases)
    placed: list[tuple[tuple[str | int, ...], tuple[str, ...]]] = []
    for loc, value in leaves(values):
        where = check(scheme, loc, value)
        placed.append((tuple(where), loc))
        node: Any = data
        for key in where[:-1]:
            node = node[key]
        node[where[-1]] = value
    try:
        return Scheme.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        bad = tuple(err["loc"])
        # the value the problem is about: the one at the problem's path, or the first given
        n = len(bad)
        loc = next((loc for w, loc in placed if w[:n] == bad or bad[: len(w)] == w), placed[0][1])
        raise RefusedValue(loc, f"not valid in scheme '{scheme.id}': {err['msg']}") from None
