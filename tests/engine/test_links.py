"""Conditions on other layers (``{layer: ID, list: X}``, ``{layer: ID, grades: [...]}``): the
language, the checks a layered scenario makes, the order of layers, and the step reading the
leaves filled from outside it, person by person against a plain reading."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from conftest import catalogue, scenario, scheme
from scslab.engine.links import Linker, order_layers
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Run, Simulation
from scslab.errors import ScenarioError, SchemeError
from scslab.schemes.model import DOMAINS, Scheme

EVENTS = {"fine": -40, "theft": -90, "deed": 25}
GRADES = [("A", 960, 1100), ("B", 850, 959), ("C", 700, 849), ("D", 0, 699)]


def doc(sid: str, lists: list[dict[str, Any]], triggers: list[dict[str, Any]]) -> dict[str, Any]:
    """A scheme: three events, four grades, the lists given, one sanction per trigger lasting a
    month (so that it runs in a month exactly when its trigger holds)."""
    return {
        "id": sid,
        "name": sid,
        "subject": "individuals",
        "description": "conditions on another layer",
        "sources": {"paper": "the seed paper"},
        "score": {"base": 1000, "min": 0, "max": 1100, "source": "paper"},
        "categories": [{"id": "all"}],
        "events": [
            {"id": e, "category": "all", "points": p, "domain": d, "assumed": True}
            for (e, p), d in zip(EVENTS.items(), ("transport", "courts", "civic"), strict=True)
        ],
        "grades": [{"id": g, "min": lo, "max": hi, "assumed": True} for g, lo, hi in GRADES],
        "lists": lists,
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


def listed(lid: str, entry: dict[str, Any], exit_: dict[str, Any]) -> dict[str, Any]:
    return {"id": lid, "kind": "black", "entry": entry, "exit": exit_, "assumed": True}


def text(d: dict[str, Any]) -> str:
    return yaml.safe_dump(d, sort_keys=False)


SPC = listed("defaulters", {"events": ["theft"]}, {"after_months": 2})
READER_LISTS = [
    listed(
        "mirror",
        {"all": [{"layer": "spc", "list": "defaulters"}, {"score_below": 990}]},
        {"condition_ends": True},
    ),
    listed("copy", {"layer": "spc", "list": "defaulters"}, {"condition_ends": True}),
]
READER_TRIGGERS: list[dict[str, Any]] = [
    {"layer": "spc", "list": "defaulters"},
    {"any": [{"layer": "spc", "grades": ["D"]}, {"events": ["fine"]}]},
    {"not": {"layer": "spc", "grades": ["C", "D"]}},
    {"all": [{"list": "copy"}, {"layer": "spc", "grades": ["C", "D"]}]},
]


def reader_text() -> str:
    return text(doc("reader", READER_LISTS, READER_TRIGGERS))


# --- the language -------------------------------------------------------------------------------


def test_a_condition_on_another_layer_is_read_and_located() -> None:
    """``layer:`` goes with list: or grades:, in entries, triggers and inside all/any/not; the
    scheme alone does not check the other layer's names; links() finds each with its place."""
    s = scheme(reader_text())
    found = [(loc, c.layer, c.list, c.grades) for loc, c in s.links()]
    assert found == [
        (("lists", 0, "entry", "all", 0), "spc", "defaulters", ()),
        (("lists", 1, "entry"), "spc", "defaulters", ()),
        (("sanctions", 0, "trigger"), "spc", "defaulters", ()),
        (("sanctions", 1, "trigger", "any", 0), "spc", None, ("D",)),
        (("sanctions", 2, "trigger", "not"), "spc", None, ("C", "D")),
        (("sanctions", 3, "trigger", "all", 1), "spc", None, ("C", "D")),
    ]
    assert s.where(("sanctions", 0, "trigger", "layer")).startswith("test-scheme.yaml:")


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ({"layer": "spc"}, "give exactly one of"),
        ({"layer": "spc", "score_below": 600}, "layer: spc goes with list: or grades:"),
        ({"layer": "spc", "list": "x", "of": "household"}, "remove `of:`"),
        ({"layer": "Not A Slug!", "list": "x"}, "layer"),
    ],
)
def test_a_malformed_condition_on_another_layer_is_refused_where_it_is(
    trigger: dict[str, Any], message: str
) -> None:
    with pytest.raises(SchemeError) as err:
        scheme(text(doc("bad", [], [trigger])))
    assert "test-scheme.yaml:" in str(err.value) and message in str(err.value)


def test_a_scheme_reading_another_layer_is_refused_when_run_alone(tmp_path: Path) -> None:
    """Alone there is no layer to read: refused before anything is allocated, with the place of
    the condition; ``scslab run`` says so in one line and exits with status 2."""
    rates = {"fine": 0.5, "theft": 0.1, "deed": 0.5}
    with pytest.raises(SchemeError, match=r"test-scheme\.yaml:\d+:\d+: .*reads layer 'spc'"):
        Simulation(scenario(50, 2), scheme=scheme(reader_text()), catalogue=catalogue(rates))
    path = tmp_path / "reader.yaml"
    path.write_text(reader_text())
    from scslab.behaviour.rates import catalogue_text

    acts = tmp_path / "acts.yaml"
    acts.write_text(catalogue_text(catalogue(rates)))
    done = subprocess.run(
        [sys.executable, "-m", "scslab", "run", "--scheme", str(path), "--agents", "100"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert f"{path}:" in done.stderr and "layered scenario" in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip().count("\n") == 0
    # as a file, the scheme is valid: the other layer's names are a scenario's to check
    done = subprocess.run(
        [sys.executable, "-m", "scslab", "schemes", "validate", str(path), "--acts", str(acts)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "ok:" in done.stdout, done.stderr


# --- checks and order ---------------------------------------------------------------------------


def layer(sid: str, triggers: list[dict[str, Any]]) -> Scheme:
    return scheme(text(doc(sid, [SPC], triggers)))


def test_layers_are_ordered_after_the_layers_they_read() -> None:
    """A layer takes its month's step after every layer it reads; otherwise the order given."""
    city = layer("city", [{"layer": "sesame", "grades": ["D"]}])
    sesame = layer("sesame", [{"layer": "spc", "list": "defaulters"}])
    spc = layer("spc", [{"grades": ["D"]}])
    free = layer("free", [{"grades": ["D"]}])
    given = [("city", city), ("sesame", sesame), ("free", free), ("spc", spc)]
    assert order_layers(given) == (2, 3, 1, 0)
    assert order_layers([("spc", spc), ("free", free)]) == (0, 1)


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        ({"layer": "spd", "list": "defaulters"}, "unknown layer 'spd'; did you mean 'spc'?"),
        ({"layer": "spc", "list": "defaulter"}, "unknown list 'defaulter'; did you mean"),
        ({"all": [{"layer": "spc", "grades": ["A", "E"]}]}, "unknown grade 'E'"),
        ({"layer": "city", "list": "defaulters"}, "layer 'city' reads itself"),
    ],
)
def test_a_condition_naming_what_is_not_there_is_refused_at_its_place(
    trigger: dict[str, Any], message: str
) -> None:
    city = layer("city", [{"grades": ["D"]}, trigger])
    with pytest.raises(ScenarioError) as err:
        order_layers([("spc", layer("spc", [])), ("city", city)])
    line = str(err.value)
    assert message in line, line
    # the place of the condition in its scheme file: the second sanction's trigger
    assert re.match(r"test-scheme\.yaml:\d+:\d+: sanctions\.1\.trigger\.", line), line


def test_layers_that_read_each_other_in_a_cycle_are_refused() -> None:
    """a -> b -> c -> a within one month has no order: refused with the cycle and the place."""
    a = layer("a", [{"layer": "c", "grades": ["D"]}])
    b = layer("b", [{"layer": "a", "list": "defaulters"}])
    c = layer("c", [{"any": [{"grades": ["A"]}, {"layer": "b", "grades": ["D"]}]}])
    free = layer("free", [])
    with pytest.raises(ScenarioError) as err:
        order_layers([("free", free), ("a", a), ("b", b), ("c", c)])
    line = str(err.value)
    assert "a -> c -> b -> a" in line and "cycle" in line
    assert line.startswith("test-scheme.yaml:") and "sanctions.0.trigger.layer" in line


# --- the step -----------------------------------------------------------------------------------


def test_the_step_reads_the_leaves_filled_from_outside_exactly_as_a_plain_reading() -> None:
    """Each month every person gets random bits for the leaves on layer spc (and random causes),
    as a layered run would fill them; every list and sanction of the reading layer then holds
    exactly when the plain reading of its condition does, and one started by a lone condition on
    the other layer carries that layer's cause."""
    n, months = 400, 8
    rates = {"fine": 0.6, "theft": 0.15, "deed": 0.5}
    sim = Simulation(
        scenario(n, months, seed=3),
        scheme=scheme(reader_text()),
        catalogue=catalogue(rates),
        linked=True,
    )
    ext_of = {(layer_id, kind, names): bit for bit, layer_id, kind, names in sim.layout.external}
    assert set(ext_of) == {
        ("spc", "list", ("defaulters",)),
        ("spc", "grades", ("D",)),
        ("spc", "grades", ("C", "D")),
    }
    run = Run(sim)
    ext, why = np.zeros(n, np.uint16), np.zeros(n, np.uint32)
    run.traits = run.traits._replace(ext=ext, ext_why=why)
    rng = np.random.default_rng(5)
    spc_grades = [g for g, _, _ in GRADES]
    grades = sim.layout.grades
    lists = sim.layout.lists
    fine = sim.rates.act_ids.index("fine")
    checked = started = 0
    for t in range(months):
        # the other layer: listed or not, a grade; its cause a random domain
        on = rng.random(n) < 0.3
        g = rng.integers(0, 4, n)
        ext[:] = 0
        ext[on] |= ext_of[("spc", "list", ("defaulters",))]
        ext[g == 3] |= ext_of[("spc", "grades", ("D",))]
        ext[g >= 2] |= ext_of[("spc", "grades", ("C", "D"))]
        why[:] = np.where(ext != 0, np.uint32(1) << rng.integers(0, len(DOMAINS), n), 0)
        before = run.state.grp_until.copy()
        run.advance(t)
        st = run.state
        recorded_fine = _recorded(run, t, fine)
        for p in range(n):
            other = {"listed": bool(on[p]), "grade": spc_grades[g[p]]}
            own_copy = st.list_since[p, lists.index("copy")] >= 0
            mirror = other["listed"] and st.score[p] < 990
            assert (st.list_since[p, lists.index("mirror")] >= 0) == mirror, (t, p)
            assert own_copy == other["listed"], (t, p)
            want = [
                other["listed"],
                other["grade"] == "D" or p in recorded_fine,
                other["grade"] not in ("C", "D"),
                own_copy and other["grade"] in ("C", "D"),
            ]
            for q, members in enumerate(sim.layout.groups):
                k = int(members[0].id[1:])
                assert (st.grp_until[p, q] >= 0) == want[k], (t, p, k)
                checked += 1
                if k == 0 and want[k] and before[p, q] < 0:  # started: the other layer's cause
                    assert st.grp_cause[p, q] == why[p], (t, p)
                    started += 1
            li = lists.index("copy")
            if st.list_since[p, li] == t + sim.history_months:  # entered this month
                assert st.list_cause[p, li] == why[p]
        assert grades  # the reader's own grades are kept as ever
    assert checked == n * months * 4 and started > 50


def _recorded(run: Run, t: int, act: int) -> set[int]:
    """People with a recorded ``act`` in month ``t`` (everyone is in the panel)."""
    ev = run.record.panel_events[t]  # step, person, act, false, recorded, points, event
    return {int(p) for p in ev[(ev[:, 2] == act) & (ev[:, 4] == 1), 1]}


# --- filling from other layers' state -----------------------------------------------------------


def test_the_leaves_are_filled_from_the_other_layers_state() -> None:
    """Linker.fill sets each leaf's bit exactly where the other layer's list or grade holds,
    with that listing's cause, or the causes behind that layer's score; rows a layer does not
    hold hold none, nor do any while the layer is not in force."""
    n = 300
    rates = {"fine": 3.0, "theft": 5.0, "deed": 0.5}
    reader = Simulation(
        scenario(n, 4, seed=2),
        scheme=scheme(reader_text()),
        catalogue=catalogue(rates),
        linked=True,
    )
    spc_sim = Simulation(
        scenario(n, 4, seed=9), scheme=layer("spc", [{"grades": ["D"]}]), catalogue=catalogue(rates)
    )
    spc = Run(spc_sim)
    for t in range(4):
        spc.advance(t)
    st = spc.state
    assert (st.list_since[:, 0] >= 0).any() and (st.list_since[:, 0] < 0).any()
    assert {0, 1, 2, 3} <= set(st.grade.tolist())
    linker = Linker(reader.layout, {"spc": spc_sim.layout})
    assert linker.layers == ("spc",)
    ext, why = linker.columns(n)
    linker.fill(ext, why, {"spc": st})
    bits = {(kind, names): bit for bit, _, kind, names in reader.layout.external}
    on = st.list_since[:, 0] >= 0
    d, cd = st.grade == 3, st.grade >= 2
    want = (
        np.where(on, bits[("list", ("defaulters",))], 0)
        | np.where(d, bits[("grades", ("D",))], 0)
        | np.where(cd, bits[("grades", ("C", "D"))], 0)
    )
    assert (ext == want).all()
    cause = np.where(on, st.list_cause[:, 0], 0) | np.where(cd, st.cause, 0)
    assert (why == cause).all()
    # spans: the layer holds population rows [100, 400), the reader rows [50, 350): the
    # reader's row i is the layer's row i - 50, and the reader's first 50 rows hold nothing
    linker.fill(ext, why, {"spc": st}, spans={"spc": (100, 400)}, reader=(50, 350))
    assert (ext[:50] == 0).all() and (why[:50] == 0).all()
    assert (ext[50:] == want[:250]).all() and (why[50:] == cause[:250]).all()
    # a layer not in force this month holds none of its leaves
    linker.fill(ext, why, {})
    assert not ext.any() and not why.any()
    # nothing read: zero-width columns, as in a run without layers
    alone = Linker(spc_sim.layout, {})
    assert [c.shape for c in alone.columns(n)] == [(0,), (0,)]


# --- two layers -------------------------------------------------------------------------------

SPC_LAYER = """
id: court
name: A court list and two grades
subject: individuals
description: deductions, a list on a low score, two grades, decay
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper, history_months: 2}
categories: [{id: finance}]
events:
  - {id: payment-arrears, category: finance, points: -100, domain: courts, source: paper}
grades:
  - {id: A, min: 900, max: 1000, source: paper}
  - {id: C, min: 0, max: 899, source: paper}
lists:
  - id: arrears
    kind: black
    entry: {score_below: 850}
    exit: {after_months: 2}
    assumed: true
decay: {points_per_month: 40, after_clean_months: 1, assumed: true}
"""

READER_LAYER = """
id: reader
name: Reads the court's list and grades
subject: individuals
description: sanctions on another layer's list and grades
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: finance}]
events:
  - {id: payment-arrears, category: finance, points: -5, domain: finance, source: paper}
lists:
  - id: copy
    kind: black
    entry: {layer: spc, list: arrears}
    exit: {condition_ends: true}
    assumed: true
sanctions:
  - {id: s0, trigger: {layer: spc, list: arrears}, domain: finance, effect: x, duration_months: 1,
     assumed: true}
  - {id: s1, trigger: {layer: spc, grades: [C]}, domain: housing, effect: x, duration_months: 1,
     assumed: true}
  - id: s2
    trigger: {all: [{not: {layer: spc, list: arrears}}, {score_below: 1000}]}
    domain: finance
    effect: x
    duration_months: 1
    assumed: true
"""


def _reader_and_court(
    tmp_path: Path,
    agents: int,
    reader: dict[str, object] | None = None,
    court: dict[str, object] | None = None,
) -> Scenario:
    """Half a year of a layer ``reader`` (READER_LAYER) listed before the layer ``spc``
    (SPC_LAYER) it reads, with frequent, well-detected arrears; ``reader`` and ``court`` add to
    each layer's entry (its regions, its months)."""
    from scslab.behaviour.rates import catalogue_text

    (tmp_path / "court.yaml").write_text(SPC_LAYER)
    (tmp_path / "reader.yaml").write_text(READER_LAYER)
    acts = tmp_path / "acts.yaml"
    acts.write_text(catalogue_text(catalogue({"payment-arrears": 2.0}, detect=0.8)))
    return Scenario.model_validate(
        {
            "acts": str(acts),
            "population": {"agents": agents},
            "years": 0.5,
            "seed": 5,
            "panel": 20,
            "layers": [
                {"id": "reader", "scheme": str(tmp_path / "reader.yaml"), **(reader or {})},
                {"id": "spc", "scheme": str(tmp_path / "court.yaml"), **(court or {})},
            ],
        }
    )


def test_a_layer_reading_another_follows_it_person_by_person(tmp_path: Path) -> None:
    """A reader over two regions, listed first, and the layer it reads everywhere until month 4
    of 6: the reader steps after it; every month each of the reader's people is on its list and
    under its sanctions exactly when the plain reading of the other layer's state of that month
    says, with that layer's causes; once that layer is abandoned its list and grades hold for
    nobody."""
    from scslab.engine.layers import LayeredSimulation

    layered = _reader_and_court(tmp_path, 1500, reader={"where": ["suburbs"]}, court={"until": 4})
    lsim = LayeredSimulation(layered)
    assert lsim.order == (1, 0)
    run = lsim.start()
    reader, spc = run.runs
    lo, hi = lsim.layers[0].lo, lsim.layers[0].hi
    assert (lsim.layers[1].lo, lsim.layers[1].hi) == (0, lsim.agents) and 0 < lo < hi
    groups = {members[0].id: q for q, members in enumerate(reader.sim.layout.groups)}
    held = {"s0": 0, "s1": 0, "s2": 0}
    # in the months of history the reader reads the court living its two months of history
    assert set(run.states(-2)) == {"spc"} and not run.states(-3)
    assert set(run.states(3)) == {"reader", "spc"} and set(run.states(4)) == {"reader"}
    for t in range(6):
        before = reader.state.grp_until.copy()
        run.advance(t)
        rs, ss = reader.state, spc.state
        for p in range(hi - lo):
            r = lo + p  # the person's row in spc's state (spc holds everyone)
            listed = t < 4 and ss.list_since[r, 0] >= 0
            grade_c = t < 4 and ss.grade[r] == 1
            want = {"s0": listed, "s1": grade_c, "s2": not listed and rs.score[p] < 1000}
            assert (rs.list_since[p, 0] >= 0) == listed, (t, p)
            for name, q in groups.items():
                assert (rs.grp_until[p, q] >= 0) == want[name], (t, p, name)
                held[name] += want[name]
            q = groups["s0"]
            if want["s0"] and before[p, q] < 0:  # started this month: the listing's cause
                assert rs.grp_cause[p, q] == ss.list_cause[r, 0] != 0
    assert min(held.values()) > 15


def test_patchwork_2018_links_sesame_and_rongcheng_to_the_court_list() -> None:
    """The built-in composite: the court's layer steps first; Sesame's and Rongcheng's schemes are
    their built-ins with the links added and nothing else changed; every link is marked."""
    from scslab.engine.layers import LayeredSimulation
    from scslab.engine.scenario import load_scenario
    from scslab.schemes import load_scheme

    scenario = load_scenario("patchwork-2018")
    lsim = LayeredSimulation(scenario)
    ids = [ls.id for ls in lsim.layers]
    assert ids == ["spc", "sesame", "rongcheng"] and ids[lsim.order[0]] == "spc"
    for ls, builtin in zip(lsim.layers[1:], ("sesame-credit", "rongcheng-2014"), strict=True):
        linked, plain = ls.sim.scheme, load_scheme(builtin)
        found = linked.links()
        assert found and all(c.layer == "spc" and c.list == "judgment-defaulters" for _, c in found)
        mine = linked.model_dump(mode="json", exclude={"id", "name", "description", "sources"})
        theirs = plain.model_dump(mode="json", exclude={"id", "name", "description", "sources"})
        if builtin == "sesame-credit":  # three sanctions added, all assumed, one moves points
            added = [s for s in mine["sanctions"] if s["id"].startswith("defaulter-")]
            assert len(added) == 3 and all(s["assumed"] for s in added)
            moves = [e for s in added for e in s["effects"] if e["points"] is not None]
            assert [(e["points"], e["factor"], e["assumed"]) for e in moves] == [
                (-143, "credit-history", True)
            ]
            mine["sanctions"] = [s for s in mine["sanctions"] if s not in added]
        else:  # the redlist's entry gains one condition
            entry = mine["lists"][0]["entry"]["all"]
            assert entry[-1]["not"]["layer"] == "spc" and mine["lists"][0]["assumed"]
            mine["lists"][0]["entry"]["all"] = entry[:-1]
        assert mine == theirs, builtin


def test_layers_reading_each_other_are_refused_by_scslab_run(tmp_path: Path) -> None:
    """A cycle of links in a layered scenario: one line with the place of a link in its scheme
    file, status 2, before anything runs."""
    a = text(doc("a", [SPC], [{"layer": "b", "list": "defaulters"}]))
    b = text(doc("b", [SPC], [{"layer": "a", "grades": ["D"]}]))
    (tmp_path / "a.yaml").write_text(a)
    (tmp_path / "b.yaml").write_text(b)
    from scslab.behaviour.rates import catalogue_text

    acts = catalogue({"fine": 0.5, "theft": 0.1, "deed": 0.5})
    (tmp_path / "acts.yaml").write_text(catalogue_text(acts))
    (tmp_path / "s.yaml").write_text(
        "acts: acts.yaml\npopulation: {agents: 500}\nyears: 0.5\nlayers:\n"
        "  - {id: a, scheme: a.yaml}\n  - {id: b, scheme: b.yaml}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "scslab", "run", str(tmp_path / "s.yaml"), "--out", "x"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert re.search(r"a\.yaml:\d+:\d+: sanctions\.0\.trigger\.layer: .*a -> b -> a", lines[0])
    assert not (tmp_path / "x").exists()


def test_the_audit_counts_sanctions_through_another_layer_as_out_of_context(
    tmp_path: Path,
) -> None:
    """The reader's sanctions on the court's list or grade carry the court's causes (its record's
    domain, courts) and count wholly out of context, whatever their own domain; the one that
    holds while the court does *not* list a person is judged by its own causes as ever."""
    from scslab.analysis.audit import cross_context, through_layers
    from scslab.engine.layers import LayeredSimulation
    from scslab.layered import run_layered

    layered = _reader_and_court(tmp_path, 1000)
    results = run_layered(LayeredSimulation(layered), tmp_path / "run")["reader"]
    reader = scheme(READER_LAYER)
    assert [through_layers(c.trigger) for c in reader.sanctions] == [True, True, False]
    cc = cross_context(results, reader)
    rows = {r["sanction"]: r for r in cc["proportionality"]}
    assert rows["s0"]["cause_domains"] == ["courts"] and rows["s0"]["life_domain"] == "finance"
    assert rows["s0"]["cross_context_share"] == 1.0 and rows["s0"]["through_layers"]
    assert rows["s1"]["cross_context_share"] == 1.0 and rows["s1"]["through_layers"]
    assert not rows["s2"]["through_layers"]
    months = {k: r["sanction_months"] for k, r in rows.items()}
    assert min(months.values()) > 0
    total = sum(months.values())
    assert cc["cross_layer_share"] == pytest.approx((months["s0"] + months["s1"]) / total)


def test_a_linked_layer_is_audited_by_replaying_its_whole_layered_run(tmp_path: Path) -> None:
    """Replaying the reader replays the court with it and reproduces the reader's stored tables
    month by month; the layered folder's audit gives each layer what auditing it alone gives;
    the CLI shows the cross-layer share. A linked layer's folder away from its layered run, a
    missing layer and an interrupted layer are refused in one line."""
    import json
    import shutil

    import duckdb

    from helpers import scslab
    from scslab.analysis.audit import audit, audit_layered
    from scslab.analysis.replay import replay
    from scslab.engine.layers import LayeredSimulation
    from scslab.errors import ScslabError
    from scslab.layered import run_layered
    from scslab.store.results import Results

    folder = tmp_path / "run"
    got = run_layered(LayeredSimulation(_reader_and_court(tmp_path, 800)), folder)
    reader, court = got["reader"], got["spc"]
    sim, record = replay(reader)
    assert sim.scheme.links() and sim.last_run.record is record
    stored = reader.sql("SELECT sum(mean_score * agents) FROM steps GROUP BY step ORDER BY step")
    assert [r[0] for r in stored.fetchall()] == record.score_sum.sum(axis=1).tolist()
    whole = audit_layered(folder)  # each audit checks its replay reproduces the stored run
    assert set(whole) == {"reader", "spc"}
    alone = audit(reader)
    assert whole["reader"] == alone and alone["cross_context"]["cross_layer_share"] > 0
    assert whole["spc"] == audit(court)  # the court reads nobody: replayed alone, the same
    for r in got.values():
        r.close()

    done = scslab("audit", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["layered"] and doc["layers"]["reader"]["cross_context"] == alone["cross_context"]
    burden = doc["regions"]
    assert burden["layers"] == ["reader", "spc"] and burden["months"] == 6
    with duckdb.connect(str(folder / "layers" / "reader" / "results.duckdb")) as con:
        own = dict(con.execute("SELECT region, sum(sanctioned) FROM steps GROUP BY ALL").fetchall())
    for r in burden["regions"]:
        assert r["by_layer"]["reader"] == pytest.approx(own[r["region"]] * 1000 / r["people"])
        assert r["all_layers"] == pytest.approx(sum(r["by_layer"].values()))
    assert sum(r["people"] for r in burden["regions"]) == 800
    refused = scslab("audit", str(folder), "--ledger", str(tmp_path / "l.json"))
    assert refused.returncode == 2 and refused.stderr.strip().count("\n") == 0
    assert "--ledger" in refused.stderr

    away = tmp_path / "away"
    shutil.copytree(folder / "layers" / "reader", away)
    with Results(away) as r, pytest.raises(ScslabError, match="needs that run's folder"):
        replay(r)
    court_file = folder / "layers" / "spc" / "results.duckdb"
    with duckdb.connect(str(court_file)) as con:
        con.execute("UPDATE runs SET status = 'interrupted'")
    with Results(folder / "layers" / "reader") as r, pytest.raises(ScslabError, match="interr"):
        replay(r)
    court_file.rename(tmp_path / "spc.duckdb")
    with Results(folder / "layers" / "reader") as r, pytest.raises(ScslabError, match="missing"):
        replay(r)


def test_a_layered_run_stopped_and_resumed_from_its_checkpoint_is_the_run_straight(
    tmp_path: Path,
) -> None:
    """Checkpoints every 2 months of two linked layers, stopped after month 3: the checkpoint of
    month 2 is kept beside the partial results; resuming does months 3 to 6 only, and every
    layer's tables, and the layers' tables together, are the straight run's. A finished layered
    run has nothing to resume (status 2)."""
    from helpers import assert_same_tables, scslab, tables
    from scslab.engine.checkpoint import MANIFEST, read_manifest
    from scslab.engine.layers import LayeredSimulation
    from scslab.engine.simulation import RunInterrupted
    from scslab.layered import TOGETHER, resume_layered, run_layered

    layered = _reader_and_court(tmp_path, 600, court={"until": 5})
    straight = run_layered(LayeredSimulation(layered), tmp_path / "straight")

    def stop_after_3(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    folder = tmp_path / "stopped"
    with pytest.raises(RunInterrupted):
        run_layered(LayeredSimulation(layered), folder, progress=stop_after_3, every=2)
    manifest = read_manifest(folder)
    assert manifest.step == 2 and set(manifest.extra["layered"]["schemes"]) == {"reader", "spc"}
    assert (folder / "layers" / "reader" / "results.partial.duckdb").is_file()
    months: list[int] = []
    _, resumed = resume_layered(manifest, progress=lambda done, total: months.append(done))
    assert months == [3, 4, 5, 6]  # from the checkpoint, not from the start
    assert not (folder / MANIFEST).exists()
    for lid, r in straight.items():
        assert_same_tables(tables(resumed[lid]), tables(r), lid)
        r.close()
        resumed[lid].close()
    assert_same_tables(tables(folder / TOGETHER), tables(tmp_path / "straight" / TOGETHER))
    again = scslab("resume", str(folder))
    assert again.returncode == 2 and "no checkpoint" in again.stderr


def test_scslab_resume_continues_a_layered_run(tmp_path: Path) -> None:
    """`scslab run --checkpoint-every` on a layered scenario writes a checkpoint that a run
    stopped on its way keeps; `scslab resume --json` finishes it with every layer's summary."""
    import json

    from helpers import scslab
    from scslab.engine.layers import LayeredSimulation
    from scslab.engine.simulation import RunInterrupted
    from scslab.layered import run_layered

    def stop_after_2(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    folder = tmp_path / "run"
    with pytest.raises(RunInterrupted):
        lsim = LayeredSimulation(_reader_and_court(tmp_path, 300))
        run_layered(lsim, folder, progress=stop_after_2, every=1)
    done = scslab("resume", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["layered"] and doc["steps"] == 6 and set(doc["layers"]) == {"reader", "spc"}


HELD_LAYER = """
id: held
name: Off the list through another scheme's grade
subject: individuals
description: a list entered on one's own record, left once another layer grades one A
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: finance}]
events:
  - {id: payment-arrears, category: finance, points: -5, domain: finance, source: paper}
lists:
  - id: held
    kind: black
    entry: {events: [payment-arrears]}
    exit:
      when: {layer: spc, grades: [A]}
    assumed: true
"""


def test_a_list_is_left_once_another_layer_grades_the_person(tmp_path: Path) -> None:
    """`exit: {when: {layer: spc, grades: [A]}}`: every month, each person is on the list
    exactly when they were on it before or were recorded this month, and the court does not
    grade them A this month (as its step of the month left it); people both enter and leave."""
    from scslab.engine.layers import LayeredSimulation

    layered = _reader_and_court(tmp_path, 1500)
    (tmp_path / "reader.yaml").write_text(HELD_LAYER)
    lsim = LayeredSimulation(layered)
    assert [ls.id for ls in lsim.layers] == ["reader", "spc"] and lsim.order == (1, 0)
    run = lsim.start()
    reader, spc = run.runs
    entered = left = 0
    for t in range(6):
        before = reader.state.list_since[:, 0] >= 0
        run.advance(t)
        rs, ss = reader.state, spc.state
        graded_a = ss.grade == 0  # grades from high to low: A is 0
        recorded = rs.last_neg == t
        now = rs.list_since[:, 0] >= 0
        assert np.array_equal(now, (before | recorded) & ~graded_a), t
        entered += int((now & ~before).sum())
        left += int((before & ~now).sum())
    assert entered > 15 and left > 15


def test_an_exit_condition_is_refused_where_it_cannot_hold(tmp_path: Path) -> None:
    """An exit condition on this scheme's own list, or on a layer the scenario lacks, is
    refused at its line and column."""
    from scslab.engine.layers import LayeredSimulation
    from scslab.schemes.loader import load_scheme

    own = HELD_LAYER.replace("when: {layer: spc, grades: [A]}", "when: {list: held}")
    (tmp_path / "own.yaml").write_text(own)
    with pytest.raises(
        SchemeError, match=r"own\.yaml:\d+:\d+: lists\.0\.exit\.when: .*this scheme's lists"
    ):
        load_scheme(tmp_path / "own.yaml")
    layered = _reader_and_court(tmp_path, 100)
    (tmp_path / "reader.yaml").write_text(HELD_LAYER.replace("layer: spc", "layer: nowhere"))
    with pytest.raises(ScenarioError, match=r"reader\.yaml:\d+:\d+: lists\.0\.exit\.when\.layer"):
        LayeredSimulation(layered)
