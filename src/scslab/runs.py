"""A run from a scenario to its results folder: plain, checkpointed, sharded or resumed.

This module sits above the engine and the store and is the only one that joins them. The engine
(:mod:`scslab.engine`) sets a simulation up and runs its months in memory, checkpointed or in
shards, and hands back a :class:`~scslab.engine.simulation.Record`; it knows nothing of results
files. The store (:mod:`scslab.store`) writes what it is handed (:func:`~scslab.store.writer.
write_results` reads a :class:`~scslab.store.writer.Written` and a record) and reads results
back. Here the folder is prepared, the engine driven, its record written, and a checkpoint that
is done with removed.

>>> from scslab import PopulationSpec, Scenario, Simulation
>>> results = Simulation(Scenario(population=PopulationSpec(agents=10_000), years=1)).run(
...     "runs/example", overwrite=True
... )
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scslab.behaviour.rates import parse_catalogue
from scslab.engine import simulation as engine
from scslab.engine.checkpoint import (
    MANIFEST,
    Made,
    Manifest,
    checkpointing,
    discard,
    read_manifest,
    restore,
)
from scslab.engine.layers import LAYERS_FILE
from scslab.engine.scenario import Scenario
from scslab.engine.shards import run_shards, shard_plans
from scslab.engine.simulation import Progress, Run, RunInterrupted, StopOnce
from scslab.errors import CheckpointError, ScenarioError
from scslab.schemes.loader import parse_scheme
from scslab.store.results import Results
from scslab.store.writer import RESULTS, prepare_out, write_results

__all__ = [
    "RunInterrupted",
    "Simulation",
    "resumable",
    "resume_run",
    "run_checkpointed",
    "run_sharded",
]


class Simulation(engine.Simulation):
    """One scenario, ready to run into a results folder (:meth:`run`).

    Everything else (the scheme, rates, population, :meth:`execute` in memory) is the engine's
    :class:`scslab.engine.simulation.Simulation`.
    """

    #: the output folder :meth:`prepare` made ready, and whether it created it
    _out: tuple[Path, bool] | None = None

    @classmethod
    def from_checkpoint(cls, manifest: Manifest) -> Simulation:
        """The simulation a checkpoint belongs to, rebuilt from its own texts."""
        where = manifest.folder / MANIFEST
        return cls(
            Scenario.from_text(manifest.scenario, f"{where}:scenario"),
            scheme=parse_scheme(manifest.scheme, f"{where}:scheme"),
            catalogue=parse_catalogue(manifest.catalogue, f"{where}:catalogue"),
            also_personal=manifest.also_personal,
        )

    def prepare(self, out: str | Path | None = None, *, overwrite: bool = False) -> Path:
        """Check memory and the output folder before any work; return the folder to write.

        Done once: :meth:`run` and the checkpointed and sharded runs reuse the folder prepared
        here. Nothing in an existing folder is removed (see
        :func:`~scslab.store.writer.prepare_out`).
        """
        folder = Path(out) if out is not None else default_out(self.scheme.id)
        if self._out is not None and self._out[0] == folder:
            return folder
        self.check_memory()
        created = prepare_out(folder, overwrite)
        self._out = (folder, created)
        return folder

    def abandon(self) -> None:
        """After a run that failed or was refused: remove the output folder :meth:`prepare` made,
        if nothing was written into it, so that no empty ``runs/TIME-SCHEME`` is left behind."""
        if self._out is not None and self._out[1]:
            with contextlib.suppress(OSError):  # not empty, or gone: leave it
                self._out[0].rmdir()
        self._out = None

    def run(
        self,
        out: str | Path | None = None,
        *,
        overwrite: bool = False,
        progress: Progress | None = None,
        resume: Run | None = None,
    ) -> Results:
        """Run and write ``results.duckdb`` in ``out`` (default: a new folder under ``runs/``).

        With ``overwrite`` the results already there are replaced only once the new ones are
        complete. On Ctrl-C the steps done so far are written to ``results.partial.duckdb`` and
        :class:`~scslab.engine.simulation.RunInterrupted` is raised with its path; further
        Ctrl-Cs wait until it is written.
        """
        folder = self.prepare(out if out is not None else self._folder(), overwrite=overwrite)
        try:
            with StopOnce() as stop:
                started = datetime.now(UTC)
                clock = time.perf_counter()
                record, _ = self.execute(progress, resume=resume)
                stop.saving = True
                meta = {
                    "started": started,
                    "finished": datetime.now(UTC),
                    "seconds": time.perf_counter() - clock,
                    "status": "interrupted" if self.interrupted else "complete",
                }
                path = write_results(folder, self, record, meta)
                if not self.interrupted:
                    discard(folder)  # a checkpoint, this run's or an earlier one's, is done with
        except BaseException:
            if not self.interrupted:
                self.abandon()
            raise
        if self.interrupted:
            raise RunInterrupted(path)
        return Results(path)

    def _folder(self) -> Path | None:
        """The folder :meth:`prepare` made ready, if any."""
        return self._out[0] if self._out is not None else None


def default_out(scheme_id: str) -> Path:
    """A new folder for a run of ``scheme_id``: ``runs/TIME-SCHEME`` (``$SCSLAB_RUNS``)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(os.environ.get("SCSLAB_RUNS", "runs"))
    return base / f"{stamp}-{scheme_id}"


# --------------------------------------------------------------------------------------------
# checkpointed runs, and resuming them


def run_checkpointed(
    sim: Simulation,
    folder: Path,
    every: int,
    progress: Progress | None = None,
    *,
    resume: Manifest | None = None,
) -> Results:
    """Run ``sim`` into ``folder`` (prepared by :meth:`Simulation.prepare`), checkpointing every
    ``every`` months; with ``resume``, continue from that checkpoint instead of starting.

    The finished run's ``results.duckdb`` is what an uninterrupted run writes; the checkpoint is
    then removed. On Ctrl-C the partial results are written and the checkpoint is kept.
    """
    if every < 1:
        raise ScenarioError(f"--checkpoint-every {every}: give a number of months of 1 or more")
    folder = sim.prepare(folder, overwrite=True)
    run = sim.start()
    if resume is not None:
        restore(run, resume.part(0), resume.folder / resume.parts[0][0])
    step_done = checkpointing(folder, run, Made.of(sim), every, progress, resume=resume)
    return sim.run(folder, progress=step_done, resume=run)  # which removes the checkpoint


def resumable(folder: Path) -> Manifest:
    """The checkpoint of an unfinished run in ``folder``; CheckpointError if there is none.

    A checkpoint beside ``results.duckdb`` is an ``--overwrite`` run's (the results are an
    earlier run's, replaced when this one completes) or one a completed run had no time to
    remove (resuming it writes the same results again): either way it is resumed.
    """
    if (folder / RESULTS).exists() and not (folder / MANIFEST).exists():
        raise CheckpointError(f"{folder}: this run is complete ({RESULTS} is there)")
    if (folder / LAYERS_FILE).exists() and not (folder / MANIFEST).exists():
        raise CheckpointError(
            f"{folder}: this layered run has no checkpoint (it is complete, or ran without "
            "--checkpoint-every)"
        )
    return read_manifest(folder)


def resume_run(folder: Path, progress: Progress | None = None, **sharding: Any) -> Results:
    """Continue the run in ``folder`` from its checkpoint to the end; write ``results.duckdb``.

    ``sharding`` (e.g. ``cluster=``) goes to a sharded run's coordinator.
    """
    manifest = resumable(folder)
    if manifest.extra.get("layered"):
        raise CheckpointError(
            f"{folder}: a layered run's checkpoint; scslab.layered.resume_layered continues it"
        )
    sim = Simulation.from_checkpoint(manifest)
    if manifest.shards > 1 or manifest.extra.get("sharded"):
        return run_sharded(
            sim, folder, manifest.shards, progress=progress, resume=manifest, **sharding
        )
    return run_checkpointed(sim, folder, manifest.every, progress, resume=manifest)


# --------------------------------------------------------------------------------------------
# sharded runs


def run_sharded(
    sim: Simulation,
    folder: Path,
    shards: int,
    *,
    cluster: str | None = None,
    every: int | None = None,
    progress: Progress | None = None,
    resume: Manifest | None = None,
    log: Callable[[str], None] | None = None,
) -> Results:
    """Run ``sim`` split into ``shards`` by region on Dask workers; write ``results.duckdb``.

    ``folder`` is prepared (:meth:`Simulation.prepare`) and must be visible to the workers, who
    write their checkpoint parts there every ``every`` months (default 12). Without ``cluster``
    (a scheduler address) ``shards`` local worker processes are started and closed at the end.
    ``resume`` continues from a checkpoint of the same run. ``log`` hears of lost workers.
    The months are :func:`scslab.engine.shards.run_shards`'.
    """
    plans, every = shard_plans(sim, folder, shards, every, resume)
    # an earlier checkpoint here stays until this run's first manifest replaces it
    folder = sim.prepare(folder, overwrite=True)
    with StopOnce(defer=True) as stop:
        record, meta = run_shards(
            sim,
            folder,
            plans,
            every,
            stop,
            cluster=cluster,
            progress=progress,
            resume=resume,
            log=log,
        )
        assert isinstance(record, engine.Record)
        path = write_results(folder, sim, record, meta)
        discard(folder)
    return Results(path)
