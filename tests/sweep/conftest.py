"""One LocalCluster that the Dask tests share: starting one costs seconds."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def cluster() -> Iterator[str]:
    """The address of a two-worker LocalCluster, started once for the session."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"},  # its HTTP server on a free port
        silence_logs=logging.ERROR,
        env={"NUMBA_NUM_THREADS": "1"},
    ) as local:
        yield local.scheduler_address
