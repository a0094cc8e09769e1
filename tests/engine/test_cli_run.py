"""``scslab run`` as a user meets it: summary, JSON, and clear refusals with status 2."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from helpers import scslab


def test_run_writes_results_and_json_prints_only_the_summary(tmp_path: Path) -> None:
    """--json puts one JSON object on stdout; results.duckdb holds the documented tables."""
    out = tmp_path / "run"
    done = scslab("run", "--agents", "3000", "--years", "1", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["agents"] == 3000 and summary["steps"] == 12
    assert abs(sum(summary["grades"].values()) - 1) < 1e-6
    con = duckdb.connect(str(out / "results.duckdb"), read_only=True)
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    assert {"runs", "steps", "flows", "exposure", "panel", "panel_events"} <= tables


def test_a_scenario_file_runs_and_its_mistakes_are_located(tmp_path: Path) -> None:
    """A scenario file works; a misspelt key in it is refused with its line and status 2."""
    good = tmp_path / "s.yaml"
    good.write_text("scheme: suining-2010\nyears: 0.5\npopulation:\n  agents: 2000\n")
    done = scslab("run", str(good), "--out", str(tmp_path / "a"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["scheme"] == "suining-2010"
    bad = tmp_path / "bad.yaml"
    bad.write_text("scheme: suining-2010\nyeers: 2\n")
    done = scslab("run", str(bad))
    assert done.returncode == 2
    assert f"{bad}:2:1" in done.stderr and "Traceback" not in done.stderr


def test_bad_arguments_get_a_message_and_status_two(tmp_path: Path) -> None:
    """--agents 0, negative --years, an unknown scheme and an existing --out are all refused."""
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    cases = [
        (["--agents", "0"], "at least one agent"),
        (["--years", "-1"], "positive number of years"),
        (["--scheme", "rongchen-2014"], "did you mean 'rongcheng-2014'"),
        (["--out", str(tmp_path / "taken")], "--overwrite"),
    ]
    for args, message in cases:
        done = scslab("run", *args)
        assert done.returncode == 2, args
        assert message in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert (tmp_path / "taken" / "notes.txt").read_text() == "mine"


def test_a_users_scheme_file_runs_like_a_built_in(tmp_path: Path) -> None:
    """--scheme takes a file: a copy of a built-in with one value changed runs under its own id."""
    from scslab.schemes import builtin_text

    mine = tmp_path / "stricter.yaml"
    mine.write_text(builtin_text("rongcheng-2014").replace("id: rongcheng-2014", "id: stricter", 1))
    done = scslab(
        "run",
        "--scheme",
        str(mine),
        "--agents",
        "2000",
        "--years",
        "0.5",
        "--out",
        str(tmp_path / "run"),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["scheme"] == "stricter"


def test_the_python_api_reads_like_the_cli(tmp_path: Path) -> None:
    """Scenario, Simulation and Results come from the package root; grades add up to everyone."""
    from scslab import PopulationSpec, Results, Scenario, Simulation

    sc = Scenario(population=PopulationSpec(agents=2000), years=0.5)
    Simulation(sc).run(tmp_path / "run")
    results = Results(tmp_path / "run")
    rows = results.grades(by="hukou").filter("step = 5").fetchall()
    assert {r[1] for r in rows} == {"urban", "rural"}
    assert abs(sum(r[-1] for r in rows) - 2) < 1e-9  # shares add up to 1 in each hukou group
