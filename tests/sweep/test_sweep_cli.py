"""``scslab sweep`` as a user meets it: a Sobol table on a LocalCluster, JSON, clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sweep_helpers import TINY_BASE, scslab, spec_file

SOBOL_DEFAULT = """\
parameters:
  observation.camera_reach: {range: [1, 20]}
  observation.camera_false_match_rate: {range: [0, 0.05]}
  adaptation.deterrence.elasticity: {range: [0, 3]}
design: {kind: sobol, samples: 4, seed: 1}
outputs: [events.false, events.recorded]
"""


@pytest.mark.slow
def test_a_sobol_sweep_of_the_default_scenario_runs_on_a_local_cluster_and_prints_indices(
    tmp_path: Path,
) -> None:
    """The default scenario at 2,000 people for a year, over three parameters, on a LocalCluster
    the command starts and closes: a table of S1 and ST for every output and parameter, and the
    plot. Asked again with --json, it runs nothing and gives the same indices as numbers."""
    base = "base:\n  years: 1\n  panel: 0\n  population:\n    agents: 2000\n"
    spec = spec_file(tmp_path, SOBOL_DEFAULT, base=base)
    out = tmp_path / "out"
    done = scslab("sweep", str(spec), "--out", str(out), "--workers", "2")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "20 runs done now, 0 already finished, 0 failed" in text
    assert "Sobol indices" in text
    for name in ("events.false", "events.recorded", "observation.camera_reach"):
        assert name in text
    assert (out / "sobol.html").is_file() and (out / "sweep.duckdb").is_file()

    again = scslab("sweep", str(spec), "--out", str(out), "--json")
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["runs"] == {"planned": 20, "skipped": 20, "done": 0, "failed": 0}
    assert report["status"] == {"complete": 20}
    for output in ("events.false", "events.recorded"):
        by = report["sobol"][output]
        assert set(by) == {
            "observation.camera_reach",
            "observation.camera_false_match_rate",
            "adaptation.deterrence.elasticity",
        }
        for values in by.values():
            assert all(isinstance(values[k], float) for k in ("S1", "S1_conf", "ST", "ST_conf"))
    # cameras decide what is recorded far more than the false-match rate does
    recorded = report["sobol"]["events.recorded"]
    assert (
        recorded["observation.camera_reach"]["ST"]
        > recorded["observation.camera_false_match_rate"]["ST"]
    )


@pytest.mark.slow
def test_a_grid_on_an_existing_scheduler_prints_its_points_as_json(
    cluster: str, tmp_path: Path
) -> None:
    """--cluster ADDRESS: the runs go to that scheduler; --json gives each point's means."""
    body = (
        "parameters:\n  observation.camera_reach: {values: [1, 8]}\n"
        "design: {kind: grid}\noutputs: [events.recorded]\n"
    )
    spec = spec_file(tmp_path, body)
    done = scslab("sweep", str(spec), "--out", str(tmp_path / "o"), "--cluster", cluster, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["runs"]["done"] == 2 and "sobol" not in report
    low, high = report["point_means"]
    assert (low["observation.camera_reach"], high["observation.camera_reach"]) == (1, 8)
    assert high["events.recorded"] > low["events.recorded"]


@pytest.mark.slow
def test_an_unreachable_cluster_is_a_clear_error_with_status_two(tmp_path: Path) -> None:
    """Nothing listens on port 1: a message that names the address, status 2, no output folder."""
    spec = spec_file(
        tmp_path,
        "parameters:\n  years: {values: [0.25]}\ndesign: {kind: grid}\n",
        base=TINY_BASE,
    )
    out = tmp_path / "out"
    done = scslab("sweep", str(spec), "--out", str(out), "--cluster", "tcp://127.0.0.1:1")
    assert done.returncode == 2
    assert "--cluster tcp://127.0.0.1:1: cannot reach a Dask scheduler there" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_workers_and_cluster_together_are_refused(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, "parameters:\n  years: {values: [0.25]}\ndesign: {kind: grid}\n")
    done = scslab("sweep", str(spec), "--cluster", "tcp://127.0.0.1:1", "--workers", "2")
    assert done.returncode == 2 and "--workers starts a LocalCluster" in done.stderr
