"""Children and generations: children as rows of their households, ageing, coming of age, and
household consequences that name whom they reach."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import catalogue, scenario, scheme
from scslab.engine.ageing import CAME_OF_AGE, age_month
from scslab.engine.checkpoint import columns, restore
from scslab.engine.scenario import Scenario
from scslab.population import AGE_BANDS, Children, PopulationSpec, generate
from scslab.population.individuals import BAND_START_MONTHS
from scslab.runs import Simulation

LISTED = """
id: defaulters
name: Defaulter list
subject: individuals
description: list entry on an unpaid judgment
sources: {spc: Supreme People's Court}
score: {base: 1, min: 0, max: 1, assumed: true}
categories: [{id: courts}]
events:
  - {id: unpaid-judgment, category: courts, points: 0, domain: courts, source: spc}
lists:
  - id: laolai
    kind: black
    entry: {events: [unpaid-judgment]}
    exit: {after_months: 3}
    assumed: true
sanctions:
  - id: private-schools
    trigger: {list: laolai, of: household}
    reaches: children
    domain: education
    effect: the household's children are refused by private schools
    assumed: true
  - id: spouse-travel
    trigger: {list: laolai, of: household}
    reaches: spouse
    domain: travel-abroad
    effect: the other adults of the household may not leave the country
    assumed: true
"""


def test_children_join_their_households_and_leave_the_adults_as_they_were() -> None:
    """Adults are drawn as without children (same traits, same order); each child sits in an
    adult's household, with its region and hukou, aged 0 to 17; adults' months of birth agree
    with their age bands."""
    plain = generate(PopulationSpec(agents=3000), seed=5)
    kids = generate(PopulationSpec(agents=3000, children=Children()), seed=5)
    child = kids.age == len(AGE_BANDS)
    assert kids.n == 3000 + child.sum() and child.sum() > 500
    for trait in ("region", "hukou", "age", "income"):
        assert (getattr(kids, trait)[~child] == getattr(plain, trait)).all()
    assert kids.birth is not None
    age = -kids.birth.astype(int)
    assert ((age < 216) == child).all() and age.min() >= 0
    edges = np.array([*BAND_START_MONTHS, 960])
    band = np.searchsorted(edges, age[~child], side="right") - 1
    assert (band == kids.age[~child]).all()
    assert (np.diff(kids.household) >= 0).all()  # households stay contiguous
    H = int(kids.household.max()) + 1
    adults = np.bincount(kids.household, weights=~child, minlength=H)
    assert (adults[kids.household[child]] > 0).all()  # every child lives with an adult
    first = np.searchsorted(kids.household, np.arange(H))
    for trait in (kids.region, kids.hukou):
        assert (trait == trait[first][kids.household]).all()


def test_a_population_without_children_keeps_its_cells() -> None:
    """The default spec has no children: four age bands, no months of birth."""
    spec = PopulationSpec(agents=100)
    assert spec.children is None and spec.levels()["age"] == AGE_BANDS
    assert generate(spec, 1).birth is None
    assert not spec.cells().minor().any()
    kids = PopulationSpec(agents=100, children=Children())
    assert kids.levels()["age"] == (*AGE_BANDS, "0-17")
    assert kids.cells().minor().sum() == spec.n_cells() // len(AGE_BANDS)


def test_household_consequences_reach_children_or_spouses_person_by_person() -> None:
    """A listing bars exactly the household's children (reaches: children) and exactly its
    other adults (reaches: spouse) the month after; children are never listed themselves."""
    sim = Simulation(
        scenario(1500, 10, seed=2, children=Children()),
        scheme=scheme(LISTED),
        catalogue=catalogue({"unpaid-judgment": 0.15}),
    )
    record, _ = sim.execute()
    pop = sim.population()
    assert pop.birth is not None
    q = {c.id: k for k, c in sim.layout.consequences}
    listed = record.panel_lists[:, :, 0] >= 0  # [month, person]: everyone, in order
    school = record.panel_until[:, :, q["private-schools"]] >= 0
    spouse = record.panel_until[:, :, q["spouse-travel"]] >= 0
    H = int(pop.household.max()) + 1
    for t in range(1, 10):
        minor = t - pop.birth.astype(int) < 216
        assert not listed[t][minor].any()
        per_household = np.bincount(pop.household, weights=listed[t - 1], minlength=H)
        others = per_household[pop.household] - listed[t - 1]  # listed members but oneself
        assert (school[t] == (minor & (per_household[pop.household] > 0))).all()
        assert (spouse[t] == (~minor & (others > 0))).all()
    assert school.sum() > 20 and spouse.sum() > 20
    assert record.dom_s.sum() > 0


def test_ageing_moves_exactly_those_who_reach_a_band_edge() -> None:
    """Month by month, each person's cell holds the age band of their age that month, and the
    counts per cell follow; children reaching 18 leave the children's cells."""
    sim = Simulation(
        scenario(2000, 14, seed=4, children=Children()),
        scheme=scheme(LISTED),
        catalogue=catalogue({"unpaid-judgment": 0.0}),
    )
    run = sim.start()
    pop = run.pop
    assert pop.birth is not None
    stride = 5  # income bands: the age level's stride in a cell's code
    edges = np.array([216, *BAND_START_MONTHS[1:], 10_000])
    moved = 0
    for t in range(14):
        before = run.traits.cell.copy()
        run.advance(t)
        age = t - pop.birth.astype(int)
        level = np.where(age < 216, len(AGE_BANDS), np.searchsorted(edges, age, side="right") - 1)
        assert (run.traits.cell // stride % (len(AGE_BANDS) + 1) == level).all()
        assert (run.traits.cell % stride == pop.income).all()  # nothing else changes
        changed = before != run.traits.cell
        assert (changed == ((t >= 1) & np.isin(age, [216, *BAND_START_MONTHS[1:]]))).all()
        moved += changed.sum()
        assert (run.people == np.bincount(run.traits.cell, minlength=len(run.people))).all()
        assert (run.record.agents[t] == run.people).all()
    assert moved > 50


@pytest.mark.parametrize("inherit", [False, True])
def test_a_child_who_comes_of_age_starts_at_base_or_with_the_parents_score(inherit: bool) -> None:
    """At 18 a child becomes an adult: from the base, or (inherit_record) from the score, causes
    and last negative record of the household's lowest-scoring adult; the lineage says whether a
    household adult had been sanctioned."""
    sim = Simulation(
        scenario(2000, 3, seed=6, children=Children(inherit_record=inherit)),
        scheme=scheme(LISTED.replace("max: 1", "max: 100")),
        catalogue=catalogue({"unpaid-judgment": 0.0}),
    )
    run = sim.start()
    pop = run.pop
    assert pop.birth is not None
    st = run.state
    rng = np.random.default_rng(0)
    st.score[:] = rng.integers(0, 100, pop.n)
    st.cause[:] = rng.integers(1, 1000, pop.n)
    st.last_neg[:] = rng.integers(-50, 0, pop.n)
    run.ever[:] = rng.integers(0, 2, pop.n)  # EVER_SANCTIONED at random
    before = (st.score.copy(), st.cause.copy(), st.last_neg.copy())
    t = 2
    age_month(
        t,
        pop.birth,
        pop.household,
        run.traits.cell,
        run.people,
        run.traits.minor,
        st,
        run.ever,
        run.lineage,
        inherit,
    )
    grown = np.flatnonzero(t - pop.birth.astype(int) == 216)
    assert len(grown) >= 3
    adult = pop.age < len(AGE_BANDS)
    for i in grown:
        adults = np.flatnonzero((pop.household == pop.household[i]) & adult)
        parent = adults[np.argmin(before[0][adults])]
        want = [b[parent] for b in before] if inherit else [b[i] for b in before]
        assert [st.score[i], st.cause[i], st.last_neg[i]] == want
        assert run.lineage[i] == CAME_OF_AGE | (2 if run.ever[adults].any() else 0)
    others = np.setdiff1d(np.arange(pop.n), grown)
    assert (st.score[others] == before[0][others]).all()
    assert (run.lineage[others] == 0).all()


def test_a_run_with_children_resumes_from_a_checkpoint_as_if_never_stopped() -> None:
    """The run's own cells and the lineage are saved: a run restored after month 7 ends as an
    uninterrupted run does."""
    kw: dict[str, Any] = {
        "scheme": scheme(LISTED),
        "catalogue": catalogue({"unpaid-judgment": 0.1}),
    }
    whole = Simulation(scenario(1000, 12, seed=8, children=Children()), **kw)
    record, state = whole.execute()
    first = Simulation(scenario(1000, 12, seed=8, children=Children()), **kw).start()
    for t in range(7):
        first.advance(t)
    saved = columns(first)
    assert "traits.cell" in saved and "lineage" in saved
    again = Simulation(scenario(1000, 12, seed=8, children=Children()), **kw)
    run = again.start()
    restore(run, saved, "memory")
    rec2, state2 = again.execute(resume=run)
    assert (rec2.agents == record.agents).all() and (rec2.flow == record.flow).all()
    assert (rec2.panel_until == record.panel_until).all()
    assert all((a == b).all() for a, b in zip(state, state2, strict=True))
    assert (run.lineage == whole.last_run.lineage).all()


GRADED = """
id: graded
name: Graded
subject: individuals
description: one deduction and two grades
sources: {paper: the seed paper}
score: {base: 100, min: 0, max: 100, source: paper}
categories: [{id: finance}]
events:
  - {id: payment-arrears, category: finance, points: -60, domain: finance, source: paper}
grades:
  - {id: A, min: 50, max: 100, source: paper}
  - {id: D, min: 0, max: 49, source: paper}
sanctions:
  - id: no-loans
    trigger: {grades: [D]}
    domain: finance
    effect: no new loans
    source: paper
"""


@pytest.mark.parametrize("inherit", [False, True])
def test_the_intergenerational_figure_counts_children_of_sanctioned_parents(inherit: bool) -> None:
    """Person by person from the panel: who came of age, whether a household adult had been
    sanctioned in an earlier month, and whether they were sanctioned or in grade D as adults.
    With inherit_record the children of D parents start in D, so their share is higher."""
    from scslab.analysis.audit import intergenerational

    months = 24
    sim = Simulation(
        scenario(1500, months, seed=9, children=Children(inherit_record=inherit)),
        scheme=scheme(GRADED),
        catalogue=catalogue({"payment-arrears": 0.3}),
    )
    record, _ = sim.execute()
    pop = sim.population()
    assert pop.birth is not None
    sanctioned = record.panel_until[:, :, 0] >= 0  # [month, person]
    low = record.panel_grade == 1  # grade D
    grown_at = pop.birth.astype(int) + 216
    grown = (grown_at >= 1) & (grown_at < months)
    H = int(pop.household.max()) + 1
    parent = np.zeros(pop.n, bool)
    adult_hit = np.zeros(pop.n, bool)
    adult_low = np.zeros(pop.n, bool)
    for i in np.flatnonzero(grown):
        m = grown_at[i]
        adults = (pop.household == pop.household[i]) & (grown_at < m)
        parent[i] = sanctioned[:m, adults].any()
        adult_hit[i] = sanctioned[m:, i].any()
        adult_low[i] = low[m:, i].any()
    fig = intergenerational(sim, sim.last_run)
    assert fig is not None and H > 0
    assert fig["came_of_age"] == grown.sum() > 20
    assert fig["parent_sanctioned"] == parent.sum() > 5
    assert fig["inherit_record"] is inherit
    for o, hit in (("sanctioned", adult_hit), ("low_grade", adult_low)):
        rows = {r["group"]: r for r in fig[o]["groups"]}
        assert rows["parent sanctioned"]["people"] == parent.sum()
        assert rows["parent sanctioned"]["affected"] == (hit & parent).sum()
        assert rows["parent not sanctioned"]["affected"] == (hit & grown & ~parent).sum()
    rates = {r["group"]: r["rate"] for r in fig["sanctioned"]["groups"]}
    if inherit:  # every child of a D parent starts in D
        assert rates["parent sanctioned"] == 1.0 > rates["parent not sanctioned"]


def test_scslab_audit_reports_the_intergenerational_section(tmp_path: Path) -> None:
    """`scslab audit --json` has the section, with the run's figures; the tables print a line."""
    import json
    import subprocess
    import sys

    from scslab.analysis.audit import intergenerational

    sim = Simulation(
        scenario(1000, 24, seed=9, children=Children(inherit_record=True)),
        scheme=scheme(GRADED),
        catalogue=catalogue({"payment-arrears": 0.3}),
    )
    sim.run(tmp_path / "run")
    want = intergenerational(sim, sim.last_run)
    done = subprocess.run(
        [sys.executable, "-m", "scslab", "audit", str(tmp_path / "run"), "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)["intergenerational"]
    assert got == json.loads(json.dumps(want)) and got["came_of_age"] > 10
    text = subprocess.run(
        [sys.executable, "-m", "scslab", "audit", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert text.returncode == 0, text.stderr
    assert f"{want['came_of_age']:,} children came of age" in text.stdout


def test_children_with_a_network_or_contracts_and_bad_counts_are_refused() -> None:
    """Children would have friends and contracts like adults: such a run is refused before
    anything is drawn; a count of children outside 0..8 is refused by the spec."""
    from pydantic import ValidationError

    from scslab.errors import ScenarioError
    from scslab.population import NetworkSpec

    base = scenario(500, 2, children=Children())
    for extra in ({"network": NetworkSpec(mean_degree=4)}, {"contracts": {"enabled": True}}):
        bad = Scenario.model_validate({**base.model_dump(), **extra})
        with pytest.raises(ScenarioError, match="a run with children takes no"):
            Simulation(bad, scheme=scheme(LISTED), catalogue=catalogue({"unpaid-judgment": 0.1}))
    with pytest.raises(ValidationError, match=r"counts of children 0\.\.8"):
        Children.model_validate({"per_household": {"values": {"9": 1.0}, "assumed": True}})
