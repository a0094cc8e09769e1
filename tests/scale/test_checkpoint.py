"""Checkpoints: a run killed mid-way resumes to exactly the results of an uninterrupted run, and
a damaged checkpoint is refused, never used."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scale_helpers import assert_same_tables, scslab, stopped, stopped_and_resumed, tables

from scslab.engine.checkpoint import (
    MANIFEST,
    columns,
    read_file,
    read_manifest,
    restore,
    write_file,
)
from scslab.engine.scenario import Scenario
from scslab.errors import CheckpointError
from scslab.population import NetworkSpec, PopulationSpec
from scslab.runs import Simulation
from scslab.store.writer import PARTIAL, RESULTS

SMALL = Scenario(
    scheme="sesame-credit",
    population=PopulationSpec(agents=3000),
    network=NetworkSpec(mean_degree=6),
    years=1,
    seed=7,
    panel=500,
)


@pytest.mark.slow
def test_a_run_killed_mid_way_resumes_to_the_results_of_an_uninterrupted_run(
    tmp_path: Path,
) -> None:
    """`scslab run --checkpoint-every 3` is SIGKILLed after its first checkpoint; `scslab
    resume` ends with every table of results.duckdb equal to an uninterrupted run's."""
    args = ["--scheme", "sesame-credit", "--network", "--agents", "100000", "--years", "3"]
    args += ["--seed", "5"]
    whole = scslab("run", *args, "--out", str(tmp_path / "whole"), "--json")
    assert whole.returncode == 0, whole.stderr
    killed = tmp_path / "killed"
    command = [sys.executable, "-m", "scslab", "run", *args, "--out", str(killed), "--json"]
    proc = subprocess.Popen(
        [*command, "--checkpoint-every", "3"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120
        while not (killed / MANIFEST).exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / RESULTS).exists()
    reached = read_manifest(killed).step
    assert 3 <= reached < 36 and reached % 3 == 0
    resumed = scslab("resume", str(killed), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert_same_tables(tables(killed / RESULTS), tables(tmp_path / "whole" / RESULTS))
    assert not (killed / MANIFEST).exists()  # the checkpoint goes once the run is complete


def test_ctrl_c_keeps_the_checkpoint_and_resume_finishes_the_run(tmp_path: Path) -> None:
    """Stopped after month 6 (checkpoint at 4): partial results are written, and `scslab resume`
    ends with the results of a run never stopped."""
    Simulation(SMALL).run(tmp_path / "whole")
    stopped(Simulation(SMALL), tmp_path / "stopped", after=6, every=4)  # checkpoint at 4
    assert (tmp_path / "stopped" / PARTIAL).exists()
    done = scslab("resume", str(tmp_path / "stopped"), "--json")
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "stopped" / PARTIAL).exists()
    assert_same_tables(tables(tmp_path / "stopped" / RESULTS), tables(tmp_path / "whole" / RESULTS))


@pytest.mark.parametrize("damage", ["flip", "truncate", "manifest"])
def test_a_corrupted_or_truncated_checkpoint_is_refused(damage: str, tmp_path: Path) -> None:
    """One flipped byte in a part, a part cut short, or a damaged manifest: `scslab resume`
    refuses with status 2 and a message, and writes no results."""
    folder = tmp_path / "run"
    stopped(Simulation(SMALL), folder, after=6, every=4)
    manifest = read_manifest(folder)
    part = folder / manifest.parts[0][0]
    target = folder / MANIFEST if damage == "manifest" else part
    data = bytearray(target.read_bytes())
    if damage == "truncate":
        data = data[: len(data) * 2 // 3]
    else:
        data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    done = scslab("resume", str(folder))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    word = "truncated" if damage == "truncate" else "corrupted"
    assert word in done.stderr and "refusing" in done.stderr.replace("\n", " ")
    assert not (folder / RESULTS).exists()


def test_resume_refuses_a_folder_without_a_checkpoint_or_with_complete_results(
    tmp_path: Path,
) -> None:
    """Nothing to resume: no checkpoint, or a run that already finished."""
    Simulation(SMALL).run(tmp_path / "done")
    for folder, message in ((tmp_path / "done", "complete"), (tmp_path, "no checkpoint here")):
        done = scslab("resume", str(folder))
        assert done.returncode == 2 and message in done.stderr


def test_a_checkpoint_of_another_run_is_refused(tmp_path: Path) -> None:
    """State columns saved from one scheme do not go into a run of another: CheckpointError."""
    run = Simulation(SMALL).start()
    run.advance(0)
    write_file(tmp_path / "part.ckpt", {}, columns(run))
    _, arrays = read_file(tmp_path / "part.ckpt")
    other = Simulation(SMALL.model_copy(update={"scheme": "rongcheng-2014", "network": None}))
    with pytest.raises(CheckpointError, match="does not match this run"):
        restore(other.start(), arrays, "part.ckpt")


def test_a_firm_run_with_its_peoples_run_inside_resumes_to_the_same_results(
    tmp_path: Path,
) -> None:
    """Checkpoints walk whatever a run holds: a firm run (corporate-scs) carries its people's run
    and firm columns beside its own, and still resumes to the uninterrupted results."""
    firms = Scenario(
        scheme="corporate-scs", population=PopulationSpec(agents=20_000), years=1, seed=2, panel=200
    )
    Simulation(firms).run(tmp_path / "whole")
    got = stopped_and_resumed(Simulation(firms), tmp_path / "stopped", after=7, every=4)
    assert_same_tables(got, tables(tmp_path / "whole" / RESULTS))
