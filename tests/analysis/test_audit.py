"""Each audit figure, pinned on a small run where the expected value is known."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from audit_helpers import ONE_DOMAIN, one_act

from scslab import PopulationSpec, Results, Scenario, Simulation
from scslab.analysis.audit import audit


def run_one_domain(tmp_path: Path, false_ratio: float) -> Results:
    from scslab.schemes import parse_scheme

    sc = Scenario(population=PopulationSpec(agents=3000), years=1, seed=2)
    sim = Simulation(sc, scheme=parse_scheme(ONE_DOMAIN), catalogue=one_act(false_ratio))
    return sim.run(tmp_path / "run")


def test_one_event_and_one_sanction_in_the_same_domain_is_never_cross_context(
    tmp_path: Path,
) -> None:
    """Finance behaviour, finance sanction: no sanction-month lands outside its context."""
    report = audit(run_one_domain(tmp_path, 0.0))
    assert report["cross_context"]["proportionality"][0]["sanction_months"] > 0
    assert report["cross_context"]["share"] == 0.0


def test_without_false_records_nothing_is_wrongful(tmp_path: Path) -> None:
    """False-record rate 0: no wrongful sanction, entry, or counterfactual difference."""
    report = audit(run_one_domain(tmp_path, 0.0))
    w, c = report["wrongful"], report["counterfactual"]
    assert w["sanctions_with_a_false_record_among_causes"] == 0
    assert w["list_entries_with_a_false_record_among_causes"] == 0
    assert c["people_sanctioned_who_would_not_have_been"] == 0
    assert c["people_ever_sanctioned"] > 0


def test_false_records_make_wrongful_sanctions(tmp_path: Path) -> None:
    """With as many false records as true ones, sanctions resting on false records appear."""
    w = audit(run_one_domain(tmp_path, 1.0))["wrongful"]
    n = w["sanctions_with_a_false_record_among_causes"]
    assert n > 0
    assert w["sanctions_with_a_false_record_among_causes_per_100k"] == pytest.approx(
        n * 100_000 / 3000
    )


def test_a_financial_score_punishes_less_out_of_context_than_the_defaulter_list(
    tmp_path: Path,
) -> None:
    """The paper's question in one number: financial-only stays in context far more often."""
    shares = {}
    for name in ("financial-only", "defaulter-blacklist"):
        sc = Scenario(scheme=name, population=PopulationSpec(agents=20_000), years=3, seed=4)
        shares[name] = audit(Simulation(sc).run(tmp_path / name))["cross_context"]["share"]
    assert shares["financial-only"] < shares["defaulter-blacklist"]


def test_deterrence_and_chilling_are_measured_against_a_world_without_the_scheme(
    tmp_path: Path,
) -> None:
    """Suining scores petitioning and religion: offences and protected activity both fall."""
    sc = Scenario(scheme="suining-2010", population=PopulationSpec(agents=5000), years=1, seed=3)
    report = audit(Simulation(sc).run(tmp_path / "run"))
    assert report["deterrence"]["change_in_scored_offences"] < 0
    assert report["rights"]["chilling"]["change_in_lawful_rights_activity"] < 0
    scored = [a for a in report["rights"]["chilling"]["by_act"] if a["scored"]]
    assert scored and all(a["change"] < 0 for a in scored)
    unscored = [a for a in report["rights"]["chilling"]["by_act"] if not a["scored"]]
    assert all(a["change"] == 0 for a in unscored)
    assert 0 < report["rights"]["share_of_deductions"] < 1


def test_the_cli_prints_every_part_and_refuses_a_missing_run(tmp_path: Path) -> None:
    """`scslab audit RUN --json` has every part; an unknown folder, `--replicates 0` and an
    unknown trait exit 2 without traceback."""
    run_one_domain(tmp_path, 0.5)
    done = subprocess.run(
        [sys.executable, "-m", "scslab", "audit", str(tmp_path / "run"), "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {
        "replicates",
        "risk_ratio",
        "wrongful",
        "counterfactual",
        "suppression",
        "rights",
        "cross_context",
        "segregation",
        "deterrence",
        "appeals",
        "intergenerational",
        "effects",
    }
    done = subprocess.run(
        [sys.executable, "-m", "scslab", "audit", str(tmp_path / "run"), "--replicates", "2"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "150"},
    )
    assert done.returncode == 0, done.stderr
    assert "people ever sanctioned over the run" in done.stdout and "reference" in done.stdout
    for args in (
        [str(tmp_path / "nowhere")],
        [str(tmp_path / "run"), "--replicates", "0"],
        [str(tmp_path / "run"), "--intersect", "hukou,shoe-size"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "scslab", "audit", *args],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2 and "Traceback" not in done.stderr, args
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_compared_schemes_see_the_same_acts_of_the_same_people(tmp_path: Path) -> None:
    """Common random numbers: without adaptation, every scheme's run has identical true acts."""
    from scslab.analysis.compare import compare
    from scslab.behaviour.model import Adaptation, Chilling, Deterrence

    base = Scenario(
        population=PopulationSpec(agents=4000),
        years=1,
        seed=9,
        adaptation=Adaptation(
            deterrence=Deterrence(enabled=False), chilling=Chilling(enabled=False)
        ),
    )
    report = compare(["financial-only", "rongcheng-2014", "suining-2010"], base, tmp_path)
    rows = report["schemes"]
    assert len({r["true_acts"] for r in rows.values()}) == 1
    assert len({r["false_records"] for r in rows.values()}) == 1

    def true_by_act(path: str) -> dict[str, int]:
        results = Results(path)
        acts = [c for c in results.columns if c.startswith("true__")]
        sums = results.sql("SELECT " + ", ".join(f'sum("{a}")' for a in acts) + " FROM steps")
        return dict(zip(acts, sums.fetchall()[0], strict=True))

    by_act = [true_by_act(r["path"]) for r in rows.values()]
    assert by_act[0] == by_act[1] == by_act[2]  # act by act, not only in total
    assert (
        rows["financial-only"]["cross_context_share"]
        <= rows["rongcheng-2014"]["cross_context_share"]
    )


def test_the_compare_command_prints_json_and_writes_its_figures(tmp_path: Path) -> None:
    """`scslab compare A B --json`: one row per scheme, and a page of bar charts beside the runs."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scslab",
            "compare",
            "financial-only",
            "suining-2010",
            "--agents",
            "2000",
            "--years",
            "0.5",
            "--out",
            str(tmp_path / "cmp"),
            "--json",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report["schemes"]) == {"financial-only", "suining-2010"}
    page = Path(report["page"]).read_text()
    assert page.count("Plotly.newPlot") >= 10 and page.count("plotly.js v") == 1


ANY_DEDUCTION = ONE_DOMAIN.replace("score_below: 900", "score_below: 1000")


def test_counterfactual_people_are_those_whose_only_records_are_false(tmp_path: Path) -> None:
    """Any deduction sanctions for good, nobody adapts: the people sanctioned who would not have
    been are exactly those with a false record and no true one (read from a panel of everyone),
    and the months they bore run from their first false record to the end."""
    from scslab.behaviour.model import Adaptation, Chilling, Deterrence
    from scslab.schemes import parse_scheme

    sc = Scenario(
        population=PopulationSpec(agents=2000),
        years=1,
        seed=5,
        panel=2000,
        adaptation=Adaptation(
            deterrence=Deterrence(enabled=False), chilling=Chilling(enabled=False)
        ),
    )
    sim = Simulation(sc, scheme=parse_scheme(ANY_DEDUCTION), catalogue=one_act(0.05))
    results = sim.run(tmp_path / "run")
    rows = results.sql(
        "SELECT person, bool_or(false_record), bool_or(NOT false_record), "
        "min(step) FILTER (false_record) FROM panel_events WHERE recorded GROUP BY person"
    ).fetchall()
    only_false = {p: first for p, has_false, has_true, first in rows if has_false and not has_true}
    months = results.run()["steps_done"]
    c = audit(results)["counterfactual"]
    assert len(only_false) > 0
    assert c["people_sanctioned_who_would_not_have_been"] == len(only_false)
    assert c["sanction_months_they_bore"] == sum(months - first for first in only_false.values())
    assert c["people_ever_sanctioned"] == len(rows)


def test_audit_figures_as_sweep_outputs_are_the_audits_own(tmp_path: Path) -> None:
    """`audit.*` outputs of a run held in memory equal what `scslab audit` says of the same run
    written to disk; an unknown audit output is refused with a suggestion."""
    from scslab.errors import ScenarioError
    from scslab.sweep import Sweep
    from scslab.sweep.task import run_one

    sc = Scenario(
        scheme="defaulter-blacklist", population=PopulationSpec(agents=10_000), years=1, seed=3
    )
    report = audit(Simulation(sc).run(tmp_path / "run"))
    got = run_one("k", sc.model_dump_json()).outputs
    assert got["audit.rights_share"] == pytest.approx(report["rights"]["share_of_sanctions"])
    cc = report["cross_context"]
    assert got["audit.cross_context_share"] == pytest.approx(cc["share"])
    assert got["audit.cross_context_share_weighted"] == pytest.approx(cc["share_weighted"])
    ever = report["counterfactual"]["people_ever_sanctioned"]
    assert ever > 0 and got["audit.sanctioned_rate"] == pytest.approx(ever / 10_000)
    rural = report["risk_ratio"]["sanctioned"]["hukou"]["groups"][1]
    assert rural["group"] == "rural"
    assert got["audit.rr.sanctioned.hukou.rural"] == pytest.approx(rural["risk_ratio"])
    spec = tmp_path / "s.yaml"
    spec.write_text(
        "base: {scheme: suining-2010, population: {agents: 1000}, years: 0.25}\n"
        "parameters:\n  observation.camera_reach: {range: [1, 9]}\n"
        "design: {kind: sobol, samples: 4}\n"
        "outputs: [audit.rr.sanctioned.hukou.rurall]\n"
    )
    with pytest.raises(ScenarioError, match=r"did you mean 'audit\.rr\.sanctioned\.hukou\.rural'"):
        Sweep.from_yaml(spec)


def test_replicates_on_dask_give_the_same_intervals_as_in_this_process(tmp_path: Path) -> None:
    """Replicates are counter-based runs: on a LocalCluster they come out as they do serially."""
    results = run_one_domain(tmp_path, 0.5)
    serial = audit(results, replicates=3)
    on_dask = audit(results, replicates=3, workers=2)
    assert serial["replicates"]["seeds"] == [2, 3, 4]
    assert on_dask["risk_ratio"] == serial["risk_ratio"]
    rows = serial["risk_ratio"]["sanctioned"]["hukou"]["groups"]
    assert any(r["replicate_interval"] is not None for r in rows)


def test_suppression_reports_a_penalised_lawful_act_without_a_rights_tag(tmp_path: Path) -> None:
    """Sesame Credit deducts for heavy gaming, lawful and untagged: it falls, and is reported."""
    from scslab.population.network import NetworkSpec

    sc = Scenario(
        scheme="sesame-credit",
        population=PopulationSpec(agents=3000),
        network=NetworkSpec(mean_degree=6),
        years=1,
        seed=1,
        panel=0,
    )
    sup = audit(Simulation(sc).run(tmp_path / "run"))["suppression"]
    gaming = {r["act"]: r for r in sup["by_act"]}["excessive-gaming"]
    assert gaming["rights"] == [] and gaming["change"] < 0
    assert sup["change_in_penalised_lawful_acts"] < 0
