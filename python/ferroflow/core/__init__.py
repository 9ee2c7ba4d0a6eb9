"""The graph-building API: tasks, edges, parameters and flows.

Import order matters inside this package: ``task`` defines :class:`Task` before the
modules that subclass it (``collections``, ``operators``, ``parameter``) are loaded,
so ``task`` is imported first.
"""

from ferroflow.core.task import (  # noqa: I001 - task must load first
    FunctionTask,
    Task,
    active_flow,
    tags,
    task,
)
from ferroflow.core.edge import Edge, EdgeAnnotation, flatten, mapped, unmapped
from ferroflow.core.collections import (
    NO_DEFAULT,
    Constant,
    Dict,
    GetItem,
    List,
    Set,
    Tuple,
    as_task,
)
from ferroflow.core.parameter import Parameter
from ferroflow.core.flow import Flow, TaskSet

__all__ = [
    "Task",
    "FunctionTask",
    "task",
    "tags",
    "active_flow",
    "Edge",
    "EdgeAnnotation",
    "mapped",
    "unmapped",
    "flatten",
    "Constant",
    "List",
    "Tuple",
    "Set",
    "Dict",
    "GetItem",
    "as_task",
    "NO_DEFAULT",
    "Parameter",
    "Flow",
    "TaskSet",
]
