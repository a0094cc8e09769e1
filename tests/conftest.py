"""How the suite shares its tests out between processes.

`pytest` runs on two processes (pytest-xdist: ``-n 2 --dist loadfile`` in pyproject.toml's
addopts; ``-n 0`` runs everything in this one). Each process takes whole groups of tests, one
group at a time, and runs a group's tests in the order they are written:

- a test file is a group, so that a module's fixtures are built once (xdist's ``loadfile``);
- but the test files of a folder whose conftest.py starts a Dask ``cluster`` for the session
  (tests/scale, tests/sweep) are one group, so that one LocalCluster serves them, not one per
  process;
- and the commands of each document in tests/docs/test_doc_commands.py are a group of their own,
  so that a document's commands run in order in its folder (a command uses what an earlier one
  wrote) while other documents run on the other process.

Groups that hold a test marked ``slow`` are handed out first, larger ones first, so that the run
does not end on one long group while the other process waits.

Numba's parallel kernels run on OpenMP threads, which by default spin for a while when they wait
for work. Two processes of two spinning threads each on two cores take each other's time: the
documented ledger took twice as long so. The suite's threads, and those of the commands it starts,
sleep when they wait instead (``OMP_WAIT_POLICY=PASSIVE``, set before numba is imported).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

#: A documented command's test id starts with its document: ``[docs/audit.md:254 scslab ...]``.
DOC_COMMAND = re.compile(r"::test_doc_command_runs\[([^\]:]+\.md):\d+ ")


@cache
def starts_a_cluster(folder: str) -> bool:
    """Whether ``folder``'s conftest.py defines the session's Dask ``cluster`` fixture."""
    conftest = ROOT / folder / "conftest.py"
    return conftest.is_file() and "def cluster(" in conftest.read_text(encoding="utf-8")


def group_of(nodeid: str) -> str:
    """The group that the test ``nodeid`` runs in, from its id alone (the scheduler sees no
    more): its file, its folder, or its file and document."""
    path = nodeid.split("::", 1)[0]
    folder = path.rsplit("/", 1)[0] if "/" in path else ""
    if starts_a_cluster(folder):
        return folder
    doc = DOC_COMMAND.search(nodeid)
    if doc is not None:
        return f"{path}::{doc.group(1)}"
    return path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Groups with a slow test first, the larger of them (more tests) first; otherwise, and
    within each group, the written order."""
    groups = [group_of(item.nodeid) for item in items]
    size = Counter(groups)
    slow = {g for g, item in zip(groups, items, strict=True) if item.get_closest_marker("slow")}
    rank = {id(item): -size[g] if g in slow else 0 for g, item in zip(groups, items, strict=True)}
    items.sort(key=lambda item: rank[id(item)])  # a stable sort


@pytest.hookimpl(optionalhook=True)  # xdist's hook: without xdist (-p no:xdist) it is not called
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """xdist's ``loadfile`` scheduling, over the groups of :func:`group_of` instead of files."""
    if config.getvalue("dist") != "loadfile":
        return None  # another mode named on the command line: xdist's own
    from xdist.scheduler import LoadScopeScheduling

    class LoadGroups(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

    return LoadGroups(config, log)
