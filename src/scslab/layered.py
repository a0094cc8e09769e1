"""A layered scenario to a results folder: each layer's results, and the list of layers.

The layers run in memory (:mod:`scslab.engine.layers`); each is written as a one-layer results
file, ``OUT/layers/<id>/results.duckdb``, that every command reads as it reads any run, and
``OUT/layers.json`` says that the run is layered and lists its layers. ``OUT/layers.duckdb`` holds
every layer's ``steps`` and ``flows`` in one table each, with a ``layer`` column.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scslab.behaviour.rates import parse_catalogue
from scslab.engine.checkpoint import (
    MANIFEST,
    Manifest,
    checkpointing,
    discard,
    restore,
)
from scslab.engine.layers import LAYERS_DIR, LAYERS_FILE, LayeredSimulation
from scslab.engine.scenario import Scenario
from scslab.engine.shards import run_shards, shard_plans
from scslab.engine.simulation import Progress, Record, RunInterrupted, StopOnce
from scslab.errors import ScenarioError
from scslab.files import replacing, write_text
from scslab.runs import default_out
from scslab.schemes.loader import parse_scheme
from scslab.store.layered import TOGETHER, TOGETHER_TABLES
from scslab.store.results import Results
from scslab.store.writer import RESULTS, RUN_FILES, prepare_out, write_results


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
    every: int | None = None,
    resume: Manifest | None = None,
    shards: int = 1,
    cluster: str | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Results]:
    """Run and write each layer's results in ``out/layers/<id>/``, then ``out/layers.json``;
    return each layer's :class:`Results` by id (default folder: ``runs/TIME-layers``).

    The folder is checked before any work, as for a one-layer run (``overwrite`` to replace what
    is there). ``every``: write a checkpoint of every layer every so many months, which
    :func:`scslab.runs.resume_run` continues from; ``resume``: continue from that checkpoint.
    On Ctrl-C the months done so far are written as each layer's ``results.partial.duckdb``
    (and a checkpoint, if any, is kept) and :class:`RunInterrupted` is raised with the folder.

    ``shards`` (or a ``cluster``, a Dask scheduler's address): split the population by region
    over Dask workers, as a one-layer run (:func:`scslab.runs.run_sharded`): the same results,
    bit for bit; a checkpoint every ``every`` months (default 12), and on Ctrl-C
    :class:`RunInterrupted` names the checkpoint to resume from."""
    if every is not None and every < 1:
        raise ScenarioError(f"--checkpoint-every {every}: give a number of months of 1 or more")
    sharded = shards != 1 or cluster is not None or (resume is not None and _sharded(resume))
    if sharded:
        return _run_sharded(lsim, out, overwrite, progress, every, resume, shards, cluster, log)
    folder = Path(out) if out is not None else default_out("layers")
    lsim.check_memory()
    created = prepare_out(folder, overwrite or resume is not None)
    interrupted = False
    try:
        with StopOnce() as stop:
            started = datetime.now(UTC)
            clock = time.perf_counter()
            run = lsim.start()
            if resume is not None:
                restore(run, resume.part(0), resume.folder / resume.parts[0][0])
            saving = progress
            if every is not None:
                made, extra = lsim.made()
                saving = checkpointing(
                    folder, run, made, every, progress, resume=resume, extra=extra
                )
            run = lsim.execute(saving, resume=run)
            interrupted = lsim.interrupted
            stop.saving = True
            meta = {
                "started": started,
                "finished": datetime.now(UTC),
                "seconds": time.perf_counter() - clock,
                "status": "interrupted" if interrupted else "complete",
            }
            records = {ls.id: record for ls, record in zip(lsim.layers, run.records, strict=True)}
            paths = _write(lsim, folder, records, meta)
    except BaseException:
        if created and not interrupted:
            with contextlib.suppress(OSError):  # not empty, or gone: leave it
                folder.rmdir()
        raise
    if interrupted:
        raise RunInterrupted(folder)
    return {lid: Results(p) for lid, p in paths.items() if p.name == RESULTS}


def _sharded(manifest: Manifest) -> bool:
    return manifest.shards > 1 or bool(manifest.extra.get("sharded"))


def _run_sharded(
    lsim: LayeredSimulation,
    out: str | Path | None,
    overwrite: bool,
    progress: Progress | None,
    every: int | None,
    resume: Manifest | None,
    shards: int,
    cluster: str | None,
    log: Callable[[str], None] | None,
) -> dict[str, Results]:
    """:func:`run_layered` in shards (:func:`scslab.engine.shards.run_shards`), as
    :func:`scslab.runs.run_sharded` runs one layer."""
    folder = Path(out) if out is not None else default_out("layers")
    if resume is not None:
        shards = resume.shards
    lsim.check_memory()
    plans, every = shard_plans(lsim, folder, shards, every, resume)
    # an earlier checkpoint here stays until this run's first manifest replaces it
    created = prepare_out(folder, overwrite or resume is not None)
    try:
        with StopOnce(defer=True) as stop:
            records, meta = run_shards(
                lsim,
                folder,
                plans,
                every,
                stop,
                cluster=cluster,
                progress=progress,
                resume=resume,
                log=log,
            )
            assert isinstance(records, dict)
            paths = _write(lsim, folder, records, meta)
    except RunInterrupted:  # its checkpoint, if any, is in the folder
        raise
    except BaseException:
        if created:
            with contextlib.suppress(OSError):  # not empty, or gone: leave it
                folder.rmdir()
        raise
    return {lid: Results(p) for lid, p in paths.items()}


def _write(
    lsim: LayeredSimulation, folder: Path, records: dict[str, Record], meta: dict[str, Any]
) -> dict[str, Path]:
    """Each layer's results file, ``layers.duckdb`` (unless the run was interrupted) and
    ``layers.json``; a complete run's folder is then rid of what an earlier run left at the top
    and of its checkpoint. Returns each layer's file by id."""
    interrupted = meta["status"] == "interrupted"
    # a layer of several ran with the others (their acts, links, managers), a layer over some
    # regions with the whole population's contracts: it is replayed only with its run, from
    # this folder (scslab.analysis.replay)
    meta = {**meta, "with_layers": lsim.entangled}
    paths = {}
    for ls in lsim.layers:
        sub = folder / LAYERS_DIR / ls.id
        prepare_out(sub, overwrite=True)  # within the folder checked by the caller
        paths[ls.id] = write_results(sub, ls.sim, records[ls.id], meta)
    files = {lid: str(p.relative_to(folder)) for lid, p in paths.items()}
    if interrupted:  # an earlier run's would describe that run
        (folder / TOGETHER).unlink(missing_ok=True)
    else:
        write_together(folder / TOGETHER, lsim, paths)
    write_text(folder / LAYERS_FILE, lsim.describe(files), what="the list of layers")
    if not interrupted:  # what an earlier run left at the top described that run
        for name in RUN_FILES:
            (folder / name).unlink(missing_ok=True)
        discard(folder)  # a checkpoint, this run's or an earlier one's, is done with
    return paths


def from_checkpoint(manifest: Manifest) -> LayeredSimulation:
    """The layered simulation a checkpoint belongs to, rebuilt from its own texts."""
    where = manifest.folder / MANIFEST
    schemes = manifest.extra["layered"]["schemes"]
    return LayeredSimulation(
        Scenario.from_text(manifest.scenario, f"{where}:scenario"),
        schemes={lid: parse_scheme(text, f"{where}:{lid}") for lid, text in schemes.items()},
        catalogue=parse_catalogue(manifest.catalogue, f"{where}:catalogue"),
    )


def resume_layered(
    manifest: Manifest,
    progress: Progress | None = None,
    *,
    cluster: str | None = None,
    log: Callable[[str], None] | None = None,
) -> tuple[LayeredSimulation, dict[str, Results]]:
    """Continue the layered run whose checkpoint ``manifest`` is, in its folder, to the end (a
    sharded run in its shards, on ``cluster`` if given)."""
    lsim = from_checkpoint(manifest)
    done = run_layered(
        lsim,
        manifest.folder,
        progress=progress,
        every=manifest.every,
        resume=manifest,
        cluster=cluster,
        log=log,
    )
    return lsim, done
