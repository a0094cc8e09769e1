"""``scslab run`` as a user meets it: summary, JSON, and clear refusals with status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb


def scslab(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scslab", *args], capture_output=True, text=True, cwd=cwd
    )


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
