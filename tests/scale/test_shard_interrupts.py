"""Stopping a sharded, checkpointed run: a manifest never names a deleted part, parts a shard
ahead of the others saved are kept, Ctrl-C prints one line, and `scslab resume` always ends with
the results of a run never stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scale_helpers import assert_same_tables, scslab, tables

from scslab.engine.checkpoint import (
    MANIFEST,
    Made,
    part_name,
    read_manifest,
    write_file,
    write_manifest,
)
from scslab.engine.scenario import Scenario
from scslab.engine.simulation import Simulation
from scslab.population import PopulationSpec
from scslab.store.writer import RESULTS

#: Sesame Credit (its network rules make shards exchange scores) without its unrecorded history
SCENARIO = """\
scheme: sesame-credit
population: {agents: 3000}
network: {}
years: 1
seed: 9
history_months: 0
"""


def test_a_manifest_keeps_the_parts_of_shards_ahead_and_drops_only_what_it_made_useless(
    tmp_path: Path,
) -> None:
    """Writing the manifest for month 2 used to delete every part it did not name, so shard 0's
    part for month 3, already saved, was gone when the month-3 manifest named it."""
    sim = Simulation(Scenario(population=PopulationSpec(agents=500), years=1))

    def part(step: int, k: int, run: str) -> tuple[str, str]:
        name = part_name(step, k, run)
        digest, _ = write_file(tmp_path / name, {"kind": "part"}, {})
        return name, digest

    older = [part(1, k, "aaaa0001") for k in range(2)]
    named = [part(2, k, "aaaa0001") for k in range(2)]
    ahead = part(3, 0, "aaaa0001")
    other = part(4, 0, "bbbb0002")  # an earlier run's, in an --overwrite folder
    (tmp_path / "checkpoint.s000001.p0.ckpt").write_bytes(b"a part from before run ids")
    write_manifest(tmp_path, Made.of(sim), 2, 1, named, datetime.now(UTC), 1.0, run="aaaa0001")
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([MANIFEST, *(n for n, _ in named), ahead[0]])
    assert all(n not in left for n, _ in [*older, other])
    manifest = read_manifest(tmp_path)
    assert manifest.step == 2 and manifest.run == "aaaa0001"
    assert [manifest.part(k) for k in range(2)] == [{}, {}]  # every part it names is there


def _stop(folder: Path, scenario: Path, at_least: int, delay: float) -> str:
    """Start a sharded run checkpointing every month; SIGINT the main process once its manifest
    has reached ``at_least`` months (plus ``delay`` seconds); return its stderr."""
    command = [sys.executable, "-m", "scslab", "run", str(scenario), "--shards", "2"]
    command += ["--checkpoint-every", "1", "--out", str(folder), "--json"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint appeared"
            if (folder / MANIFEST).exists():
                try:
                    if read_manifest(folder).step >= at_least:
                        break
                except Exception:  # replaced while read: look again
                    pass
            time.sleep(0.005)
        time.sleep(delay)
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err.decode()
    return err.decode()


@pytest.mark.slow
def test_sigint_to_a_sharded_run_at_any_moment_resumes_to_the_uninterrupted_results(
    tmp_path: Path,
) -> None:
    """Stopped at two moments (as soon as a month is saved, and later with months in flight),
    each run resumes and every table equals the uninterrupted run's; each Ctrl-C prints one
    line, no Dask traceback."""
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    whole = scslab("run", str(scenario), "--out", str(tmp_path / "whole"), "--json")
    assert whole.returncode == 0, whole.stderr
    expected = tables(tmp_path / "whole" / RESULTS)
    for i, (at_least, delay) in enumerate(((1, 0.0), (6, 0.3))):
        folder = tmp_path / f"stopped{i}"
        err = _stop(folder, scenario, at_least, delay)
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("interrupted:"), err
        assert not (folder / RESULTS).exists()
        manifest = read_manifest(folder)
        assert all((folder / name).exists() for name, _ in manifest.parts)
        resumed = scslab("resume", str(folder), "--json")
        assert resumed.returncode == 0, resumed.stderr
        assert_same_tables(tables(folder / RESULTS), expected, f"stopped at month {manifest.step}")
        assert not [p.name for p in folder.iterdir() if p.name != RESULTS]
