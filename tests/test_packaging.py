"""Packaging: one version, a lean core, and one line naming the extra a missing stack is in."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import scslab
from scslab.errors import LibraryMissing
from scslab.optional import EXTRAS, need

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

#: The stacks behind extras: none of them may load for the core commands.
HEAVY = ("panel", "bokeh", "dask", "distributed", "SALib", "pyabc")


def test_the_version_is_written_once() -> None:
    """pyproject.toml takes its version from scslab.__version__; the installed metadata agrees."""
    project = PYPROJECT["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "scslab.__version__"}
    assert importlib.metadata.version("scslab") == scslab.__version__


def test_every_extra_that_need_names_is_declared() -> None:
    """An extra named in a missing-library message exists, and dev installs all of them."""
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(EXTRAS) <= set(extras)
    dev_self = [d for d in extras["dev"] if d.startswith("scslab[")]
    assert len(dev_self) == 1
    assert set(dev_self[0][len("scslab[") : -1].split(",")) == set(EXTRAS)
    core = " ".join(PYPROJECT["project"]["dependencies"]).lower()
    for stack in ("panel", "dask", "salib", "pyabc"):
        assert stack not in core


def test_scslab_run_loads_no_extra(tmp_path: Path) -> None:
    """`scslab run` (and importing scslab) loads none of panel, Dask, SALib or pyabc."""
    code = f"""
import atexit, sys
def report():
    loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({HEAVY!r}))
    print("LOADED=" + ",".join(loaded), file=sys.stderr)
atexit.register(report)
sys.argv = ["scslab", "run", "--agents", "300", "--years", "1", "--json",
            "--out", {str(tmp_path / "run")!r}]
from scslab.cli import main
main()
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "results.duckdb").is_file()
    assert "LOADED=\n" in done.stderr, done.stderr


def test_need_names_the_extra_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing stack behind an extra: LibraryMissing naming `pip install 'scslab[extra]'`."""
    monkeypatch.setitem(sys.modules, "panel", None)  # import panel now fails as if absent
    with pytest.raises(LibraryMissing) as caught:
        need("panel", feature="scslab serve", extra="app")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("scslab serve needs the app extra")
    assert message.endswith("pip install 'scslab[app]'")


def test_need_names_the_package_without_an_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """A library outside every extra: LibraryMissing naming `pip install PACKAGE`."""
    monkeypatch.setitem(sys.modules, "networkx", None)
    with pytest.raises(LibraryMissing, match=r"needs networkx.*: pip install networkx$"):
        need("networkx", feature="Network.to_networkx")


def test_need_returns_the_module_and_keeps_other_import_errors(tmp_path: Path) -> None:
    """An installed library is returned; one that fails inside shows its own error."""
    assert need("json", feature="x") is importlib.import_module("json")
    (tmp_path / "scslab_broken_lib.py").write_text("import scslab_no_such_module\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ModuleNotFoundError) as caught:
            need("scslab_broken_lib", feature="x", extra="app")
        assert not isinstance(caught.value, LibraryMissing)
        assert caught.value.name == "scslab_no_such_module"
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("scslab_broken_lib", None)


def test_serve_without_the_app_extra_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`scslab serve` without panel: status 2 and one line naming the app extra."""
    from scslab.cli import main

    monkeypatch.setitem(sys.modules, "panel", None)
    monkeypatch.setattr(sys, "argv", ["scslab", "serve", "--runs", str(tmp_path / "runs")])
    with pytest.raises(SystemExit) as done:
        main()
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "pip install 'scslab[app]'" in err
    assert not (tmp_path / "runs").exists()


def test_dask_without_the_scale_extra_is_refused_before_a_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sweeps and sharded runs without distributed: LibraryMissing naming the scale extra."""
    from scslab.engine.cluster import dask_client

    monkeypatch.setitem(sys.modules, "distributed", None)
    client = dask_client(None, 1)
    with pytest.raises(LibraryMissing, match=r"pip install 'scslab\[scale\]'$"):
        client.__enter__()
