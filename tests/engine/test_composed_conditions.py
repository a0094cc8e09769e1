"""Composed conditions (all/any/not), event triggers and counts in a window, checked person by
person against a plain Python reading of the same condition."""

from __future__ import annotations

from typing import Any

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import catalogue, scenario, scheme
from scslab.engine.simulation import Simulation
from scslab.schemes.model import DOMAINS

EVENTS = {"fine": -40, "theft": -90, "deed": 25, "gift": 60}
GRADES = [("A", 960, 1100), ("B", 850, 959), ("C", 700, 849), ("D", 0, 699)]


def scheme_text(entry: dict[str, Any], triggers: list[dict[str, Any]]) -> str:
    """A scheme whose list ``composed`` enters on ``entry`` (and leaves when it fails), list
    ``court`` on a theft record (for two months), and one sanction per trigger lasting a month,
    so that the sanction runs in a month exactly when its trigger holds."""
    doc: dict[str, Any] = {
        "id": "composed",
        "name": "composed conditions",
        "subject": "individuals",
        "description": "random conditions",
        "sources": {"paper": "the seed paper"},
        "score": {"base": 1000, "min": 0, "max": 1100, "source": "paper"},
        "categories": [{"id": "all"}],
        "events": [
            {"id": e, "category": "all", "points": p, "domain": "public-order", "assumed": True}
            for e, p in EVENTS.items()
        ],
        "grades": [{"id": g, "min": lo, "max": hi, "assumed": True} for g, lo, hi in GRADES],
        "lists": [
            {
                "id": "composed",
                "kind": "black",
                "entry": entry,
                "exit": {"condition_ends": True},
                "assumed": True,
            },
            {
                "id": "court",
                "kind": "black",
                "entry": {"events": ["theft"]},
                "exit": {"after_months": 2},
                "assumed": True,
            },
        ],
        "sanctions": [
            {
                "id": f"s{k}",
                "trigger": t,
                "domain": "finance",
                "effect": "x",
                "duration_months": 1,
                "assumed": True,
            }
            for k, t in enumerate(triggers)
        ],
    }
    return yaml.safe_dump(doc, sort_keys=False)


def leaves(lists: bool) -> st.SearchStrategy[dict[str, Any]]:
    names = [g for g, _, _ in GRADES]
    grades = st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)
    score = st.integers(650, 1050)
    some = [
        grades.map(lambda g: {"grades": g}),
        score.map(lambda v: {"score_below": v}),
        score.map(lambda v: {"score_at_least": v}),
        st.lists(st.sampled_from(list(EVENTS)), min_size=1, max_size=2, unique=True).map(
            lambda e: {"events": e}
        ),
        st.tuples(st.integers(1, 3), st.sampled_from(list(EVENTS)), st.integers(1, 4)).map(
            lambda x: {"at_least": x[0], "of": x[1], "within_months": x[2]}
        ),
    ]
    if lists:
        some.append(st.sampled_from(["composed", "court"]).map(lambda x: {"list": x}))
    return st.one_of(*some)


def conditions(lists: bool) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaves(lists),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"all": xs}),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: {"any": xs}),
            inner.map(lambda x: {"not": x}),
        ),
        max_leaves=5,
    ).filter(lambda c: depth(c) <= 4 and len(distinct(c)) <= 6)


def depth(c: dict[str, Any]) -> int:
    parts = c.get("all") or c.get("any") or ([c["not"]] if "not" in c else [])
    return 1 + max((depth(p) for p in parts), default=0)


def distinct(c: dict[str, Any]) -> set[str]:
    parts = c.get("all") or c.get("any") or ([c["not"]] if "not" in c else [])
    if not parts:
        return {repr(sorted(c.items()))}
    return set().union(*(distinct(p) for p in parts))


def evaluate(c: dict[str, Any], person: dict[str, Any]) -> bool:
    """The condition, read plainly from one person's month."""
    if "all" in c:
        return all(evaluate(p, person) for p in c["all"])
    if "any" in c:
        return any(evaluate(p, person) for p in c["any"])
    if "not" in c:
        return not evaluate(c["not"], person)
    if "grades" in c:
        return person["grade"] in c["grades"]
    if "score_below" in c:
        return bool(person["score"] < c["score_below"])
    if "score_at_least" in c:
        return bool(person["score"] >= c["score_at_least"])
    if "events" in c:
        return any(person["recorded"].get(e, 0) > 0 for e in c["events"])
    if "list" in c:
        return bool(person["listed"][c["list"]])
    t, window = person["t"], c["within_months"]
    n = sum(k for s, k in person["history"].get(c["of"], {}).items() if t - window < s <= t)
    return n >= c["at_least"]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(
    entry=conditions(lists=False),
    triggers=st.lists(conditions(lists=True), min_size=1, max_size=3),
)
def test_composed_conditions_hold_exactly_where_a_plain_reading_says(
    entry: dict[str, Any], triggers: list[dict[str, Any]]
) -> None:
    """Random compositions of grades, scores, lists, this month's records and counts in a
    window: every person's list and sanctions each month are what the condition says."""
    if not {"all", "any", "not"} & set(entry):  # a plain entry on events lists at once
        entry = {"all": [entry]}
    rates = {"fine": 1.2, "theft": 0.25, "deed": 1.0, "gift": 0.3}
    sim = Simulation(
        scenario(300, 7), scheme=scheme(scheme_text(entry, triggers)), catalogue=catalogue(rates)
    )
    record, _ = sim.execute()
    grades = sim.layout.grades
    ev_ids = list(EVENTS)
    events = np.concatenate(record.panel_events)  # step, person, act, false, recorded, pts, event
    events = events[(events[:, 4] == 1) & (events[:, 6] >= 0)]
    history: list[dict[str, dict[int, int]]] = [{} for _ in range(300)]
    for step, p, e in zip(events[:, 0], events[:, 1], events[:, 6], strict=True):
        by_step = history[p].setdefault(ev_ids[e], {})
        by_step[int(step)] = by_step.get(int(step), 0) + 1
    checked = held = 0
    for t in range(record.steps):
        for p in range(300):
            person = {
                "t": t,
                "score": int(record.panel_score[t, p]),
                "grade": grades[record.panel_grade[t, p]],
                "recorded": {e: k.get(t, 0) for e, k in history[p].items()},
                "history": history[p],
                "listed": {
                    name: record.panel_lists[t, p, li] >= 0
                    for li, name in enumerate(sim.layout.lists)
                },
            }
            assert person["listed"]["composed"] == evaluate(entry, person), (t, p)
            for q, members in enumerate(sim.layout.groups):
                for member in members:  # the same trigger: one group
                    want = evaluate(triggers[int(member.id[1:])], person)
                    assert (record.panel_until[t, p, q] >= 0) == want, (t, p, member.id)
                    held += want
                    checked += 1
    assert checked > 0


COURT = """
id: court
name: A rail ban right after a court finding
subject: individuals
description: an event trigger
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: justice}]
events:
  - {id: court-finding, category: justice, points: -30, domain: courts, source: paper}
  - {id: jaywalking, category: justice, points: -5, domain: transport, source: paper}
sanctions:
  - id: rail-ban
    trigger: {events: [court-finding]}
    domain: transport
    effect: no rail tickets
    duration_months: 3
    source: paper
"""


def test_a_court_finding_bans_rail_travel_that_month_for_exactly_its_duration() -> None:
    """Person by person: the ban starts in the month of a recorded court finding and runs three
    months; a finding while it runs does not extend it; a finding after it ends starts another.
    Other records start nothing."""
    n, months = 400, 12
    sim = Simulation(
        scenario(n, months),
        scheme=scheme(COURT),
        catalogue=catalogue({"court-finding": 0.6, "jaywalking": 3.0}, detect=0.7),
    )
    record, _ = sim.execute()
    events = np.concatenate(record.panel_events)  # step, person, act, false, recorded, pts, event
    found = events[(events[:, 4] == 1) & (events[:, 6] == 0)]
    by_person = [set(found[found[:, 1] == p, 0].tolist()) for p in range(n)]
    courts = 1 << DOMAINS.index("courts")
    starts = 0
    for p in range(n):
        until = -1
        for t in range(months):
            if until >= 0 and t >= until:
                until = -1
            if until < 0 and t in by_person[p]:
                until = t + 3
                starts += 1
                assert record.panel_cause[t, p, 0] & courts, (t, p)
            assert record.panel_until[t, p, 0] == until, (t, p)
    assert starts > 50  # most people have a finding recorded within the year
