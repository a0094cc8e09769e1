"""The scale tests' helpers: the whole suite's (tests/helpers.py: a results file's tables, two
runs' tables compared, a run stopped and resumed, the CLI run), and a worker killed mid-run."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from typing import Any

from helpers import assert_same_tables, scslab, stopped, stopped_and_resumed, tables

__all__ = [
    "assert_same_tables",
    "kill_a_worker_after",
    "restarts",
    "scslab",
    "stopped",
    "stopped_and_resumed",
    "tables",
]


def kill_a_worker_after(cluster: Any, month: int) -> tuple[Callable[[int, int], None], list[str]]:
    """A progress callback that SIGKILLs the worker holding shard 0 (shards take the workers in
    address order) once ``month`` months are done, and the list it adds that worker to."""
    from distributed import Client

    with Client(cluster.scheduler_address) as client:
        pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    killed: list[str] = []

    def progress(done: int, total: int) -> None:
        if done == month and not killed:
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    return progress, killed


def restarts(log: list[str]) -> list[int]:
    """The months a sharded run started again from, as its log says."""
    return [int(m) for line in log for m in re.findall(r"from month (\d+)", line)]
