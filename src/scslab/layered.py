"""A layered scenario to a results folder: each layer's results, and the list of layers.

The layers run in memory (:mod:`scslab.engine.layers`); each is written as a one-layer results
file, ``OUT/layers/<id>/results.duckdb``, that every command reads as it reads any run, and
``OUT/layers.json`` says that the run is layered and lists its layers. ``OUT/layers.duckdb`` holds
every layer's ``steps`` and ``flows`` in one table each, with a ``layer`` column.
"""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime
from pathlib import Path

from scslab.engine.layers import LAYERS_DIR, LAYERS_FILE, LayeredSimulation
from scslab.engine.simulation import Progress, RunInterrupted, StopOnce
from scslab.files import replacing, write_text
from scslab.runs import default_out
from scslab.store.results import Results
from scslab.store.writer import RESULTS, RUN_FILES, prepare_out, write_results

#: The file at the top of a layered run's folder with every layer's ``steps`` and ``flows``.
TOGETHER = "layers.duckdb"
#: The tables :data:`TOGETHER` holds, each every layer's rows with ``layer`` and ``month`` first.
TOGETHER_TABLES = ("steps", "flows")


def write_together(path: Path, lsim: LayeredSimulation, paths: dict[str, Path]) -> Path:
    """``layers.duckdb``: the ``steps`` and ``flows`` of every layer in one table each, with
    ``layer`` (its id) and ``month`` (the run's month: the layer's step plus its ``from``) in
    front of the layer's own columns; a column one layer lacks (another scheme's grade) is NULL
    in its rows. Written aside and renamed into place."""
    import duckdb

    first = {ls.id: ls.first for ls in lsim.layers}
    with replacing(path, create=False, what="the layers' tables") as aside:
        con = duckdb.connect(str(aside.path))
        aside.hold()
        try:
            for k, lid in enumerate(paths):
                quoted = str(paths[lid]).replace("'", "''")
                con.execute(f"ATTACH '{quoted}' AS l{k} (READ_ONLY)")
            for table in TOGETHER_TABLES:
                parts = " UNION ALL BY NAME ".join(
                    f"SELECT '{lid}' AS layer, step + {first[lid]} AS month, * FROM l{k}.{table}"
                    for k, lid in enumerate(paths)
                )
                con.execute(f"CREATE TABLE {table} AS {parts}")
            for k in range(len(paths)):
                con.execute(f"DETACH l{k}")
            con.execute("CHECKPOINT")
        finally:
            con.close()
    return path


def run_layered(
    lsim: LayeredSimulation,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> dict[str, Results]:
    """Run and write each layer's results in ``out/layers/<id>/``, then ``out/layers.json``;
    return each layer's :class:`Results` by id (default folder: ``runs/TIME-layers``).

    The folder is checked before any work, as for a one-layer run (``overwrite`` to replace what
    is there). On Ctrl-C the months done so far are written as each layer's
    ``results.partial.duckdb`` and :class:`RunInterrupted` is raised with the folder."""
    folder = Path(out) if out is not None else default_out("layers")
    lsim.check_memory()
    created = prepare_out(folder, overwrite)
    interrupted = False
    try:
        with StopOnce() as stop:
            started = datetime.now(UTC)
            clock = time.perf_counter()
            run = lsim.execute(progress)
            interrupted = lsim.interrupted
            stop.saving = True
            meta = {
                "started": started,
                "finished": datetime.now(UTC),
                "seconds": time.perf_counter() - clock,
                "status": "interrupted" if interrupted else "complete",
            }
            paths = {}
            for ls, record in zip(lsim.layers, run.records, strict=True):
                sub = folder / LAYERS_DIR / ls.id
                prepare_out(sub, overwrite=True)  # within the folder checked above
                paths[ls.id] = write_results(sub, ls.sim, record, meta)
            files = {lid: str(p.relative_to(folder)) for lid, p in paths.items()}
            if interrupted:  # an earlier run's would describe that run
                (folder / TOGETHER).unlink(missing_ok=True)
            else:
                write_together(folder / TOGETHER, lsim, paths)
            write_text(folder / LAYERS_FILE, lsim.describe(files), what="the list of layers")
            if not interrupted:  # what an earlier run left at the top described that run
                for name in RUN_FILES:
                    (folder / name).unlink(missing_ok=True)
    except BaseException:
        if created and not interrupted:
            with contextlib.suppress(OSError):  # not empty, or gone: leave it
                folder.rmdir()
        raise
    if interrupted:
        raise RunInterrupted(folder)
    return {lid: Results(p) for lid, p in paths.items() if p.name == RESULTS}
