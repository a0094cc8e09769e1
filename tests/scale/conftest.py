"""A local Dask cluster shared by the sharding tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    """Three worker processes with one thread each: enough for the 1-, 2- and 3-shard runs."""
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=3, threads_per_worker=1, processes=True, dashboard_address=":0", memory_limit=0
    ) as local:
        yield local
