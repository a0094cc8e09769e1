"""The tutorial notebook runs from start to end (at a small size)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parents[2] / "examples" / "rongcheng-in-20-minutes.ipynb"


def test_the_tutorial_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every cell of "From jaywalking to the blacklist" runs without error on 5,000 people."""
    monkeypatch.setenv("SCSLAB_TUTORIAL_AGENTS", "5000")
    monkeypatch.setenv("SCSLAB_TUTORIAL_RUNS", str(tmp_path))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert (tmp_path / "rongcheng" / "report.html").exists()
    shown = [c for c in nb.cells if c.cell_type == "code" and c.get("outputs")]
    assert len(shown) >= 8  # the cells that show something did
