"""Nothing lost: ``--overwrite`` swaps new results in only once they are complete, a refused,
failed or killed run leaves the old ones as they were, a double Ctrl-C keeps the months done, and
neither leftovers of killed writes nor empty run folders stay behind."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from helpers import scslab
from scslab.engine.checkpoint import MANIFEST
from scslab.engine.scenario import Scenario
from scslab.errors import ResourceError
from scslab.population import PopulationSpec
from scslab.runs import Simulation
from scslab.store import writer
from scslab.store.writer import PARTIAL, RESULTS

TINY = ["--agents", "2000", "--years", "0.5"]


def seed_of(path: Path) -> int:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return int(con.execute("SELECT seed FROM runs").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.fixture(scope="module")
def old_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished run (seed 1) to copy into each test's folder."""
    folder = tmp_path_factory.mktemp("old") / "run"
    done = scslab("run", *TINY, "--seed", "1", "--out", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    return folder


def copy_run(old: Path, to: Path) -> bytes:
    to.mkdir()
    data = (old / RESULTS).read_bytes()
    (to / RESULTS).write_bytes(data)
    return data


def test_overwrite_in_a_folder_with_another_file_replaces_the_results(
    old_run: Path, tmp_path: Path
) -> None:
    """The folder was prepared twice (the second time without --overwrite), so a folder holding
    any other file lost its results and then was refused. Now the new results replace the old,
    the stale report goes with them, and the user's own file stays."""
    folder = tmp_path / "run"
    copy_run(old_run, folder)
    (folder / "notes.txt").write_text("mine")
    (folder / "report.html").write_text("<p>the old run's report</p>")
    done = scslab("run", *TINY, "--seed", "2", "--out", str(folder), "--overwrite", "--json")
    assert done.returncode == 0, done.stderr
    assert seed_of(folder / RESULTS) == 2
    assert (folder / "notes.txt").read_text() == "mine"
    assert not (folder / "report.html").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", RESULTS]


@pytest.mark.parametrize(
    "args",
    [
        ["--shards", "99"],  # refused once the folder is prepared
        ["--agents", "100000000000"],  # refused for memory before
        ["--scheme", "no-such-scheme"],
    ],
)
def test_a_refused_overwrite_leaves_the_old_results_byte_identical(
    old_run: Path, tmp_path: Path, args: list[str]
) -> None:
    folder = tmp_path / "run"
    before = copy_run(old_run, folder)
    (folder / "notes.txt").write_text("mine")
    one_line_error(scslab("run", *TINY, *args, "--out", str(folder), "--overwrite"))
    assert (folder / RESULTS).read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", RESULTS]


def test_a_run_that_fails_while_writing_leaves_the_old_results(
    old_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails half-way (a full disk, say) removes its hidden file; the old results,
    the old checkpoint and the old report are untouched."""
    folder = tmp_path / "run"
    before = copy_run(old_run, folder)
    (folder / "report.html").write_text("old report")
    (folder / MANIFEST).write_bytes(b"an earlier run's checkpoint")

    def full_disk(con: duckdb.DuckDBPyConnection, *args: object) -> None:
        con.execute("CREATE TABLE runs (x INTEGER)")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "_write", full_disk)
    sim = Simulation(Scenario(population=PopulationSpec(agents=2000), years=0.25, seed=3))
    with pytest.raises(ResourceError, match="cannot write the results"):
        sim.run(folder, overwrite=True)
    assert (folder / RESULTS).read_bytes() == before
    assert (folder / "report.html").read_text() == "old report"
    assert (folder / MANIFEST).read_bytes() == b"an earlier run's checkpoint"
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST, "report.html", RESULTS]


def _wait_for(path: Path, proc: subprocess.Popen[bytes], seconds: float = 240) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.005)


def test_a_killed_overwrite_leaves_the_old_results_and_resume_replaces_them(
    old_run: Path, tmp_path: Path
) -> None:
    """`run --overwrite --checkpoint-every 1` is SIGKILLed mid-run: the old results.duckdb is
    byte-identical. `scslab resume` then finishes the new run, which replaces them."""
    folder = tmp_path / "run"
    before = copy_run(old_run, folder)
    args = ["--agents", "20000", "--years", "2", "--seed", "4", "--checkpoint-every", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "scslab", "run", *args, "--out", str(folder), "--overwrite"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(folder / MANIFEST, proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
    assert (folder / RESULTS).read_bytes() == before
    resumed = scslab("resume", str(folder), "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert seed_of(folder / RESULTS) == 4
    assert not (folder / MANIFEST).exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_a_double_ctrl_c_keeps_the_months_done(tmp_path: Path) -> None:
    """Ctrl-C, then Ctrl-C again and again while the partial file is being written: it used to
    lose every month. Now the later ones wait, and results.partial.duckdb opens with the months
    done."""
    folder = tmp_path / "run"
    args = ["--agents", "30000", "--years", "5", "--checkpoint-every", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "scslab", "run", *args, "--out", str(folder), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(folder / MANIFEST, proc)  # months are running
        for _ in range(12):  # a burst over the time the partial file takes to write
            os.kill(proc.pid, signal.SIGINT)
            time.sleep(0.05)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    message = err.decode()
    assert proc.returncode == 130, message
    assert "Traceback" not in message
    con = duckdb.connect(str(folder / PARTIAL), read_only=True)
    try:
        status, done = con.execute("SELECT status, steps_done FROM runs").fetchone()  # type: ignore[misc]
        months = con.execute("SELECT count(DISTINCT step) FROM steps").fetchone()[0]  # type: ignore[index]
    finally:
        con.close()
    assert status == "interrupted" and done >= 1 and months == done
    assert not [p for p in folder.iterdir() if p.name.endswith(".writing")]


def test_leftovers_of_a_killed_write_are_cleaned_and_one_in_use_is_named(
    old_run: Path, tmp_path: Path
) -> None:
    """Hidden files a killed run left are removed by the next run in the folder; one that another
    process still holds (it is being written) makes the run refuse, naming it."""
    folder = tmp_path / "run"
    copy_run(old_run, folder)
    stale = [".results.duckdb.0badf00d.writing", ".results.duckdb.0badf00d.writing.wal"]
    stale += [".checkpoint.ckpt.12345678.writing", ".results.partial.duckdb.writing"]
    for name in stale:
        (folder / name).write_bytes(b"half")
    (folder / ".my-own.writing").write_text("not scslab's")
    busy = folder / ".results.duckdb.feedbeef.writing"
    busy.write_bytes(b"being written")
    with open(busy, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        line = one_line_error(scslab("run", *TINY, "--out", str(folder), "--overwrite"))
        assert busy.name in line and "another process" in line
    done = scslab("run", *TINY, "--out", str(folder), "--overwrite", "--json")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == [".my-own.writing", RESULTS]


def test_a_killed_fresh_run_can_be_run_again_without_overwrite(tmp_path: Path) -> None:
    """A folder holding only a killed write's leftovers is as good as empty."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / ".results.duckdb.0badf00d.writing").write_bytes(b"half")
    done = scslab("run", *TINY, "--out", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == [RESULTS]


def test_a_refused_run_leaves_no_empty_run_folder(tmp_path: Path) -> None:
    """Refusals after the default folder runs/TIME-SCHEME was made remove it again."""
    runs = tmp_path / "runs"
    for args in (["--shards", "99"], ["--shards", "2", "--scheme", "corporate-scs"]):
        one_line_error(scslab("run", *TINY, *args, env={"SCSLAB_RUNS": str(runs)}))
        assert not runs.exists() or not list(runs.iterdir()), list(runs.iterdir())
