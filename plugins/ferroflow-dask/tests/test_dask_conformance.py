"""The executor conformance suite, run against a real LocalCluster (two worker
processes) reached by its address, as any external scheduler would be."""

from __future__ import annotations

import pytest

from ferroflow.testing.conformance import ExecutorConformance
from ferroflow_dask import DaskExecutor

_SCHEDULER: dict = {}

#: Dask cannot stop a task already running in a worker thread, so the suite's timeout,
#: executor-error and Ctrl-C tests leave task runs sleeping there for a minute (five in
#: all): on four threads, the Ctrl-C test's first task waited for one of them to end,
#: past the test's 30 s limit. Twelve threads leave room.
THREADS_PER_WORKER = 6


@pytest.fixture(autouse=True)
def _scheduler(address):
    _SCHEDULER["address"] = address
    yield
    _SCHEDULER.clear()


class TestDaskExecutorConformance(ExecutorConformance):
    executor_factory = staticmethod(lambda: DaskExecutor(address=_SCHEDULER["address"]))
