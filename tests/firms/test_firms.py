"""Firms: who runs them, joint punishment both ways, the tax rating and its calibration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from scslab.calibration.targets import load_targets
from scslab.engine.compiled import OPEN
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Run
from scslab.errors import ScenarioError, SchemeError
from scslab.population.firms import CONDUCT, SECTORS, SIZES, Firms, FirmSpec, generate_firms
from scslab.population.individuals import Population, PopulationSpec, generate
from scslab.runs import Simulation
from scslab.schemes.loader import load_scheme, parse_scheme
from scslab.store.results import Results

SCSLAB = [sys.executable, "-c", "from scslab.cli import main; main()"]


#: The STA's 2018 shares, as the built-in corporate-scs targets give them.
STA_2018 = {
    t.of: t.figure for t in load_targets("corporate-scs").targets.targets if t.observable == "tax"
}


def firm_run(agents: int = 20_000, **firms: object) -> Run:
    spec = FirmSpec(**{"history_months": 0, **firms})  # type: ignore[arg-type]
    sc = Scenario(
        scheme="corporate-scs", population=PopulationSpec(agents=agents), years=1, firms=spec
    )
    return Simulation(sc).start()


# --- who runs a firm ------------------------------------------------------------------------------


def test_every_firm_is_run_by_people_of_the_population_and_nobody_runs_two() -> None:
    people = generate(PopulationSpec(agents=50_000), seed=3)
    spec = FirmSpec()
    firms = generate_firms(people, spec, seed=3)
    assert firms.n == spec.count(people.n) == 900
    sizes = np.diff(firms.manager_start)
    assert sizes.min() >= 1, "a firm without a legal representative"
    expected = np.array([spec.directors[s] for s in SIZES])[firms.size]
    np.testing.assert_array_equal(sizes, expected)
    np.testing.assert_array_equal(firms.representative, firms.managers[firms.manager_start[:-1]])
    assert len(np.unique(firms.managers)) == len(firms.managers)
    assert firms.managers.min() >= 0 and firms.managers.max() < people.n
    np.testing.assert_array_equal(firms.region, people.region[firms.representative])
    # founders are of working age and better off, as the weights say
    assert people.income[firms.representative].mean() > people.income.mean() + 0.5
    # a pure function of people, spec and seed
    again = generate_firms(people, spec, seed=3)
    np.testing.assert_array_equal(again.managers, firms.managers)
    np.testing.assert_array_equal(again.cell, firms.cell)


def test_sectors_sizes_and_conduct_follow_the_spec() -> None:
    people = generate(PopulationSpec(agents=1_000_000), seed=0)
    spec = FirmSpec()
    firms = generate_firms(people, spec, seed=0)
    for column, levels, shares in (
        (firms.sector, SECTORS, spec.sectors),
        (firms.size, SIZES, spec.sizes),
        (firms.conduct, CONDUCT, spec.conduct),
    ):
        got = np.bincount(column, minlength=len(levels)) / firms.n
        np.testing.assert_allclose(got, shares.probabilities(levels), atol=0.01)


def test_a_firm_with_no_legal_representative_is_refused() -> None:
    with pytest.raises(ValidationError, match="no legal representative"):
        FirmSpec(directors={"micro": 0, "small": 1, "medium": 2, "large": 3})


def test_a_firm_with_no_representative_gets_status_2_from_the_cli(tmp_path: Path) -> None:
    scenario = tmp_path / "firms.yaml"
    scenario.write_text(
        "scheme: corporate-scs\nfirms:\n  directors: {micro: 0, small: 1, medium: 1, large: 1}\n"
    )
    out = subprocess.run(
        [*SCSLAB, "run", str(scenario), "--out", str(tmp_path / "run")],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert out.returncode == 2
    assert "directors.micro is 0" in out.stderr and "no legal representative" in out.stderr
    assert not (tmp_path / "run").exists()


def test_more_managers_than_people_is_refused_before_anything_is_drawn() -> None:
    sc = Scenario(
        scheme="corporate-scs",
        population=PopulationSpec(agents=100),
        firms=FirmSpec(
            per_thousand_people=500, directors={"micro": 3, "small": 3, "medium": 3, "large": 3}
        ),
    )
    with pytest.raises(ScenarioError, match="managers"):
        Simulation(sc)


# --- joint punishment -----------------------------------------------------------------------------


def _group(run: Run, member: str) -> int:
    return next(q for q, c in run.sim.layout.consequences if c.id == member)


def test_a_blacklisted_manager_restricts_the_firm_from_the_next_month() -> None:
    """Person to firm: a director on the defaulter list bars the firm from procurement."""
    run = firm_run()
    firms, people = run.pop, run.people_run
    assert isinstance(firms, Firms) and people is not None
    black = int(run.people_black[0])
    # a small firm's second manager, a director who is not the legal representative
    f = int(np.flatnonzero(np.diff(firms.manager_start) >= 2)[0])
    director = int(firms.managers[firms.manager_start[f] + 1])
    people.state.list_since[director, black] = 0
    people.state.list_cause[director, black] = 1 << 4  # the courts domain
    listed = people.state.list_since[:, run.people_black].max(axis=1) >= 0
    by_firm = np.logical_or.reduceat(listed[firms.managers], firms.manager_start[:-1])
    run.advance(0)
    q = _group(run, "representative-procurement")
    active = run.state.grp_until[:, q] >= 0
    assert active[f] and run.state.grp_until[f, q] == OPEN
    assert run.state.grp_cause[f, q] & (1 << 4)
    np.testing.assert_array_equal(active, by_firm)  # exactly the firms with a listed manager
    assert run.record.extra["managers_listed"][0].sum() == by_firm.sum()
    # once the director is off the list, the restriction ends the month after
    people.state.list_since[director, black] = -1
    people.state.list_since[:, run.people_black] = -1
    run.advance(1)
    assert run.state.grp_until[f, q] == -1


def test_a_listed_firm_restricts_its_legal_representative() -> None:
    """Firm to person: a firm on the dishonest-firms list grounds its legal representative."""
    run = firm_run()
    firms = run.pop
    assert isinstance(firms, Firms)
    li = run.sim.layout.lists.index("dishonest-firms")
    f = 7
    run.state.list_since[f, li] = 0
    run.advance(0)
    listed = run.state.list_since[:, li] >= 0
    assert listed[f]
    for member in ("listed-executives", "listed-representative-flights"):
        q = _group(run, member)
        np.testing.assert_array_equal(run.state.grp_until[:, q] >= 0, listed)
    restricted = run.record.extra["representatives_restricted"][0]
    assert restricted.sum() == listed.sum()
    assert restricted[firms.cell[f]] >= 1
    # the restriction is on the representative, a person of the population
    assert 0 <= firms.representative[f] < run.people_run.pop.n  # type: ignore[union-attr]


def test_only_firms_have_representatives_and_tax_ratings() -> None:
    text = load_scheme("defaulter-blacklist").model_dump(mode="json")
    text["sanctions"][0]["reaches"] = "representative"
    with pytest.raises(SchemeError, match="representative"):
        parse_scheme(yaml.safe_dump(text, allow_unicode=True))
    corp = load_scheme("corporate-scs").model_dump(mode="json", exclude_none=True)
    corp["tax_rating"]["grades"][0]["min"] = 91
    with pytest.raises(SchemeError, match="starts at 91"):
        parse_scheme(yaml.safe_dump(corp, allow_unicode=True))


# --- the tax rating -------------------------------------------------------------------------------


def test_tax_ratings_read_the_score_bands_and_rate_young_firms_m() -> None:
    run = firm_run(monthly_closure=0.05)
    for t in range(6):
        run.advance(t)
    firms = run.pop
    assert isinstance(firms, Firms)
    age = run.firm_age - 1  # ages were counted up after the month was recorded
    score = run.state.score
    rated = age >= 12
    extra = {k: v[5].sum() for k, v in run.record.extra.items()}
    assert extra["tax__M"] == (~rated).sum() > 0
    assert extra["tax__A"] == (rated & (score >= 90)).sum()
    assert extra["tax__B"] == (rated & (score >= 70) & (score < 90)).sum()
    assert extra["tax__C"] == (rated & (score >= 40) & (score < 70)).sum()
    assert extra["tax__D"] == (rated & (score < 40)).sum()
    assert run.record.extra["closed"][:6].sum() > 0


@pytest.mark.slow
def test_a_default_firm_run_reproduces_the_sta_2018_ratings_within_a_point(
    tmp_path: Path,
) -> None:
    """Issue "Ties that score", done when: both scales, tax grades in the calibration band."""
    out = subprocess.run(
        [*SCSLAB, "run", "--scheme", "corporate-scs", "--json", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(out.stdout)
    assert summary["subjects"] == "firms"
    assert set(summary["grades"]) == {"优", "良", "中", "差"}
    tax = summary["tax_grades"]
    assert set(tax) == {"A", "B", "C", "D", "M"}
    assert sum(tax.values()) == pytest.approx(1, abs=1e-5)
    for grade, target in STA_2018.items():
        assert abs(tax[grade] - target) <= 0.01, (grade, tax[grade])
    # and after one year, the horizon the calibration fits
    sim = Simulation(Scenario(scheme="corporate-scs", years=1, seed=1))
    record, _ = sim.execute()
    n = sim.agents
    for grade, target in STA_2018.items():
        assert abs(record.extra[f"tax__{grade}"][11].sum() / n - target) <= 0.01
    # the results file has the firm counts by sector and size
    with Results(tmp_path / "r") as results:
        assert {"sector", "size", "conduct"} <= set(results.groups)
        by_sector = results.grades(by="sector").fetchall()
        assert {row[1] for row in by_sector} == set(SECTORS)
        assert "representative" in [d[0] for d in results.sql("DESCRIBE panel").fetchall()]


def test_people_runs_are_unchanged_by_the_firm_seams() -> None:
    """A people's run draws exactly as before firms existed: the stream seed is the scenario's."""
    sim = Simulation(Scenario(population=PopulationSpec(agents=5_000), years=1))
    assert sim.stream_seed == sim.scenario.seed and sim.subjects == "people"
    assert isinstance(sim.population(), Population)


def test_firm_flows_by_sector_and_size_add_up_to_the_flows(tmp_path: Path) -> None:
    """``firm_flows`` splits every entry, exit, start and end of ``flows`` by the firms' cells."""
    sc = Scenario(
        scheme="corporate-scs",
        population=PopulationSpec(agents=100_000),
        years=2,
        firms=FirmSpec(history_months=12),
    )
    Simulation(sc).run(tmp_path / "r")
    with Results(tmp_path / "r") as r:
        by_cell = r.sql(
            "SELECT kind, item, sum(firms) FROM firm_flows GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        total = r.sql("SELECT kind, item, sum(count) FROM flows GROUP BY ALL ORDER BY ALL")
        assert by_cell == total.fetchall()
        assert len(by_cell) >= 10
        sizes = {row[0] for row in r.sql("SELECT DISTINCT size FROM firm_flows").fetchall()}
        assert sizes <= set(SIZES) and len(sizes) >= 2


def test_compare_refuses_to_mix_schemes_of_people_and_of_firms(tmp_path: Path) -> None:
    from scslab.analysis.compare import compare

    with pytest.raises(ScenarioError, match="same subjects"):
        compare(["corporate-scs", "rongcheng-2014"], Scenario(), tmp_path)
    assert not any(tmp_path.iterdir())


def test_validate_holds_a_small_corporate_run_up_against_the_sta_shares() -> None:
    """`scslab validate corporate-scs` reads the tax shares at the end of 2018 from a firm run."""
    out = subprocess.run(
        [*SCSLAB, "validate", "corporate-scs", "--agents", "30000", "--seeds", "1", "--json"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    rows = {r["id"]: r for r in json.loads(out.stdout)["targets"]}
    assert set(rows) == {"sta-2018-a", "sta-2018-d"}
    for r in rows.values():
        assert r["role"] == "fit" and r["sd"] == 0
        assert abs(r["mean"] - r["published"]) <= 0.03  # ~540 firms: the shares are rough
    bad = subprocess.run([*SCSLAB, "calibrate", "firms", "--workers", "0"], capture_output=True)
    assert bad.returncode == 2 and b"--workers" in bad.stderr
