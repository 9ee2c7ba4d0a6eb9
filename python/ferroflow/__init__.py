"""ferroflow: turn ordinary Python functions into robust workflows.

Tasks and flows in the style of Prefect Core 1 — retries, triggers, signals, dynamic
mapping, parameters — scheduled by a compiled Rust core that stays fast with millions of
mapped task runs::

    from ferroflow import task, Flow, Parameter

    @task
    def double(x):
        return 2 * x

    with Flow("example") as flow:
        n = Parameter("n", default=3)
        ...

    state = flow.run(n=10)
"""

from ferroflow import signals, states, triggers
from ferroflow.control_flow import apply_map, case, ifelse, merge, pause_task, switch
from ferroflow.core.edge import flatten, mapped, unmapped
from ferroflow.core.flow import Flow
from ferroflow.core.parameter import Parameter
from ferroflow.core.task import Task, tags, task
from ferroflow.runtime.context import context
from ferroflow.runtime.logs import get_logger, get_run_logger

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("ferroflow")
except PackageNotFoundError:  # running from a source tree without installing
    from ferroflow._core import __version__

#: Subpackages reachable as attributes of ``ferroflow`` (``ferroflow.schedules.CronSchedule``
#: after a bare ``import ferroflow``), imported on first use.
_SUBMODULES = frozenset({"cache_policies", "cache_validators", "debug", "eager", "engine", "errors", "executors",
                         "notifications", "plugins",
                         "results", "retries", "runtime", "store",
                         "schedules", "tasks"})

#: Names of ``ferroflow`` defined in modules imported on first use (``from ferroflow
#: import resource_manager`` works as for any other name).
_LAZY_NAMES = {"resource_manager": "ferroflow.control_flow.resource_manager", "flow": "ferroflow.eager.flow",
               "wait": "ferroflow.eager.futures", "allow_failure": "ferroflow.eager.futures"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"ferroflow.{name}")
    if name in _LAZY_NAMES:
        import importlib

        return getattr(importlib.import_module(_LAZY_NAMES[name]), name)
    raise AttributeError(f"module 'ferroflow' has no attribute {name!r}")


__all__ = [
    "Flow",
    "allow_failure",
    "context",
    "flow",
    "get_run_logger",
    "get_logger",
    "ifelse",
    "merge",
    "pause_task",
    "resource_manager",
    "Parameter",
    "Task",
    "apply_map",
    "case",
    "flatten",
    "mapped",
    "signals",
    "states",
    "switch",
    "tags",
    "task",
    "triggers",
    "unmapped",
    "wait",
    "__version__",
]
