"""Output paths: `--plot`, `--out` and the report refuse anything that is not a regular file (or
folder) or a new name, and never write through a symbolic link, onto a device or over a folder."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from helpers import scslab
from scslab.errors import ResourceError
from scslab.files import check_output, write_text
from scslab.store.writer import RESULTS


def refused(done: subprocess.CompletedProcess[str], word: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert word in lines[0], lines[0]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("paths") / "run"
    done = scslab("run", "--agents", "2000", "--years", "0.5", "--out", str(folder), "--json")
    assert done.returncode == 0, done.stderr
    return folder


def panel_person(run: Path) -> str:
    import duckdb

    con = duckdb.connect(str(run / RESULTS), read_only=True)
    try:
        return str(con.execute("SELECT min(person) FROM panel").fetchone()[0])  # type: ignore[index]
    finally:
        con.close()


def test_write_text_refuses_a_link_a_device_and_a_folder(tmp_path: Path) -> None:
    """The one place that puts a file under its name checks what is there first."""
    other = tmp_path / "other.txt"
    other.write_text("someone else's")
    link = tmp_path / "link.html"
    link.symlink_to(other)
    (tmp_path / "folder").mkdir()
    for path, word in (
        (link, "symbolic link"),
        (Path("/dev/null"), "not a regular file"),
        (tmp_path / "folder", "is a folder"),
        (tmp_path / "missing" / "x.html", "does not exist"),
    ):
        with pytest.raises(ResourceError, match=word):
            write_text(path, "new")
    assert other.read_text() == "someone else's" and link.is_symlink()
    assert (tmp_path / "folder").is_dir()
    write_text(tmp_path / "new.html", "new")  # a new name
    write_text(other, "replaced")  # a regular file
    assert (tmp_path / "new.html").read_text() == "new" and other.read_text() == "replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "folder",
        "link.html",
        "new.html",
        "other.txt",
    ]


def test_explain_plot_refuses_a_link_a_device_and_a_folder(run: Path, tmp_path: Path) -> None:
    """`explain --plot PATH` used to rename over whatever was at PATH, /dev/null included."""
    pytest.importorskip("plotly")
    person = panel_person(run)
    target = tmp_path / "kept.txt"
    target.write_text("kept")
    link = tmp_path / "plot.html"
    link.symlink_to(target)
    (tmp_path / "dir.html").mkdir()
    for path, word in (
        (link, "symbolic link"),
        ("/dev/null", "not a regular file"),
        (tmp_path / "dir.html", "is a folder"),
    ):
        refused(scslab("explain", str(run), "--agent", person, "--plot", str(path)), word)
    assert target.read_text() == "kept" and link.is_symlink()
    assert os.path.exists("/dev/null") and not Path("/dev/null").is_file()
    assert list((tmp_path / "dir.html").iterdir()) == []
    plot = tmp_path / "new.html"
    done = scslab("explain", str(run), "--agent", person, "--plot", str(plot), "--json")
    assert done.returncode == 0, done.stderr
    assert plot.read_text().startswith("<!doctype html>")


def test_the_report_is_not_written_through_a_link(run: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.html"
    other.write_text("kept")
    (run / "report.html").symlink_to(other)
    try:
        refused(scslab("report", str(run), "--no-audit"), "symbolic link")
        assert other.read_text() == "kept"
    finally:
        (run / "report.html").unlink()


@pytest.mark.parametrize("kind", ["file link", "device", "dangling link", "link inside"])
def test_run_out_refuses_what_is_not_a_folder(kind: str, tmp_path: Path) -> None:
    """`--out` must be a folder or a new name; a link where the run writes a file is refused
    before the run starts, and nothing is written through it."""
    other = tmp_path / "other"
    other.write_text("kept")
    out = tmp_path / "out"
    if kind == "file link":
        out.symlink_to(other)
    elif kind == "device":
        out = Path("/dev/null")
    elif kind == "dangling link":
        out.symlink_to(tmp_path / "nowhere")
    else:
        out.mkdir()
        (out / RESULTS).symlink_to(other)
    args = ["run", "--agents", "2000", "--years", "0.25", "--out", str(out), "--overwrite"]
    refused(scslab(*args), "not a folder" if kind == "device" else "symbolic link")
    assert other.read_text() == "kept"


def test_check_output_accepts_a_new_name_or_a_regular_file(tmp_path: Path) -> None:
    check_output(tmp_path / "new.html")
    (tmp_path / "file.html").write_text("x")
    check_output(tmp_path / "file.html")
    with pytest.raises(ResourceError, match="not a regular file"):
        os.mkfifo(tmp_path / "fifo")
        check_output(tmp_path / "fifo")
