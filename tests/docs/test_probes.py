"""Every rule the review could not write in the old scheme language (issue 17, "Why") is shown in
docs/schemes.md, and the snippet shown is part of an example scheme that validates and runs.

How a probe is added: write a small scheme under ``examples/probes/`` (or name an existing
example) that holds the snippet, put ``<!-- probe: NAME -->`` on the line before the snippet's
```yaml block in docs/schemes.md, and add NAME to :data:`PROBES` with a check that the short run
shows the rule acting. The snippet must appear in the file line for line (at any indentation).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from scslab import PopulationSpec, Scenario, Simulation
from scslab.engine.kernels import APPEAL_COUNTS
from scslab.engine.simulation import Record
from scslab.population.network import NetworkSpec
from scslab.schemes import load_scheme

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "schemes.md"
MARK = re.compile(r"^<!-- probe: ([a-z0-9-]+) -->$")

Check = Callable[[Simulation, Record], bool]


def _active(item: str) -> Check:
    """A list someone was on, or a sanction or reward someone was under, in some month."""

    def check(sim: Simulation, rec: Record) -> bool:
        if item in sim.layout.lists:
            return bool(rec.listed[..., sim.layout.lists.index(item)].sum() > 0)
        (q,) = [q for q, g in enumerate(sim.layout.groups) if any(c.id == item for c in g)]
        return bool(rec.grp_active[..., q].sum() > 0)

    return check


def _points(event: str, want: set[int]) -> Check:
    """The panel's records of ``event`` moved the score by each of ``want``."""

    def check(sim: Simulation, rec: Record) -> bool:
        ev = np.concatenate(rec.panel_events)  # step, person, act, false, recorded, points, ev
        e = [x.id for x in sim.scheme.events].index(event)
        return want <= set(ev[(ev[:, 6] == e) & (ev[:, 2] >= 0), 5].tolist())

    return check


def _friends(*rules: str) -> Check:
    """Each network rule of ``rules`` moved someone's score (the panel logs rule q as act
    -1 - q)."""

    def check(sim: Simulation, rec: Record) -> bool:
        acts = set(np.concatenate(rec.panel_events)[:, 2].tolist())
        ids = [r.id for r in sim.scheme.network]
        return all(-1 - ids.index(r) in acts for r in rules)

    return check


def _listing_points(sim: Simulation, rec: Record) -> bool:
    """The listing's points effect moved scores by -50 as listings started, and by less where
    the category's cap of 100 a year was nearly spent (a third listing within the year)."""
    from scslab.engine.compiled import EFFECT_POINTS

    ev = np.concatenate(rec.panel_events)
    moved = set(ev[ev[:, 2] <= EFFECT_POINTS, 5].tolist())
    return -50 in moved and moved <= set(range(-50, 0)) and rec.effect_points.sum() < 0


def _appeals_won(sim: Simulation, rec: Record) -> bool:
    counts = dict(zip(APPEAL_COUNTS, rec.appeals.sum(axis=(0, 1)), strict=True))
    return bool(counts["won_false"] > 0 and counts["corrected_false"] > 0)


def _shamed(sim: Simulation, rec: Record) -> bool:
    return bool(_active("names-on-screens")(sim, rec) and rec.extra["income_moved_down"].sum() > 0)


@dataclass(frozen=True)
class Probe:
    words: str  # the rule, in the issue's words
    file: str  # the example scheme that holds the snippet docs/schemes.md shows
    check: Check  # what a short run must show
    rates: dict[str, float] = field(default_factory=dict)  # acts per person-year, to see it
    network: bool = False  # whether its rules read a friendship network


PROBES: dict[str, Probe] = {
    "compound-conditions": Probe(
        "a sanction while on the blacklist and in grade D",
        "examples/probes/compound-conditions.yaml",
        _active("no-public-office"),
        {"unpaid-judgment": 0.3},
    ),
    "event-trigger": Probe(
        "a sanction straight from an event (a rail ban right after a court finding)",
        "examples/probes/event-trigger.yaml",
        _active("rail-ban-after-finding"),
        {"court-debt": 0.3},
    ),
    "points-by": Probe(
        "different points for one act by channel or severity",
        "examples/probes/points-by.yaml",
        lambda s, r: (
            _points("theft", {-20, -50})(s, r) and _points("traffic-violation", {-5})(s, r)
        ),
        {"theft": 1.0},
    ),
    "count-in-a-window": Probe(
        "entry after N good deeds in a window",
        "examples/probes/count-in-a-window.yaml",
        _active("blood-donors"),
        {"blood-donation": 4.0},
    ),
    "weighted-factors": Probe(
        "a weighted-factor score like Sesame's real form",
        "examples/probes/weighted-factors.yaml",
        _points("loan-default", {-70}),  # -200 points of a factor weighted 0.35
        {"loan-default": 0.5},
    ),
    "redlist-joint-rewards": Probe(
        "a redlist with joint rewards",
        "examples/probes/redlist-joint-rewards.yaml",
        lambda s, r: all(
            _active(x)(s, r)
            for x in ("model-residents", "cheaper-heating", "cheaper-transport", "school-priority")
        ),
    ),
    "public-shaming": Probe(
        "public shaming with any effect",
        "examples/public-shaming.yaml",
        _shamed,
        {"unpaid-judgment": 0.3},
    ),
    "appeals": Probe(
        "an appeal that corrects a false record",
        "examples/probes/appeals.yaml",
        _appeals_won,
        {"unpaid-judgment": 1.0},
    ),
    "listed-points": Probe(
        "points off for a place on a list, once as the listing starts",
        "examples/probes/listed-points.yaml",
        _listing_points,
        {"unpaid-judgment": 0.5},
    ),
    "fractional-points": Probe(
        "fractional points",
        "examples/probes/fractional-points.yaml",
        # the record keeps points in engine steps: -0.5 and -2.5 points at resolution 0.1
        lambda s, r: _points("spitting", {-5})(s, r) and _points("traffic-violation", {-25})(s, r),
        {"spitting": 2.0, "traffic-violation": 1.0},
    ),
    "friends-on-a-list": Probe(
        "a friend rule other than friends below a score: friends on a blacklist, in a grade",
        "examples/probes/friends-on-a-list.yaml",
        _friends("blacklisted-friends", "grade-d-friends"),
        {"payment-arrears": 0.5},
        network=True,
    ),
}


def _shown() -> dict[str, list[str]]:
    """The yaml block after each ``<!-- probe: NAME -->`` of docs/schemes.md."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    out: dict[str, list[str]] = {}
    for k, line in enumerate(lines):
        m = MARK.match(line.strip())
        if not m:
            continue
        assert m[1] not in out, f"docs/schemes.md:{k + 1}: probe {m[1]} is marked twice"
        assert lines[k + 1].strip() == "```yaml", f"docs/schemes.md:{k + 2}: no ```yaml block"
        end = next(j for j in range(k + 2, len(lines)) if lines[j].strip() == "```")
        out[m[1]] = textwrap.dedent("\n".join(lines[k + 2 : end])).splitlines()
    return out


def _holds(text: str, block: list[str]) -> bool:
    """Whether ``block`` is in ``text`` line for line, at some indentation."""
    lines = text.splitlines()
    for k in range(len(lines) - len(block) + 1):
        indent = lines[k][: len(lines[k]) - len(lines[k].lstrip())]
        if all(
            lines[k + j] == (indent + b if b else "") or (not b and not lines[k + j].strip())
            for j, b in enumerate(block)
        ):
            return True
    return False


def test_every_probe_of_the_issue_is_shown_in_the_docs() -> None:
    """Each probe is marked once in docs/schemes.md; nothing else is marked."""
    shown = _shown()
    assert set(PROBES) <= set(shown), sorted(set(PROBES) - set(shown))
    assert set(shown) <= set(PROBES), sorted(set(shown) - set(PROBES))


@pytest.mark.parametrize("name", PROBES)
def test_the_snippet_shown_validates_and_runs(name: str) -> None:
    """The snippet is part of its example scheme, which validates, and a short run of it shows
    the rule acting."""
    probe = PROBES[name]
    path = ROOT / probe.file
    assert _holds(path.read_text(encoding="utf-8"), _shown()[name]), (
        f"the snippet docs/schemes.md shows for {name} is not in {probe.file}"
    )
    scenario = Scenario(
        population=PopulationSpec(agents=2000),
        years=1,
        seed=1,
        panel=2000,
        rates=probe.rates,
        network=NetworkSpec(mean_degree=6) if probe.network else None,
    )
    sim = Simulation(scenario, scheme=load_scheme(path))
    record, _ = sim.execute()
    assert probe.check(sim, record), f"{name}: a year of 2,000 people shows no {probe.words}"
