"""The executor conformance suite, run against a real LocalCluster (two worker
processes) reached by its address, as any external scheduler would be."""

from __future__ import annotations

import pytest

from ferroflow.testing.conformance import ExecutorConformance
from ferroflow_dask import DaskExecutor

_SCHEDULER: dict = {}


@pytest.fixture(autouse=True)
def _scheduler(address):
    _SCHEDULER["address"] = address
    yield
    _SCHEDULER.clear()


class TestDaskExecutorConformance(ExecutorConformance):
    # Note: the suite's Ctrl-C and executor-error tests leave 60 s naps running in
    # worker threads (Dask cannot stop a running thread); they are the suite's last two
    # tests, and the module's cluster has four threads, so nothing waits on them.
    executor_factory = staticmethod(lambda: DaskExecutor(address=_SCHEDULER["address"]))
