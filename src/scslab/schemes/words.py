"""Scheme conditions in words: the one wording of `scslab schemes show` and of `scslab explain`.

A condition reads as what holds of the person (or firm) it is about, so that it stands alone in a
table's ``trigger`` column and after "puts people on it when:" alike: ``in grade D``, ``on list
judgment-defaulters``, ``scoring below 600``, ``(in grade C or D and not on layer spc's list
defaulters)``.
"""

from __future__ import annotations

from scslab.schemes import units
from scslab.schemes.model import Condition, Effect


def condition_words(c: Condition) -> str:
    """Condition ``c`` in words, every kind of condition included (see the module's examples)."""
    if c.of == "household":
        return "anyone in the household " + condition_words(c.model_copy(update={"of": "self"}))
    if c.all_ is not None or c.any_ is not None:
        join = " and " if c.all_ is not None else " or "
        return "(" + join.join(condition_words(p) for p in c.parts) + ")"
    if c.not_ is not None:
        return "not " + condition_words(c.not_)
    if c.at_least is not None:
        return f"with {c.at_least} or more records of {c.of} within {c.within_months} months"
    if c.events:
        return "on a record of " + " or ".join(c.events)
    whose = "" if c.layer is None else f"layer {c.layer}'s "
    if c.grades:
        return f"in {whose}grade " + " or ".join(c.grades)
    if c.list is not None:
        return f"on {whose}list {c.list}"
    if c.representative_listed:
        return "with its legal representative or a director on a blacklist"
    if c.score_below is not None:
        return f"scoring below {units.show(c.score_below)}"
    assert c.score_at_least is not None  # the one kind left
    return f"scoring at least {units.show(c.score_at_least)}"


def points_words(e: Effect) -> str:
    """A consequence's ``points:`` effect in words, for `scslab schemes show`:
    ``-50 points once, as it starts (category credit, factor credit-history)``."""
    assert e.points is not None
    where = [f"{k} {v}" for k, v in (("category", e.category), ("factor", e.factor)) if v]
    return f"{units.signed(e.points)} points once, as it starts" + (
        f" ({', '.join(where)})" if where else ""
    )


def points_started_words(act: str, points: int | float) -> str:
    """A panel person's points moved by a consequence's ``points:`` effect as it started (act
    ``sanction:<id>`` or ``reward:<id>``), for `scslab explain`: ``sanction:court-listed
    started, -50 points``."""
    return f"{act} started, {units.signed(points)} points"
