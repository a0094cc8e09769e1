"""Each audit figure, pinned on a small run where the expected value is known."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from scslab import PopulationSpec, Results, Scenario, Simulation
from scslab.analysis.audit import audit
from scslab.behaviour.model import Catalogue

ONE_DOMAIN = """
id: one-domain
name: One event, one sanction, one domain
subject: individuals
description: arrears cost points; a low score bars loans
sources: {paper: the seed paper}
score: {base: 1000, min: 0, max: 1000, source: paper}
categories: [{id: finance}]
events:
  - {id: payment-arrears, category: finance, points: -100, domain: finance, source: paper}
sanctions:
  - id: no-loans
    trigger: {score_below: 900}
    domain: finance
    effect: no bank loans
    source: paper
"""


def one_act(false_ratio: float) -> Catalogue:
    return Catalogue.model_validate(
        {
            "acts": [
                {
                    "id": "payment-arrears",
                    "name": "arrears",
                    "domain": "finance",
                    "lawful": False,
                    "rate": 0.5,
                    "channels": {"bank": 1.0},
                    "assumed": True,
                }
            ],
            "channels": [
                {"id": "bank", "name": "bank", "false_record_ratio": false_ratio, "assumed": True}
            ],
        }
    )


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
    w = audit(run_one_domain(tmp_path, 0.0))["wrongful"]
    assert w["sanctions"] == 0 and w["list_entries"] == 0
    assert w["share_of_listed_not_listed_without_false_records"] == 0.0


def test_false_records_make_wrongful_sanctions(tmp_path: Path) -> None:
    """With as many false records as true ones, sanctions resting on false records appear."""
    w = audit(run_one_domain(tmp_path, 1.0))["wrongful"]
    assert w["sanctions"] > 0
    assert w["sanctions_per_100k"] == pytest.approx(w["sanctions"] * 100_000 / 3000)


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


def test_the_cli_prints_all_six_parts_and_refuses_a_missing_run(tmp_path: Path) -> None:
    """`scslab audit RUN --json` has the six keys; an unknown folder exits 2 without traceback."""
    run_one_domain(tmp_path, 0.5)
    done = subprocess.run(
        [sys.executable, "-m", "scslab", "audit", str(tmp_path / "run"), "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)) == {
        "disparate_impact",
        "wrongful",
        "rights",
        "cross_context",
        "segregation",
        "deterrence",
    }
    done = subprocess.run(
        [sys.executable, "-m", "scslab", "audit", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr


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
