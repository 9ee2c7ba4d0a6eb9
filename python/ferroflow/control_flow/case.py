"""``with case(task, value):`` -- a block of tasks that runs only when ``task``'s
result equals ``value``.

While the block is open, every task added to a flow (a task called, a collection task
made for an argument...) is collected -- parameters and constants excepted. When the
block closes, a :class:`~ferroflow.control_flow.conditional.CompareValue` task named
``case(<value>)`` is bound to ``task`` and made an upstream dependency of each
collected task that has no upstream task inside the block. At run time it raises
``SKIP`` on a mismatch, and the skip flows down the block (and beyond, to every task
keeping ``skip_on_upstream_skip=True``).

Blocks nest: the inner block's comparison is created inside the outer block, so it
depends on the outer one's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ferroflow.control_flow.conditional import CompareValue, _check_condition, _check_value
from ferroflow.core.collections import Constant
from ferroflow.core.flow import TASK_ADDED_HOOK
from ferroflow.core.parameter import Parameter
from ferroflow.core.task import Task, active_flow

if TYPE_CHECKING:  # pragma: no cover
    from ferroflow.core.flow import Flow

__all__ = ["case"]


class case:
    """A conditional block in a flow definition, like Python's ``if``::

        with Flow("example") as flow:
            mode = choose()
            with case(mode, "fast"):
                quick()             # runs only when choose() returned "fast"
            with case(mode, "slow"):
                thorough()          # Skipped otherwise

    ``task`` is the task whose result is compared (a Task); ``value`` is the plain
    value it is compared with (``==``). Tasks created in the block with no upstream
    task inside the block get the comparison as an upstream dependency; the rest
    depend on those, so a mismatch skips the whole block. Join branches with
    :func:`~ferroflow.control_flow.merge`.

    Works with the imperative API too: tasks added with ``flow.add_task`` inside the
    block belong to it. A block is used once; it raises ValueError when its tasks span
    two flows, or when used outside any flow without adding a task.
    """

    def __init__(self, task: Task, value: Any):
        _check_value(f"case({task!r}, {value!r})", value)
        _check_condition(f"case({task!r}, {value!r})", task)
        self.task = task
        self.value = value
        self._tasks: dict[Task, None] = {}
        self._flow: Flow | None = None
        self._token: Any = None
        self._outer_hook: Any = None
        self._used = False

    def __repr__(self) -> str:
        return f"case({self.task!r}, {self.value!r})"

    def add_task(self, task: Task, flow: Flow) -> None:
        """Put ``task`` (just added to ``flow``) under this case; called for every
        task added while the block is open."""
        if isinstance(task, (Parameter, Constant)):
            return  # root tasks by nature, never conditional
        if self._flow is None:
            self._flow = flow
        elif flow is not self._flow:
            raise ValueError(
                f"{self!r}: task {task.name!r} was added to flow {flow.name!r} inside a block "
                f"whose tasks belong to flow {self._flow.name!r}; a case block serves one flow"
            )
        self._tasks[task] = None

    def __enter__(self) -> case:
        if self._used:
            raise RuntimeError(f"{self!r} was already used as a block; create a new case(...) for another block")
        self._used = True
        self._flow = active_flow()
        self._outer_hook = TASK_ADDED_HOOK.get()
        self._token = TASK_ADDED_HOOK.set(self._hook)
        return self

    def _hook(self, flow: Flow, task: Task) -> None:
        self.add_task(task, flow)
        if self._outer_hook is not None:  # an enclosing block (a resource manager's) sees the task too
            self._outer_hook(flow, task)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        TASK_ADDED_HOOK.reset(self._token)
        self._token = None
        if exc_type is not None:
            return  # the block failed: leave its error alone
        flow = self._flow
        if flow is None:
            raise ValueError(
                f"{self!r} was used outside a flow and no task was added in its block: "
                "use it inside `with Flow(...)`"
            )
        # A task whose binding failed was taken out of the flow again.
        members = [t for t in self._tasks if t in flow.tasks]
        if not members:
            return
        condition = CompareValue(self.value, name=f"case({self.value})").bind(value=self.task, flow=flow)
        inside = set(members)
        for member in members:
            if inside.isdisjoint(flow.upstream_tasks(member)):
                member.set_upstream(condition, flow=flow)
