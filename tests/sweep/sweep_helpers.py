"""Helpers for the sweep tests: small specs and the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

#: A base scenario small enough for a run to take a few milliseconds.
TINY_BASE = """\
base:
  years: 0.5
  panel: 0
  population:
    agents: 1500
"""


def spec_file(tmp_path: Path, body: str, base: str = TINY_BASE, name: str = "spec.yaml") -> Path:
    """A spec file: ``base`` and then ``body``."""
    path = tmp_path / name
    path.write_text(base + body, encoding="utf-8")
    return path


def scslab(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scslab", *args], capture_output=True, text=True, cwd=cwd
    )
