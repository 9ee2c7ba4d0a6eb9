"""``ferroflow.context``: what a running task can know about its run.

Reading it inside a task gives the flow's name and run id, the parameters, the
scheduled start time (and date helpers derived from it), and the task run's own name,
map index and attempt number (and, for a task raising ``signals.LOOP``, its iteration
``loop_count`` and the ``loop_result`` the last iteration carried)::

    from ferroflow import context, task

    @task
    def work(x):
        return f"{context.task_full_name} attempt {context.task_run_count}"

It costs almost nothing per task run: a work unit sets one context variable for all
of its runs and moves an index from one run to the next; the values are computed only
when read. The variable is a ``contextvars.ContextVar``, so threads and asyncio tasks
each see their own task run. ``with context(key=value):`` adds user values for a block.
It reads like Prefect 1's ``prefect.context``: ``context["today"]``, ``context.today``,
``context.get("today")``, ``"today" in context``.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import functools
import inspect
import uuid
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

__all__ = ["context", "RunInfo", "Frame", "current_frame", "in_frame", "task_run_context", "task_run_id"]


class RunInfo:
    """Facts about one flow run, shared by all of its task runs."""

    __slots__ = ("flow_name", "flow_run_id", "parameters", "scheduled_start_time", "extra", "loops", "approved",
                 "raise_on_exception", "run_name", "parent_run_id", "root_run_id", "attempt", "flow_version",
                 "_values", "_task_run_ids")

    def __init__(self, flow_name: str, flow_run_id: str, parameters: dict,
                 scheduled_start_time: datetime.datetime, extra: dict | None = None):
        self.flow_name = flow_name
        self.flow_run_id = flow_run_id
        self.parameters = parameters
        self.scheduled_start_time = scheduled_start_time
        self.extra = extra or {}
        # (task id, map index) -> (loop count, loop result) of a looping task run that
        # failed, so that its retry resumes at that iteration (ferroflow.runtime.loop).
        self.loops: dict = {}
        # Ids of the tasks approved to go on (``context.resume``): paused tasks of the
        # run this one resumes, approved with ``flow.run(resume=..., approve=...)``.
        self.approved: frozenset = frozenset()
        #: Whether the run stops at its first error and flow.run() raises it
        #: (``ferroflow.debug.raise_on_exception``).
        self.raise_on_exception = False
        #: An eager run's facts beyond Prefect 1's (``ferroflow.runtime.flow_run``): its
        #: name (``flow_run_name``; None: it has none), the run it is a subflow of and
        #: the root of its subflow tree, the attempt running (flow retries), the flow's
        #: version.
        self.run_name: str | None = None
        self.parent_run_id: str | None = None
        self.root_run_id: str = flow_run_id
        self.attempt = 1
        self.flow_version: str | None = None
        self._values: dict | None = None  # the run-level context, built on first read
        self._task_run_ids: dict = {}  # task slug -> task_run_id, computed on first read

    def values(self) -> dict:
        """A new dict of the run-level context: flow, run id, parameters, dates."""
        if self._values is None:
            self._values = {
                "flow_name": self.flow_name,
                "flow_id": self.flow_name,  # Prefect 1's keys of a local run
                "flow_run_id": self.flow_run_id,
                "flow_run_name": self.run_name or self.flow_run_id,
                "parameters": self.parameters,
                "scheduled_start_time": self.scheduled_start_time,
                **_date_keys(self.scheduled_start_time),
            }
        return dict(self._values)

    def task_run_id(self, slug: str | None) -> str:
        """The ``task_run_id`` of the task ``slug`` in this run (see :func:`task_run_id`)."""
        found = self._task_run_ids.get(slug)
        if found is None:
            found = self._task_run_ids[slug] = task_run_id(self.flow_run_id, slug)
        return found

    def __getstate__(self):
        return {k: getattr(self, k) for k in self.__slots__ if k not in ("_values", "_task_run_ids")}

    def __setstate__(self, state):
        self._values = None
        self._task_run_ids = {}
        for k, v in state.items():
            setattr(self, k, v)


class Frame:
    """The task runs of one work unit: ``j`` is the position of the one running now."""

    __slots__ = ("run", "task_id", "task_name", "task_slug", "task_tags", "indices", "run_counts", "j",
                 "run_name", "unit", "looped", "call")

    def __init__(self, run: RunInfo | None, task_id: int, task_name: str | None, task_slug: str | None,
                 task_tags: frozenset, indices: Sequence[int] | None, run_counts: bytes | bytearray | None,
                 run_name: Any = None):
        self.run = run
        self.task_id = task_id
        self.task_name = task_name
        self.task_slug = task_slug
        self.task_tags = task_tags
        self.indices = indices
        self.run_counts = run_counts
        self.j = 0
        #: The task's ``task_run_name`` template (or callable), or None.
        self.run_name = run_name
        #: The work unit running, for the inputs a ``task_run_name`` uses.
        self.unit: Any = None
        #: Map index (None: the task itself) -> ``(loop count, loop result)`` of the
        #: last iteration of each task run of the unit that looped (``signals.LOOP``):
        #: what the context says once the loop is over (result locations, handlers).
        self.looped: dict = {}
        #: ``(task, args, kwargs)`` of an eager call that runs without a unit (its
        #: inputs, bound when asked for).
        self.call: tuple | None = None

    def inputs(self) -> dict:
        """The keyword arguments of the task run at position ``j`` ({} outside a unit
        and an eager call)."""
        if self.unit is not None:
            return self.unit.inputs(self.j)
        if self.call is not None:
            task, args, kwargs = self.call
            return task._bind_arguments(args, kwargs)
        return {}

    @property
    def map_index(self) -> int | None:
        return None if self.indices is None else self.indices[self.j]

    @property
    def run_count(self) -> int:
        """The attempt of the task run at position ``j`` (1 for the first)."""
        return max(1, self.run_counts[self.j]) if self.run_counts else 1

    def __getstate__(self):
        # Not the unit: a unit carries its frame, and is set again where it runs.
        return {k: getattr(self, k) for k in self.__slots__ if k not in ("unit", "call")}

    def __setstate__(self, state):
        self.unit = None
        self.call = None
        self.looped = {}
        for k, v in state.items():
            setattr(self, k, v)


#: The run facts of a frame that belongs to no flow run.
_NO_RUN = RunInfo("", "", {}, datetime.datetime.fromtimestamp(0, datetime.timezone.utc))

CURRENT_FRAME: contextvars.ContextVar[Frame | None] = contextvars.ContextVar("ferroflow_frame", default=None)
#: The eager flow run (``ferroflow.eager.run.EagerRun``) whose function is running in
#: this context, or None: a task called there runs at once (``core/task.py`` looks here
#: when no ``with Flow(...)`` block is open).
CURRENT_EAGER_RUN: contextvars.ContextVar[Any] = contextvars.ContextVar("ferroflow_eager_run", default=None)
# The default is read-only: every change sets a new mapping (see ``context(**values)``).
USER_VALUES: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "ferroflow_user_context", default=MappingProxyType({})
)
# (loop count, loop result) while a task run loops (set by ferroflow.runtime.loop).
LOOP_STATE: contextvars.ContextVar[tuple | None] = contextvars.ContextVar("ferroflow_loop", default=None)


def live_attributes(module: str, fields: dict) -> tuple:
    """``(__getattr__, __dir__)`` for ``module`` whose attributes are ``fields`` (name ->
    a function reading it), read at each access; ``get_<name>`` is the function itself
    (Prefect 3's getters: ``task_run.get_run_count()``)."""
    def __getattr__(name: str) -> Any:
        read = fields.get(name)
        if read is not None:
            return read()
        if name.startswith("get_") and name[4:] in fields:
            return fields[name[4:]]
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(fields)

    return __getattr__, __dir__


def current_frame() -> Frame | None:
    """The frame of the task run executing in this thread, if any."""
    return CURRENT_FRAME.get()


@contextlib.contextmanager
def in_frame(frame: Frame) -> Iterator[None]:
    """Make ``frame`` current for a block (state handlers called by the engine)."""
    token = CURRENT_FRAME.set(frame)
    try:
        yield
    finally:
        CURRENT_FRAME.reset(token)


def _date_keys(when: datetime.datetime) -> dict:
    day = datetime.timedelta(days=1)
    return {
        "date": when,
        "today": when.strftime("%Y-%m-%d"),
        "today_nodash": when.strftime("%Y%m%d"),
        "yesterday": (when - day).strftime("%Y-%m-%d"),
        "yesterday_nodash": (when - day).strftime("%Y%m%d"),
        "tomorrow": (when + day).strftime("%Y-%m-%d"),
        "tomorrow_nodash": (when + day).strftime("%Y%m%d"),
    }


def frame_values(frame: Frame) -> dict:
    run = frame.run
    if run is None:  # a unit run outside any flow run (built by hand): no run facts
        run = _NO_RUN
    values = run.values()
    if frame.task_name is None:  # flow-level: no task run
        return {**run.extra, **values}
    index = frame.map_index
    values.update({
        "task_name": frame.task_name,
        "task_slug": frame.task_slug,
        "task_id": frame.task_slug,  # Prefect 1's key of a local run: the slug
        "task_run_id": run.task_run_id(frame.task_slug),
        "task_tags": frame.task_tags,
        "map_index": index,
        "task_full_name": frame.task_name if index is None else f"{frame.task_name}[{index}]",
        "task_run_count": frame.run_count,
        "resume": frame.task_id in run.approved,
    })
    if frame.run_name is not None:
        values["task_run_name"] = run_name(frame, values)
    loop = LOOP_STATE.get()
    if loop is None and run.loops:
        loop = run.loops.get((frame.task_id, index))
    if loop is None and frame.looped:
        loop = frame.looped.get(index)
    if loop is None:
        values["loop_count"] = 1
    else:  # Prefect 1's names too, present (as there) once the task has looped
        values.update(loop_count=loop[0], loop_result=loop[1], task_loop_count=loop[0], task_loop_result=loop[1])
    return {**run.extra, **values}


def task_run_id(flow_run_id: str, slug: str | None) -> str:
    """The id of a task's runs in a flow run (shared by its mapped children, as
    Prefect 1's ``task_run_id``): a UUID derived from both, so every process of the
    run computes the same one without being told."""
    try:
        namespace = uuid.UUID(hex=flow_run_id)
    except (TypeError, ValueError):  # a run id that is not 32 hex digits
        namespace = uuid.uuid5(uuid.NAMESPACE_OID, str(flow_run_id))
    return str(uuid.uuid5(namespace, str(slug)))


def task_run_context(frame: Frame | None) -> dict:
    """Every context key of the task run at ``frame`` (or of the flow run, for a flow
    frame; the user's values only, for None), user values of ``with context(...)``
    included, and the ``logger``: what ``ferroflow.context`` shows there, and what
    location templates and ``task_run_name`` are formatted with."""
    values = frame_values(frame) if frame is not None else {}
    values.update(USER_VALUES.get())
    if "logger" not in values:
        from ferroflow.runtime.logs import get_logger

        values["logger"] = get_logger(frame.task_name if frame is not None else None)
    return values


def run_name(frame: Frame, values: dict) -> str:
    """The ``task_run_name`` of the task run at ``frame``: its template formatted with
    the context ``values`` and the run's inputs, or its callable called with them as
    keywords (Prefect 1), with none when it takes none, or as ``parameters=`` (the
    inputs) when that is all it takes (Prefect 3)."""
    inputs = call_parameters(frame)
    template = frame.run_name
    try:
        if not callable(template):
            name = template.format(**values, **inputs)
        else:
            takes = _named_parameters(template)
            if takes == ():
                name = template()
            elif takes == ("parameters",):
                name = template(parameters=inputs)
            else:
                name = template(**{**values, **inputs})
    except Exception as exc:  # a user's template or callable
        return f"{values.get('task_full_name')} (task_run_name failed: {exc!r})"
    return str(name)


def call_parameters(frame: Frame) -> dict:
    """The arguments of the task run at ``frame`` by name, defaults included (as
    Prefect 3 gives them to ``task_run_name`` and ``runtime.task_run.parameters``)."""
    parameters = dict(frame.inputs())
    task = frame.call[0] if frame.call is not None else getattr(frame.unit, "owner", None)
    run_info = getattr(task, "_run_info", None)
    if run_info is not None:
        for name, parameter in run_info().signature.parameters.items():
            if parameter.default is not parameter.empty:
                parameters.setdefault(name, parameter.default)
    return parameters


def _named_parameters(fn: Any) -> tuple | None:
    """The names ``fn`` takes (None: it takes ``**kwargs``, or cannot be inspected);
    remembered per function (a callable that cannot be hashed is inspected each time)."""
    try:
        return _named_parameters_of(fn)
    except TypeError:  # (unhashable)
        return _named_parameters_of.__wrapped__(fn)


@functools.lru_cache(maxsize=1024)
def _named_parameters_of(fn: Any) -> tuple | None:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return tuple(p.name for p in parameters if p.kind is not inspect.Parameter.VAR_POSITIONAL)


class Context(Mapping):
    """Read-only view of the current run's context, plus user values set with
    ``with context(key=value):``.

    Read it as Prefect 1's ``prefect.context`` is read: ``context["key"]``,
    ``context.key``, ``context.get("key", default)``, ``"key" in context``, and as any
    read-only mapping (``keys()``, ``items()``, ``len()``, iteration). A missing key
    raises ``KeyError(key)`` by subscript and ``AttributeError`` by attribute, as
    there. It cannot be assigned to: ``with context(key=value):`` sets values for a
    block."""

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.to_dict())

    def __len__(self) -> int:
        return len(self.to_dict())

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self.to_dict()

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self.to_dict()[key]
        except KeyError:
            # Prefect 1's words: code (and recorded states) compare the message.
            raise AttributeError(f"'Context' object has no attribute {key!r}") from None

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError(f"ferroflow.context is read-only: set {key!r} for a block with "
                        f"`with ferroflow.context(key=value):`")

    __setattr__ = __setitem__

    def to_dict(self) -> dict:
        """Every key available here and now (a new dict)."""
        return task_run_context(CURRENT_FRAME.get())

    @contextlib.contextmanager
    def __call__(self, **values: Any) -> Iterator[None]:
        token = USER_VALUES.set({**USER_VALUES.get(), **values})
        try:
            yield
        finally:
            USER_VALUES.reset(token)

    def __repr__(self) -> str:
        return f"<ferroflow.context {sorted(self.to_dict())}>"


#: The context object, importable as ``from ferroflow import context``.
context = Context()
