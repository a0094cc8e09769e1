"""A Dask client: on a scheduler the user names, or on local worker processes started for the job.

Research users run Dask on a laptop (a LocalCluster), on SLURM through dask-jobqueue and on
Kubernetes; all of them end in a scheduler address, which ``--cluster`` takes (see
``docs/scale.md``). An address that cannot be reached is a :class:`~scslab.errors.ResourceError`
within :data:`CONNECT_TIMEOUT` seconds.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from scslab.errors import ResourceError

#: Seconds to reach a scheduler before giving up.
CONNECT_TIMEOUT = 10


@contextmanager
def dask_client(address: str | None, workers: int) -> Iterator[Any]:
    """A ``distributed.Client`` for the length of the block.

    Without ``address``, a LocalCluster of ``workers`` processes with one thread each is started
    and closed at the end. Its workers ignore Ctrl-C (SIGINT): a Ctrl-C in a terminal reaches the
    whole process group, and the workers are this process's to close, quietly, once it stops.
    """
    from scslab.optional import need

    need("distributed", feature="Dask (sweeps, --shards, --cluster)", extra="scale")
    from distributed import Client, LocalCluster

    if address is None:
        with _sigint_ignored():  # inherited by the worker processes started now
            cluster = LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",  # any free port: never a clash with another cluster
                memory_limit=0,  # shards hold their own columns; scslab checks memory itself
                silence_logs=logging.ERROR,
            )
        try:
            with Client(cluster) as client:  # type: ignore[no-untyped-call]
                yield client
        finally:
            cluster.close()  # type: ignore[no-untyped-call]
        return
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)  # type: ignore[no-untyped-call]
    except Exception as exc:  # whatever answers there, if not a scheduler, fails its own way
        # (a server speaking another protocol even made the handshake ask for exabytes)
        raise ResourceError(
            f"--cluster {address}: cannot reach a Dask scheduler there within "
            f"{CONNECT_TIMEOUT} s ({exc}); start one (see docs/scale.md) or leave out --cluster "
            "to run on local worker processes"
        ) from None
    try:
        yield client
    finally:
        client.close()  # type: ignore[no-untyped-call]


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored for the block (in the main thread; elsewhere nothing changes). Processes
    started meanwhile keep ignoring it, and Python leaves an ignored SIGINT ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def quiet_dask() -> None:
    """After Ctrl-C: silence distributed's loggers in this process, so that closing the cluster
    (workers ending, tasks cancelled, connections closed) prints nothing."""
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] == "distributed"]
    for name in ["distributed", *names]:
        logging.getLogger(name).setLevel(logging.CRITICAL + 1)


def usable_cores() -> int:
    """Cores this process may run on: its CPU affinity (a batch job's allocation), if known."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def kernel_threads(client: Any, workers: list[str]) -> dict[str, int]:
    """Threads for the compiled kernels of tasks on ``workers``: each machine's cores shared
    among those of ``workers`` on it. Kernels that oversubscribe the cores spin against each
    other and run several times slower."""
    cores = client.run(usable_cores, workers=workers)
    host = {a: a.rsplit(":", 1)[0] for a in workers}
    sharing = {h: sum(1 for a in workers if host[a] == h) for h in host.values()}
    return {a: max(1, cores[a] // sharing[host[a]]) for a in workers}


def use_kernel_threads(threads: int | None) -> None:
    """In a task: run compiled kernels on at most ``threads`` threads (numba's setting is per
    thread, so each task sets it). An environment variable is not enough: a spawned worker may
    import numba, which reads ``NUMBA_NUM_THREADS`` once, before the variable is set."""
    if threads is not None:
        import numba

        most = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
        numba.set_num_threads(max(1, min(threads, most)))
