"""Running a sweep's runs on a Dask client (see :func:`scslab.engine.cluster.dask_client`).

Each distinct run is one Dask task (:func:`scslab.sweep.task.run_one`); results are written to the
sweep's DuckDB file as they arrive, so a sweep stopped at any point keeps its finished runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scslab.sweep.store import SweepStore
from scslab.sweep.task import RunResult, run_one

if TYPE_CHECKING:
    from distributed import Client

    from scslab.sweep.design import Sweep

#: Called with (runs finished now, runs to do now).
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Outcome:
    """What one invocation did: runs planned, already finished, run now, failed now."""

    planned: int  # distinct runs the spec asks for
    skipped: int  # already complete in the file
    done: int  # completed now
    failed: int  # failed now


def _todo(sweep: Sweep, finished: set[str]) -> dict[str, str]:
    """Distinct runs not yet complete, in plan order: key → scenario JSON."""
    todo: dict[str, str] = {}
    for run in sweep.runs:
        if run.key not in finished and run.key not in todo:
            todo[run.key] = run.scenario
    return todo


def execute(
    sweep: Sweep,
    store: SweepStore,
    client: Client | None,
    progress: Progress | None = None,
    threads: int | None = None,
) -> Outcome:
    """Run what is not finished yet: on ``client``, or one by one in this process if ``None``.

    ``threads`` caps each run's kernel threads on the workers (default: as the workers are set).
    """
    finished = store.finished()
    planned = len({r.key for r in sweep.runs})
    todo = _todo(sweep, finished)
    total = len(todo)
    done = failed = 0

    def take(results: list[RunResult]) -> None:
        nonlocal done, failed
        store.record(results)
        done += sum(r.status == "complete" for r in results)
        failed += sum(r.status != "complete" for r in results)
        if progress is not None:
            progress(done + failed, total)

    if progress is not None:
        progress(0, total)
    if client is None:
        for key, scenario in todo.items():
            take([run_one(key, scenario)])
    elif todo:
        _on_dask(client, todo, take, threads)
    return Outcome(planned, planned - total, done, failed)


def _on_dask(
    client: Client,
    todo: dict[str, str],
    take: Callable[[list[RunResult]], None],
    threads: int | None,
) -> None:
    from distributed import as_completed

    futures = [
        client.submit(run_one, key, scenario, threads, key=f"scslab-run-{key}", pure=False)
        for key, scenario in todo.items()
    ]
    keys = {f.key: k for f, k in zip(futures, todo, strict=True)}
    try:
        for batch in as_completed(futures, loop=client.loop).batches():  # type: ignore[no-untyped-call]
            results = [_result(f, keys[f.key]) for f in batch]
            for f in batch:
                f.release()
            take(results)
    except BaseException:
        client.cancel(futures)  # type: ignore[no-untyped-call]
        raise


def _result(future: Any, key: str) -> RunResult:
    if future.status == "finished":
        result: RunResult = future.result()
        return result
    exc = future.exception()
    return RunResult.failed(key, f"{type(exc).__name__}: {exc}")
