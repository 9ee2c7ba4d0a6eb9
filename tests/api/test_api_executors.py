"""Prefect 1's executors by name: ``LocalExecutor``, ``LocalDaskExecutor(scheduler,
num_workers=)`` and ``DaskExecutor(address=, cluster_class=, cluster_kwargs=,
adapt_kwargs=)`` from ``ferroflow.executors``, used as ``Flow(executor=...)``."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from ferroflow import Flow, task
from ferroflow.executors import (
    DaskExecutor,
    LocalDaskExecutor,
    LocalExecutor,
    ProcessesExecutor,
    ThreadsExecutor,
)
from ferroflow.executors.processes import default_process_workers


@task
def where(x):
    return x, os.getpid(), threading.current_thread() is threading.main_thread()


def run_where(executor):
    with Flow("where", executor=executor) as flow:
        out = where.map([1, 2, 3])
    state = flow.run(record=False)
    assert state.is_successful(), state
    return state.result[out].result


@pytest.mark.parametrize("scheduler, kind", [
    ("threads", ThreadsExecutor), ("Threading", ThreadsExecutor),
    ("processes", ProcessesExecutor), ("multiprocessing", ProcessesExecutor),
    ("synchronous", LocalExecutor), ("sync", LocalExecutor), ("single-threaded", LocalExecutor),
])
def test_local_dask_executor_schedulers(scheduler, kind):
    executor = LocalDaskExecutor(scheduler=scheduler)
    assert type(executor) is kind
    if kind is not LocalExecutor:
        assert executor.max_workers == default_process_workers()  # Dask's default: the CPUs
        assert LocalDaskExecutor(scheduler, num_workers=3).max_workers == 3


def test_local_dask_executor_defaults_to_threads_and_refuses_unknown_schedulers():
    assert type(LocalDaskExecutor()) is ThreadsExecutor
    with pytest.raises(ValueError, match="Unknown scheduler 'gpu'"):
        LocalDaskExecutor(scheduler="gpu")
    with pytest.raises(ValueError, match="max_workers must be a positive integer"):
        LocalDaskExecutor(num_workers=0)


def test_local_dask_executor_threads_runs_off_the_main_thread():
    results = run_where(LocalDaskExecutor(num_workers=2))
    assert [r[0] for r in results] == [1, 2, 3]
    assert {r[1] for r in results} == {os.getpid()}
    assert not any(r[2] for r in results)


def test_local_dask_executor_processes_runs_in_other_processes():
    results = run_where(LocalDaskExecutor(scheduler="processes", num_workers=2))
    assert [r[0] for r in results] == [1, 2, 3]
    assert os.getpid() not in {r[1] for r in results}


def test_local_executor_runs_in_the_flow_thread():
    assert all(r[1] == os.getpid() and r[2] for r in run_where(LocalExecutor()))


def test_dask_executor_is_the_plugins_with_prefect_arguments():
    ferroflow_dask = pytest.importorskip("ferroflow_dask")
    executor = DaskExecutor(cluster_class="distributed.LocalCluster", cluster_kwargs={"n_workers": 1},
                            adapt_kwargs={"minimum": 1, "maximum": 2}, client_kwargs={"timeout": 5})
    assert isinstance(executor, ferroflow_dask.DaskExecutor)
    assert executor.cluster_kwargs == {"n_workers": 1}
    assert executor.adapt_kwargs == {"minimum": 1, "maximum": 2}
    assert executor.client_kwargs == {"timeout": 5}
    assert DaskExecutor("tcp://127.0.0.1:8786").address == "tcp://127.0.0.1:8786"


def test_dask_executor_runs_a_flow_on_a_local_cluster():
    pytest.importorskip("ferroflow_dask")
    executor = DaskExecutor(cluster_kwargs={"n_workers": 1, "threads_per_worker": 1, "processes": True,
                                            "host": "127.0.0.1", "dashboard_address": ":0"})
    assert [r[0] for r in run_where(executor)] == [1, 2, 3]


def test_dask_executor_without_the_plugin_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ferroflow_dask", None)  # an import of it now fails
    with pytest.raises(ImportError, match=r"DaskExecutor runs on the ferroflow-dask plugin.*pip install"):
        DaskExecutor()
    import ferroflow.executors

    assert ferroflow.executors.DaskExecutor is DaskExecutor  # naming it needs no plugin
