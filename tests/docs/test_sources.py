"""The project cites its own docs/sources.md: every pointer into it names an existing anchor."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "docs" / "sources.md"
POINTER = re.compile(r"sources\.md#([a-z0-9-]+)")


def _anchors() -> set[str]:
    return set(re.findall(r'<a id="([a-z0-9-]+)"></a>', SOURCES.read_text(encoding="utf-8")))


def _cited_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "src", "docs", "README.md", "benchmarks", "examples"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / p for p in out if p.endswith((".py", ".md", ".yaml", ".yml"))]


def test_every_pointer_into_sources_md_names_an_existing_anchor() -> None:
    """A scheme, a docstring or a doc that points at ``docs/sources.md#x`` finds section x there."""
    anchors = _anchors()
    assert {"paper", "suining", "rongcheng", "sesame", "lists", "tax-ratings", "law"} <= anchors
    seen = 0
    for path in _cited_files():
        if not path.exists():
            continue
        for anchor in POINTER.findall(path.read_text(encoding="utf-8")):
            seen += 1
            assert anchor in anchors, f"{path.relative_to(ROOT)} points at sources.md#{anchor}"
    assert seen > 20


def test_every_builtin_scheme_points_its_sources_at_sources_md() -> None:
    """Each built-in scheme's ``sources:`` entries say where in docs/sources.md the fact is told."""
    from scslab.schemes.loader import builtin_names, load_scheme

    for name in builtin_names():
        for key, text in load_scheme(name).sources.items():
            assert POINTER.search(text), f"{name}: source {key!r} does not point at sources.md"


def test_nothing_in_the_repository_cites_the_team_notes() -> None:
    """``FACTS.md`` is not part of the repository, so nothing shipped may cite it."""
    for path in _cited_files():
        if path.exists():
            assert "FACTS" not in path.read_text(encoding="utf-8"), path.relative_to(ROOT)
