"""Resource managers: a temporary resource (a cluster, a container, a connection) that
a block of tasks uses, set up before them and cleaned up after them, as in Prefect 1.

Decorate a class that has ``setup()`` (optional: returns the resource) and
``cleanup(resource)``::

    @resource_manager
    class Cluster:
        def __init__(self, n_workers):
            self.n_workers = n_workers
        def setup(self):
            return start_cluster(self.n_workers)
        def cleanup(self, cluster):
            cluster.stop()

    with Flow("example") as flow:
        with Cluster(n_workers=2) as cluster:   # ``cluster`` is the setup task
            use(cluster)

Calling ``Cluster(...)`` inside a flow adds three tasks: the *init* task (named after
the class) builds the manager object from the arguments, the *setup* task
(``Cluster.setup``) calls ``setup()`` and the *cleanup* task (``Cluster.cleanup``)
calls ``cleanup(resource)``. While the ``with`` block is open every task added to the
flow (parameters and constants excepted) is collected; when it closes, each collected
task with no upstream task inside the block gets the setup task upstream, and each
with no downstream task inside the block gets the cleanup task downstream.

The cleanup task's trigger, :func:`resource_cleanup_trigger`, runs it once every
upstream task has finished, whatever the block's tasks did, provided the init and
setup tasks succeeded; otherwise the cleanup is ``Skipped`` with a message naming the
step that failed or skipped. The init and cleanup tasks are never default reference
tasks of the flow (a cleanup that fails does not fail the run, and a block task whose
only downstream task is the cleanup counts as terminal), and setup and cleanup are not
checkpointed (so a resumed run sets the resource up again). See
``docs/control-flow.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ferroflow import signals
from ferroflow.core.collections import Constant
from ferroflow.core.flow import TASK_ADDED_HOOK
from ferroflow.core.parameter import Parameter
from ferroflow.core.task import Task, active_flow

if TYPE_CHECKING:  # pragma: no cover
    from ferroflow.core.edge import Edge
    from ferroflow.core.flow import Flow
    from ferroflow.states import State

__all__ = [
    "resource_manager",
    "ResourceManager",
    "ResourceContext",
    "ResourceInitTask",
    "ResourceSetupTask",
    "ResourceCleanupTask",
    "resource_cleanup_trigger",
]


class ResourceInitTask(Task):
    """Builds the manager object: its ``run`` is the decorated class itself, so the
    task takes the class's constructor arguments."""

    #: Read by :meth:`Flow.reference_tasks`: never a default reference task.
    _ff_resource_role = "init"

    def __init__(self, resource_class: Callable[..., Any], **task_kwargs: Any):
        self.run = resource_class  # type: ignore[method-assign]  # this instance's run is the class
        super().__init__(**task_kwargs)


class ResourceSetupTask(Task):
    """Calls ``setup()`` on the manager object; its result is the resource."""

    _ff_resource_role = "setup"

    def run(self, mgr: Any) -> Any:  # type: ignore[override]  # a task's run() takes its own inputs
        return mgr.setup()


class ResourceCleanupTask(Task):
    """Calls ``cleanup(resource)`` on the manager object (``resource`` is None when
    the class has no ``setup``)."""

    #: Read by :meth:`Flow.reference_tasks`: never a default reference task, and a
    #: task whose only downstream tasks are cleanups still counts as terminal.
    _ff_resource_role = "cleanup"

    def run(self, mgr: Any, resource: Any = None) -> None:  # type: ignore[override]  # a task's run() takes its own inputs
        mgr.cleanup(resource)


#: The step an upstream edge of the cleanup task stands for, by the edge's key.
_STEPS = {"mgr": "init", "resource": "setup"}


def resource_cleanup_trigger(upstream_states: dict[Edge, State]) -> bool:
    """The cleanup task's trigger: run once every upstream task has finished, if the
    init and setup tasks succeeded. Raises ``SKIP("Resource manager <step> failed")``
    (or ``... skipped``) when the init or setup task did not succeed -- the init
    task's outcome is reported first, as the one that caused the other -- and
    ``TRIGGERFAIL`` when an upstream task has not finished."""
    if not all(state.is_finished() for state in upstream_states.values()):
        raise signals.TRIGGERFAIL(
            "Trigger was 'resource_cleanup_trigger' but some of the upstream tasks were not finished."
        )
    by_key = {edge.key: state for edge, state in upstream_states.items() if edge.key in _STEPS}
    for key, step in _STEPS.items():
        state = by_key.get(key)
        if state is None:
            continue
        if state.is_skipped():
            raise signals.SKIP(f"Resource manager {step} skipped")
        if not state.is_successful():
            raise signals.SKIP(f"Resource manager {step} failed")
    return True


class ResourceContext:
    """The ``with`` block of one use of a resource manager (what calling a
    :class:`ResourceManager` returns). Entering it gives the setup task (None for a
    class without ``setup``); leaving it links the tasks added in between to the
    setup and cleanup tasks."""

    def __init__(self, init_task: Task, setup_task: Task | None, cleanup_task: Task, flow: Flow):
        self.init_task = init_task
        self.setup_task = setup_task
        self.cleanup_task = cleanup_task
        self._flow = flow
        self._tasks: dict[Task, None] = {}
        self._outer_hook: Any = None
        self._token: Any = None

    def __repr__(self) -> str:
        return f"<ResourceContext: {self.init_task.name}>"

    def add_task(self, task: Task, flow: Flow) -> None:
        """Put ``task`` (just added to ``flow``) in this block; parameters and constants
        stay outside. A task of another flow is a ValueError."""
        if isinstance(task, (Parameter, Constant)):
            return
        if flow is not self._flow:
            raise ValueError("Multiple flows cannot be used with the same resource block")
        self._tasks[task] = None

    def _hook(self, flow: Flow, task: Task) -> None:
        self.add_task(task, flow)
        if self._outer_hook is not None:  # an enclosing block (a case) sees the task too
            self._outer_hook(flow, task)

    def __enter__(self) -> Task | None:
        if self._token is not None:
            raise RuntimeError(f"{self!r} is already open")
        self._outer_hook = TASK_ADDED_HOOK.get()
        self._token = TASK_ADDED_HOOK.set(self._hook)
        return self.setup_task

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        TASK_ADDED_HOOK.reset(self._token)
        self._token = None
        if exc_type is not None:
            return  # the block failed: leave its error alone
        flow = self._flow
        members = [t for t in self._tasks if t in flow.tasks]  # a failed binding took its task out
        inside = set(members)
        for member in members:
            upstream = flow.upstream_tasks(member)
            if self.setup_task is not None and inside.isdisjoint(upstream) and self.setup_task not in upstream:
                member.set_upstream(self.setup_task, flow=flow)
            downstream = flow.downstream_tasks(member)
            if inside.isdisjoint(downstream) and self.cleanup_task not in downstream:
                member.set_downstream(self.cleanup_task, flow=flow)


class ResourceManager:
    """A resource class made into a factory of :class:`ResourceContext` blocks (what
    :func:`resource_manager` returns).

    ``name`` (default: the class's name) names the tasks: ``name``, ``name.setup``,
    ``name.cleanup``. ``init_task_kwargs``, ``setup_task_kwargs`` and
    ``cleanup_task_kwargs`` are Task options for each task; by default the setup and
    cleanup tasks have ``checkpoint=False``, and the cleanup task has the trigger
    :func:`resource_cleanup_trigger` and ``skip_on_upstream_skip=False``.
    """

    def __init__(
        self,
        resource_class: Callable[..., Any],
        name: str | None = None,
        init_task_kwargs: dict | None = None,
        setup_task_kwargs: dict | None = None,
        cleanup_task_kwargs: dict | None = None,
    ):
        self.resource_class = resource_class
        self.name = name if name is not None else getattr(resource_class, "__name__", "resource")
        self.init_task_kwargs = {"name": self.name, **(init_task_kwargs or {})}
        self.setup_task_kwargs = {"name": f"{self.name}.setup", "checkpoint": False, **(setup_task_kwargs or {})}
        self.cleanup_task_kwargs = {
            "name": f"{self.name}.cleanup",
            "trigger": resource_cleanup_trigger,
            "skip_on_upstream_skip": False,
            "checkpoint": False,
            **(cleanup_task_kwargs or {}),
        }

    def __repr__(self) -> str:
        return f"<ResourceManager: {self.name}>"

    def __call__(self, *args: Any, flow: Flow | None = None, **kwargs: Any) -> ResourceContext:
        """Add the init, setup and cleanup tasks to ``flow`` (default: the flow being
        built) for the resource built from ``args`` and ``kwargs`` (values or tasks,
        bound like any task's arguments); return the block."""
        if flow is None:
            flow = active_flow()
            if flow is None:
                raise ValueError("Could not infer an active Flow context.")
        init = ResourceInitTask(self.resource_class, **self.init_task_kwargs)(*args, flow=flow, **kwargs)
        if hasattr(self.resource_class, "setup"):
            setup: Task | None = ResourceSetupTask(**self.setup_task_kwargs)(init, flow=flow)
            cleanup = ResourceCleanupTask(**self.cleanup_task_kwargs)(init, setup, flow=flow)
        else:
            setup = None
            cleanup = ResourceCleanupTask(**self.cleanup_task_kwargs)(init, flow=flow)
        return ResourceContext(init, setup, cleanup, flow)


def resource_manager(
    resource_class: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    init_task_kwargs: dict | None = None,
    setup_task_kwargs: dict | None = None,
    cleanup_task_kwargs: dict | None = None,
) -> ResourceManager | Callable[[Callable[..., Any]], ResourceManager]:
    """Make a class with ``setup()`` and ``cleanup(resource)`` a
    :class:`ResourceManager`: ``@resource_manager`` or ``@resource_manager(name=...,
    init_task_kwargs=..., setup_task_kwargs=..., cleanup_task_kwargs=...)``."""

    def make(cls: Callable[..., Any]) -> ResourceManager:
        return ResourceManager(cls, name=name, init_task_kwargs=init_task_kwargs,
                               setup_task_kwargs=setup_task_kwargs, cleanup_task_kwargs=cleanup_task_kwargs)

    return make if resource_class is None else make(resource_class)
