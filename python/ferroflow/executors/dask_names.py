"""Prefect 1's Dask executors by name, built on ferroflow's executors.

* :func:`LocalDaskExecutor` -- ``scheduler="threads"`` (the default), ``"processes"``
  or ``"synchronous"`` with ``num_workers``, as in Prefect 1; it needs no Dask: the
  work runs on ferroflow's ``threads``, ``processes`` or ``local`` executor.
* :func:`DaskExecutor` -- ``address``, ``cluster_class``, ``cluster_kwargs``,
  ``adapt_kwargs``, ``client_kwargs``, as in Prefect 1: the executor of the
  ``ferroflow-dask`` plugin, imported only when one is built.
"""

from __future__ import annotations

from typing import Any

from ferroflow.executors.base import Executor

__all__ = ["LocalDaskExecutor", "DaskExecutor"]

_SCHEDULERS = {
    "threads": "threads", "threading": "threads",
    "processes": "processes", "multiprocessing": "processes",
    "sync": "synchronous", "synchronous": "synchronous", "single-threaded": "synchronous",
}


def LocalDaskExecutor(scheduler: str = "threads", num_workers: int | None = None) -> Executor:
    """The executor Prefect 1's ``LocalDaskExecutor(scheduler, num_workers=)`` stands for.

    ``"threads"`` (or ``"threading"``) gives a
    :class:`~ferroflow.executors.ThreadsExecutor`, ``"processes"`` (or
    ``"multiprocessing"``) a :class:`~ferroflow.executors.ProcessesExecutor`, each with
    ``num_workers`` workers (default, as Dask's: the CPUs this process may use);
    ``"synchronous"`` (``"sync"``, ``"single-threaded"``) the
    :class:`~ferroflow.executors.LocalExecutor`.

    Raises:
        ValueError: an unknown scheduler (Prefect 1's message), or ``num_workers``
            that is not a positive integer.
    """
    kind = _SCHEDULERS.get(scheduler.lower()) if isinstance(scheduler, str) else None
    if kind is None:
        raise ValueError(f"Unknown scheduler {scheduler!r}")
    if kind == "synchronous":
        from ferroflow.executors.local import LocalExecutor

        return LocalExecutor()
    from ferroflow.executors.processes import ProcessesExecutor, default_process_workers

    workers = default_process_workers() if num_workers is None else num_workers
    if kind == "processes":
        return ProcessesExecutor(max_workers=workers)
    from ferroflow.executors.threads import ThreadsExecutor

    return ThreadsExecutor(max_workers=workers)


def DaskExecutor(address: str | None = None, cluster_class: Any = None, cluster_kwargs: dict | None = None,
                 adapt_kwargs: dict | None = None, client_kwargs: dict | None = None) -> Executor:
    """The ``ferroflow-dask`` plugin's executor, with Prefect 1's ``DaskExecutor``
    arguments: a temporary ``cluster_class`` cluster (default ``LocalCluster``) built
    with ``cluster_kwargs`` and scaled with ``adapt_kwargs``, or the running scheduler
    at ``address``; ``client_kwargs`` go to the Dask client.

    Raises:
        ImportError: the ``ferroflow-dask`` plugin is not installed (saying how to
            install it).
        ValueError: as the plugin's executor (``address`` with a cluster to start...).
    """
    try:
        from ferroflow_dask import DaskExecutor as PluginExecutor
    except ImportError as exc:
        raise ImportError(
            "DaskExecutor runs on the ferroflow-dask plugin, which is not installed: "
            "`pip install ferroflow-dask` (from a clone of ferroflow: `pip install plugins/ferroflow-dask`)"
        ) from exc
    return PluginExecutor(address=address, cluster_class=cluster_class, cluster_kwargs=cluster_kwargs,
                          adapt_kwargs=adapt_kwargs, client_kwargs=client_kwargs)
