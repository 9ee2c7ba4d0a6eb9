"""Fixtures: a real ``distributed.LocalCluster`` (worker processes on 127.0.0.1) per
test module, and a client of it for the tests' own look-ups."""

from __future__ import annotations

import pytest

from ferroflow.testing.fixtures import (
    clean_plugin_manager,  # noqa: F401 - a fixture for this directory's tests
    require_installed,
)

# The plugin must be installed (its entry point is part of what is tested).
require_installed("ferroflow-dask", "ferroflow_dask")

#: Each module's cluster: two worker processes of two threads, every worker offering
#: one unit of the resource "GPU" (for the resource tests).
#: The scheduler's HTTP server takes a free port (":0"): with None it would still try
#: 8787, and when that is taken Dask leaks a socket (a ResourceWarning, an error here).
CLUSTER = {"n_workers": 2, "threads_per_worker": 2, "processes": True, "host": "127.0.0.1",
           "dashboard_address": ":0", "resources": {"GPU": 1}}


@pytest.fixture(scope="module")
def cluster(request):
    """A LocalCluster shared by the tests of one module (started once: about 0.5 s); a
    module may set ``THREADS_PER_WORKER`` to have more threads."""
    from distributed import LocalCluster

    threads = getattr(request.module, "THREADS_PER_WORKER", CLUSTER["threads_per_worker"])
    with LocalCluster(**{**CLUSTER, "threads_per_worker": threads}) as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster):
    """A client of the module's cluster, for the tests' own look-ups (worker pids...)."""
    from distributed import Client

    with Client(cluster, set_as_default=False) as own:
        yield own


@pytest.fixture
def address(cluster, client):
    """The scheduler address of the module's cluster, with both workers up (a test
    before may have killed one: its nanny starts another)."""
    client.wait_for_workers(CLUSTER["n_workers"])
    return cluster.scheduler_address


@pytest.fixture(autouse=True)
def _isolated(clean_plugin_manager):  # noqa: F811 - the fixture imported above
    yield
