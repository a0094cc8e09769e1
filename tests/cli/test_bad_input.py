"""Every mistake a user can make at the command line is one line on stderr and status 2.

Each case drives the real entry point (the ``scslab`` console script, or ``python -m scslab``
where it is not installed) through one bad input: a usage mistake click itself catches, a value
the scenario refuses, an input that is not a small regular file, an output folder or a disk that
cannot be written, a damaged results file. All of them fail before a month is run, except the
full disk, which is found when the results are written. The assertion is always the same:
status 2, exactly one line on stderr, starting ``error:``, and no traceback anywhere.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import scslab
from scslab.errors import StorageError

ENTRY = Path(sys.executable).with_name("scslab")
COMMAND = [str(ENTRY)] if ENTRY.is_file() else [sys.executable, "-m", "scslab"]
ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
HUGE = "9" * 5000  # past Python's 4,300-digit limit on reading an integer


def scslab_run(*args: str | Path, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, *COMMAND, *map(str, args)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=ENV,
        timeout=120,
        check=False,
    )


def assert_one_line_error(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Status 2, one ``error:`` line on stderr that contains every needle, no traceback."""
    lines = done.stderr.splitlines()
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-2000:]
    assert len(lines) == 1, done.stderr[-2000:]
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# --- the table ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """A bad input: the arguments (``{tmp}`` is the test's folder, filled in by ``make``), the
    files it needs, and what the one line must say."""

    id: str
    args: tuple[str, ...]
    says: tuple[str, ...]
    make: Callable[[Path], None] | None = None


def scenario_with(text: str) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        (tmp / "scenario.yaml").write_text(text, encoding="utf-8")

    return make


def tenths_scheme(points: str, resolution: str = "0.1") -> Callable[[Path], None]:
    """A scheme file in tenths of a point whose one event scores ``points``."""

    def make(tmp: Path) -> None:
        (tmp / "tenths.yaml").write_text(
            "id: tenths\nname: Tenths\nsubject: individuals\ndescription: in tenths\n"
            f"score: {{base: 10, min: 0, max: 20, resolution: {resolution}, assumed: true}}\n"
            "categories: [{id: order}]\n"
            f"events: [{{id: theft, category: order, points: {points}, domain: public-order, "
            "assumed: true}]\n",
            encoding="utf-8",
        )

    return make


def fifo(tmp: Path) -> None:
    os.mkfifo(tmp / "pipe.yaml")


def huge_file(tmp: Path) -> None:
    with (tmp / "huge.yaml").open("wb") as f:  # sparse: no disk used
        f.truncate(64 * 2**20)


def damaged_results(tmp: Path) -> None:
    (tmp / "run").mkdir()
    (tmp / "run" / "results.duckdb").write_bytes(os.urandom(4096))


CASES = [
    # usage mistakes that click catches
    Case("agents-abc", ("run", "--agents", "abc"), ("'--agents'", "scslab run --help")),
    Case("unknown-option", ("run", "--bogus"), ("no such option: --bogus",)),
    Case("missing-argument", ("explain",), ("missing argument", "'run'")),
    Case("seed-expression", ("run", "--seed", "2**63"), ("'--seed'",)),
    Case("port-out-of-range", ("serve", "--port", "99999"), ("'--port'", "65535")),
    Case("5000-digit-integer", ("run", "--agents", HUGE), ("'--agents'",)),
    Case("bad-choice", ("schemes", "show", "rongcheng-2014", "--format", "xml"), ("'--format'",)),
    Case("unknown-command", ("rnu",), ("rnu",)),
    # values the scenario refuses
    Case("years-nan", ("run", "--years", "nan"), ("--years nan", "finite")),
    Case("seed-2**63", ("run", "--seed", str(2**63)), ("--seed 9223372036854775808",)),
    Case("agents-too-many", ("run", "--agents", "9" * 15), ("--agents", "population.agents")),
    Case("compare-years-inf", ("compare", "a", "b", "--years", "inf"), ("--years inf",)),
    Case("assumptions-agents-0", ("assumptions", "suining-2010", "--agents", "0"), ("--agents 0",)),
    Case("assumptions-years-nan", ("assumptions", "suining-2010", "--years", "nan"), ("--years",)),
    Case(
        "assumptions-unknown-output",
        ("assumptions", "suining-2010", "--outputs", "audit.rights_shar"),
        ("'audit.rights_shar' is not an output", "did you mean 'audit.rights_share'?"),
    ),
    Case(
        "5000-digit-integer-in-a-file",
        ("run", "{tmp}/scenario.yaml"),
        ("scenario.yaml:1:7", "4,300 digits"),
        scenario_with(f"seed: {HUGE}\n"),
    ),
    # fractional points: off the scheme's resolution, and a resolution not allowed
    Case(
        "scheme-points-off-resolution",
        ("schemes", "validate", "{tmp}/tenths.yaml"),
        ("tenths.yaml:7:", "-0.25 is not a multiple of the score's resolution 0.1"),
        tenths_scheme("-0.25"),
    ),
    Case(
        "run-scheme-resolution-not-allowed",
        ("run", "--scheme", "{tmp}/tenths.yaml", "--agents", "10"),
        ("tenths.yaml:5:", "resolution 0.3 is not one of 1, 0.5, 0.1, 0.01, 0.001"),
        tenths_scheme("-2.5", "0.3"),
    ),
    # inputs that are not small regular files
    Case("scenario-fifo", ("run", "{tmp}/pipe.yaml"), ("not a regular file",), fifo),
    Case("scenario-dev-zero", ("run", "/dev/zero"), ("/dev/zero", "not a regular file")),
    Case("scenario-folder", ("run", "{tmp}"), ("this is a folder, not a scenario file",)),
    Case("scenario-huge", ("run", "{tmp}/huge.yaml"), ("larger than 8 MiB",), huge_file),
    Case("scheme-fifo", ("schemes", "validate", "{tmp}/pipe.yaml"), ("not a regular",), fifo),
    Case("sweep-dev-zero", ("sweep", "/dev/zero"), ("not a regular file", "sweep spec")),
    Case("scenario-missing", ("run", "{tmp}/absent.yaml"), ("no such scenario file",)),
    # a damaged results file, opened by each command that reads one
    *(
        Case(f"damaged-results-{cmd[0]}", (*cmd,), ("run/results.duckdb",), damaged_results)
        for cmd in (
            ("report", "{tmp}/run"),
            ("audit", "{tmp}/run"),
            ("explain", "{tmp}/run", "--agent", "1"),
        )
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_bad_input_is_one_line_and_status_2(case: Case, tmp_path: Path) -> None:
    if case.make is not None:
        case.make(tmp_path)
    args = [a.replace("{tmp}", str(tmp_path)) for a in case.args]
    done = scslab_run(*args)
    assert_one_line_error(done, *case.says)
    assert done.stdout == ""


# --- help, version and writes that fail ------------------------------------------------------


def test_bare_scslab_shows_help_and_exits_2_without_a_traceback() -> None:
    """No command is a usage mistake (click's convention): the help, and status 2."""
    done = scslab_run()
    assert done.returncode == 2
    assert "Usage" in done.stdout + done.stderr and "run" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_version_prints_the_package_version() -> None:
    done = scslab_run("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"scslab {scslab.__version__}\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_under_stdout_is_one_line() -> None:
    """Output to a full device (/dev/full answers every write with ENOSPC) is one line and
    status 2, with no second complaint from Python's last flush."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [*COMMAND, "schemes", "show", "rongcheng-2014"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=ENV,
            timeout=120,
            check=False,
        )
    lines = done.stderr.splitlines()
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "No space left on device" in lines[0] and "the disk is full" in lines[0]


def _namespace_works() -> bool:
    """Whether this machine lets a process mount in a user namespace of its own (unshare -rm)."""
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=64k none /mnt"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    return probe.returncode == 0


NAMESPACE = _namespace_works()
needs_namespace = pytest.mark.skipif(
    not NAMESPACE, reason="needs unshare -rm (user and mount namespaces) to mount a small disk"
)


@needs_namespace
def test_a_read_only_output_folder_is_one_line(tmp_path: Path) -> None:
    """A folder on a read-only mount (root is refused too, unlike with chmod): refused before a
    month runs, whether --out is the folder or a new folder inside it."""
    ro = tmp_path / "ro"
    ro.mkdir()
    mount = f'mount --bind {ro} {ro} && mount -o remount,ro,bind {ro} && exec "$@"'
    prefix = ("unshare", "-rm", "sh", "-c", mount, "sh")
    for out in (ro, ro / "new"):
        done = scslab_run("run", "--agents", "50", "--years", "0.1", "--out", out, prefix=prefix)
        assert_one_line_error(done, str(ro), "ead-only")
    assert list(ro.iterdir()) == []


@needs_namespace
def test_a_full_disk_is_one_line(tmp_path: Path) -> None:
    """A 64 KiB disk fills when the results are written: one line, and the disk's name."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = f'mount -t tmpfs -o size=64k none {disk} && exec "$@"'
    prefix = ("unshare", "-rm", "sh", "-c", mount, "sh")
    out = disk / "run"
    done = scslab_run("run", "--agents", "300", "--years", "0.1", "--out", out, prefix=prefix)
    assert_one_line_error(done, "No space left on device")


def test_storage_error_words_an_os_error() -> None:
    """The one line for an OSError: the path, what could not be done, why, and what to do."""
    exc = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "runs/x/results.duckdb")
    text = str(StorageError.of(exc, action="write the results"))
    assert text.startswith("runs/x/results.duckdb: cannot write the results: ")
    assert "the disk is full" in text and "\n" not in text
    assert str(StorageError.of(PermissionError(errno.EACCES, "Permission denied"))).startswith(
        "Permission denied; check the permissions"
    )
