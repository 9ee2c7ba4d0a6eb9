"""Flows: a graph of tasks, built functionally or imperatively, then run.

Functional API -- tasks called inside ``with Flow(...)`` are added with their inputs::

    with Flow("etl") as flow:
        rows = extract()
        load(transform(rows))

Imperative API -- ``add_task``, ``add_edge``, ``set_dependencies``, ``chain``.

The flow keeps adjacency indexes (upstream and downstream edges per task, keys bound
per task) up to date as edges are added, so graph queries cost what they return, even
on flows of 100,000 tasks. Two kinds of work wait until something reads the indexes
(see :class:`_Filed`): the generated slugs of added tasks, and the edges of a task
called with tasks of the flow and plain values (``join(a, b, c)``, the common call),
kept as they were given. So building a large flow makes no edge and no slug before
they are needed, and each is what it would have been if made at once. Topological
order and cycle detection are the Rust core's job
(:func:`ferroflow.engine.graph.freeze`).
"""

from __future__ import annotations

import collections
import collections.abc
import contextvars
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import islice
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    NoReturn,
    TypeVar,
)

from ferroflow.core.collections import Constant, as_task, is_constant
from ferroflow.core.edge import Edge, EdgeAnnotation, _edge_from_parts, _tuple_new, is_valid_key
from ferroflow.core.parameter import Parameter
from ferroflow.core.task import _ACTIVE_FLOW, FunctionTask, Task

if TYPE_CHECKING:  # pragma: no cover
    from ferroflow.states import State

__all__ = ["Flow", "TaskSet"]

# Values stored as constants without further inspection on the bind fast path.
_SCALARS = frozenset({int, float, str, bool, bytes, complex, type(None)})
_NO_KEYS: Mapping[str, Any] = {}

_Hook = Callable[["Flow", Task], None]


class _TaskAddedHook:
    """A context variable (ContextVar's ``get``, ``set`` and ``reset``) that also
    remembers whether it was ever set: until then it holds its default, None, in every
    context, and adding a task need not look it up."""

    __slots__ = ("_var", "ever_set")

    def __init__(self, name: str):
        self._var: contextvars.ContextVar[_Hook | None] = contextvars.ContextVar(name, default=None)
        self.ever_set = False

    def get(self) -> _Hook | None:
        return self._var.get()

    def set(self, hook: _Hook | None) -> contextvars.Token[_Hook | None]:
        self.ever_set = True
        return self._var.set(hook)

    def reset(self, token: contextvars.Token[_Hook | None]) -> None:
        self._var.reset(token)


#: While set, called as ``hook(flow, task)`` after a task is newly added to any flow;
#: ``ferroflow.control_flow.case`` sets it to collect the tasks created in its block.
TASK_ADDED_HOOK = _TaskAddedHook("ferroflow_task_added_hook")


class TaskSet(collections.abc.MutableSet):
    """A set of tasks that iterates in insertion order.

    Supports ``in``, ``len``, iteration, the set operators and the usual ``set``
    methods (``copy``, ``union``, ``difference``...), whose results are TaskSets too.
    Compares equal to a built-in ``set`` with the same members.
    """

    __slots__ = ("_items",)

    def __init__(self, iterable: Iterable[Task] = ()):
        self._items: dict[Task, None] = dict.fromkeys(iterable)

    @classmethod
    def _from_iterable(cls, iterable: Iterable[Any]) -> TaskSet:
        return TaskSet(iterable)

    def __contains__(self, item: object) -> bool:
        return item in self._items

    def __iter__(self) -> Iterator[Task]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"TaskSet({list(self._items)!r})"

    def __and__(self, other: Any) -> TaskSet:
        if not isinstance(other, collections.abc.Iterable):
            return NotImplemented
        return self.intersection(other)  # keeps this set's order

    __rand__ = __and__

    def add(self, task: Task) -> None:
        """Add ``task`` (no-op when present)."""
        self._items[task] = None

    def discard(self, task: Task) -> None:
        """Remove ``task`` if present."""
        self._items.pop(task, None)

    def copy(self) -> TaskSet:
        """An independent copy."""
        return TaskSet(self._items)

    def union(self, *others: Iterable[Task]) -> TaskSet:
        """Members of this set or any of ``others``."""
        result = TaskSet(self._items)
        for other in others:
            result._items.update(dict.fromkeys(other))
        return result

    def intersection(self, *others: Iterable[Task]) -> TaskSet:
        """Members of this set found in every one of ``others``."""
        keep = [o if isinstance(o, (set, frozenset, TaskSet)) else set(o) for o in others]
        return TaskSet(t for t in self._items if all(t in k for k in keep))

    def difference(self, *others: Iterable[Task]) -> TaskSet:
        """Members of this set found in none of ``others``."""
        drop: set = set().union(*others)
        return TaskSet(t for t in self._items if t not in drop)

    def issubset(self, other: Iterable[Task]) -> bool:
        """True when every member is in ``other``."""
        other_set = other if isinstance(other, (set, frozenset, TaskSet)) else set(other)
        return all(t in other_set for t in self._items)

    def issuperset(self, other: Iterable[Task]) -> bool:
        """True when every member of ``other`` is in this set."""
        return all(t in self._items for t in other)


def _slug_prefix(task: Task) -> str:
    """What the generated slug of ``task`` starts with: its name, then its tags, sorted
    (a task without tags of its own has none: not read, Task.tags would make a set)."""
    tags = task.tags if "tags" in task.__dict__ else None
    return "-".join([task.name, *sorted(tags)]) if tags else task.name


class _FlowTasks(TaskSet):
    """The live, read-only view of a flow's tasks (``flow.tasks``)."""

    __slots__ = ()

    @classmethod
    def _view(cls, items: dict[Task, None]) -> _FlowTasks:
        view = cls.__new__(cls)
        view._items = items
        return view

    def add(self, task: Task) -> None:
        raise TypeError("flow.tasks is read-only: use flow.add_task(task)")

    def discard(self, task: Task) -> None:
        raise TypeError("flow.tasks is read-only: use flow.replace(...) or build a new flow")

    def __ior__(self, other: object) -> NoReturn:  # MutableSet's in-place ops would mutate
        raise TypeError("flow.tasks is read-only: use flow.add_task(task)")

    __iand__ = __ixor__ = __isub__ = __ior__


_Index = TypeVar("_Index")


#: Held while a flow files its pending slugs and edges (see ``Flow._file``).
_FILING = threading.RLock()


class _Filed(Generic[_Index]):
    """One of a flow's indexes that are filled lazily (``edges``, ``_edges_in``,
    ``_edges_out``, ``slugs``, ``_slug_owner``, ``_slug_counters``), kept in the
    flow's ``__dict__`` under its own name: reading it first files what
    ``Flow._unfiled`` holds (:meth:`Flow._file`). Everything that reads or changes
    these indexes goes through here, so it sees them as if every slug and edge had been
    filed when its task was added."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, flow: Flow, owner: Any = None) -> _Index:
        if flow._unfiled:
            flow._file()
        return flow.__dict__[self.name]

    def __set__(self, flow: Flow, value: _Index) -> None:
        flow.__dict__[self.name] = value


class Flow:
    """A named graph of tasks.

    The arguments come in Prefect 1's order: ``Flow(name, schedule, executor, ...)``.
    ``schedule`` runs the flow at each of its times (:mod:`ferroflow.schedules`);
    ``executor`` (an executor or its registered name) is the one ``flow.run()`` uses
    when given none; ``tasks`` and ``edges`` seed the flow (``validate=True`` checks it
    at once); ``reference_tasks`` are the tasks whose states decide the flow run's
    state (default: the terminal tasks). ``run_config`` and ``storage`` are Prefect
    Server settings: ferroflow runs flows itself, so they must stay None.

    ``flow.tasks`` is an insertion-ordered, read-only set view; ``flow.edges`` a set of
    :class:`~ferroflow.core.edge.Edge`; ``flow.constants[task][key]`` holds the plain
    values bound to a task's keyword arguments (they are not graph nodes);
    ``flow.slugs[task]`` is each task's slug in this flow.
    """

    # Adjacency indexes, kept in step with `edges`. Upstream edges of a task are filed
    # under their key (data edges) or themselves (state-only edges), so the same dict
    # answers "is this argument bound yet?".
    edges: _Filed[set[Edge]] = _Filed()
    _edges_in: _Filed[dict[Task, dict[str | Edge, Edge]]] = _Filed()
    _edges_out: _Filed[dict[Task, list[Edge]]] = _Filed()
    slugs: _Filed[dict[Task, str]] = _Filed()
    _slug_owner: _Filed[dict[str, Task]] = _Filed()
    _slug_counters: _Filed[dict[str, int]] = _Filed()
    #: What waits to be filed, flat, in the order the tasks were added: for each task
    #: ``task, prefix, keys, n`` and ``n`` values. ``prefix`` (None: the task's slug was
    #: filed already) is what its generated slug starts with, taken when it was added;
    #: the values (none, or the task's inputs bound by ``_bind_fresh``) go with the first
    #: ``n`` ``keys``. (Flat, a call keeps no tuple of its own alive for the collector.)
    _unfiled: list

    def __init__(
        self,
        name: str,
        schedule: Any = None,
        executor: Any = None,
        run_config: None = None,
        storage: None = None,
        tasks: Iterable[Task] | None = None,
        edges: Iterable[Edge] | None = None,
        reference_tasks: Iterable[Task] | None = None,
        state_handlers: Iterable[Callable[..., Any]] | None = None,
        on_failure: Callable[..., Any] | None = None,
        validate: bool | None = None,
        result: Any = None,
        terminal_state_handler: Callable[..., Any] | None = None,
        *,
        keep_results: bool = True,
    ):
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"A flow needs a non-empty name (a str), got {name!r}")
        self.name = name
        from ferroflow.core.result_options import check_result

        #: The default result of the flow's tasks (``docs/results.md``).
        self.result = check_result(self, result)
        self.state_handlers = list(state_handlers or ())
        for what, fn in [("state_handlers", h) for h in self.state_handlers] + [
            ("on_failure", on_failure), ("terminal_state_handler", terminal_state_handler)
        ]:
            if fn is not None and not callable(fn):
                raise TypeError(f"Flow {name!r}: {what} must be callables, got {fn!r}")
        self.on_failure = on_failure
        self.terminal_state_handler = terminal_state_handler
        if schedule is not None and not hasattr(schedule, "next"):
            raise TypeError(f"Flow {name!r}: schedule must be a ferroflow.schedules.Schedule, got {schedule!r}")
        self.schedule = schedule
        if executor is not None and not (
            isinstance(executor, str) or callable(executor) or hasattr(executor, "submit")
        ):
            raise TypeError(f"Flow {name!r}: executor must be an executor (ferroflow.executors) or a registered "
                            f"executor name, got {executor!r}")
        #: The executor ``flow.run()`` uses when given none (None: ``"local"``).
        self.executor = executor
        for what, value in (("run_config", run_config), ("storage", storage)):
            if value is not None:
                raise TypeError(f"Flow {name!r}: {what} is a Prefect Server/Cloud setting (how an agent deploys "
                                f"and starts the flow); ferroflow runs flows itself: drop it")
        self.run_config = self.storage = None
        if not isinstance(keep_results, bool):
            raise TypeError(f"Flow {name!r}: keep_results must be True or False, got {keep_results!r}")
        #: The default of ``flow.run(keep_results=...)`` (``docs/large-flows.md``).
        self.keep_results = keep_results
        self._tasks: dict[Task, None] = {}
        self._unfiled = []
        self.edges = set()
        self.constants: dict[Task, dict[str, Any]] = collections.defaultdict(dict)
        self.slugs = {}
        self._slug_owner = {}
        self._slug_counters = {}
        self._edges_in = {}
        self._edges_out = {}
        self._reference_tasks: dict[Task, None] = {}
        self._cache: dict[Any, Any] = {}
        self._context_tokens: list = []
        for t in tasks or ():
            self.add_task(t)
        for e in edges or ():
            self.add_edge(
                e.upstream_task, e.downstream_task, key=e.key, mapped=e.mapped,
                flattened=e.flattened, validate=False,
            )
        if reference_tasks:
            self.set_reference_tasks(reference_tasks)
        if validate:
            self.validate()

    # ------------------------------------------------------------------- basics

    @property
    def tasks(self) -> TaskSet:
        """The flow's tasks, in insertion order (a read-only live view)."""
        return _FlowTasks._view(self._tasks)

    def __repr__(self) -> str:
        return f'<Flow: name="{self.name}">'

    def __iter__(self) -> Iterator[Task]:
        return iter(self.sorted_tasks())

    def __enter__(self) -> Flow:
        self._context_tokens.append(_ACTIVE_FLOW.set(self))
        return self

    def __exit__(self, *exc_info: Any) -> None:
        _ACTIVE_FLOW.reset(self._context_tokens.pop())

    def __getstate__(self) -> dict:
        # The frozen graph (a Rust object) and `with` tokens do not travel; the indexes
        # travel filed (a flow pickles as it did before they were filed lazily).
        if self._unfiled:
            self._file()
        state = self.__dict__.copy()
        del state["_unfiled"]
        state["_cache"] = {}
        state["_context_tokens"] = []
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._unfiled = []

    def _file(self) -> None:
        """File what waits in ``_unfiled``, in the order the tasks were added: each
        generated slug (``"{prefix}-{n}"``, n counting per prefix from 1 and passing
        over slugs taken) and each task input bound by :meth:`_bind_fresh` as an edge
        (its plain values are constants already). One thread at a time: threads that
        read a flow's indexes at once (runs of one flow started together) would each
        file the same entries otherwise."""
        with _FILING:
            if self._unfiled:
                self._file_pending()

    def _file_pending(self) -> None:
        pending = self._unfiled
        state = self.__dict__
        edges, edges_in, edges_out = state["edges"], state["_edges_in"], state["_edges_out"]
        slugs, owners, counters = state["slugs"], state["_slug_owner"], state["_slug_counters"]
        scalars = _SCALARS
        items = iter(pending)
        for task in items:
            prefix, keys, count = next(items), next(items), next(items)
            if prefix is not None:
                n = counters.get(prefix, 0) + 1
                slug = f"{prefix}-{n}"
                while slug in owners:
                    n += 1
                    slug = f"{prefix}-{n}"
                counters[prefix] = n
                slugs[task] = slug
                owners[slug] = task
            if not count:
                continue
            keyed = None
            for key, value in zip(keys, islice(items, count), strict=False):
                if type(value) in scalars:
                    continue
                edge = _tuple_new(Edge, (value, task, key, False, False))
                edges.add(edge)
                if keyed is None:
                    keyed = edges_in[task] = {key: edge}
                else:
                    keyed[key] = edge
                outs = edges_out.get(value)
                if outs is None:
                    edges_out[value] = [edge]
                else:
                    outs.append(edge)
        pending.clear()

    def _changed(self) -> None:
        if self._cache:
            self._cache.clear()

    # ------------------------------------------------------------------- adding tasks

    def _check_addable(self, task: Any) -> None:
        if not isinstance(task, Task):
            raise TypeError(f"Flow {self.name!r}: only Task instances can be added, got {task!r}")
        if task in self._tasks:
            return
        slug = task.slug
        if slug is not None and slug in self._slug_owner:
            self._slug_taken(task)

    def _slug_taken(self, task: Task) -> None:
        what = "parameter" if isinstance(task, Parameter) else "task"
        raise ValueError(
            f'Flow {self.name!r} already has a task with the slug "{task.slug}": cannot add '
            f"{what} {task.name!r} (slugs must be unique within a flow)"
        )

    def add_task(self, task: Task) -> Task:
        """Add ``task`` (no-op when already there) and give it a slug; returns it.

        A task's explicit slug must be unique in the flow (ValueError naming it);
        otherwise the slug is ``"{name}-{n}"`` (sorted tags join the prefix:
        ``"{name}-{tag1}-{tag2}-{n}"``), n counting per prefix from 1.
        """
        tasks = self._tasks
        if task in tasks:
            return task
        if not isinstance(task, Task):
            raise TypeError(f"Flow {self.name!r}: only Task instances can be added, got {task!r}")
        slug = task.slug
        if slug is None:
            self._unfiled += (task, _slug_prefix(task), None, 0)
        else:
            owners = self._slug_owner
            if slug in owners:
                self._slug_taken(task)
            self.slugs[task] = slug
            owners[slug] = task
        tasks[task] = None
        if self._cache:
            self._cache.clear()
        hook = TASK_ADDED_HOOK.get() if TASK_ADDED_HOOK.ever_set else None
        if hook is not None:
            hook(self, task)
        return task

    # ------------------------------------------------------------------- adding edges

    def add_edge(
        self,
        upstream_task: Any,
        downstream_task: Any,
        key: str | None = None,
        mapped: bool = False,
        flattened: bool = False,
        validate: bool | None = None,
    ) -> Edge:
        """Add an edge ``upstream_task -> downstream_task`` and both tasks; returns it.

        Non-task ends are converted with :func:`~ferroflow.core.collections.as_task`;
        annotations (``unmapped(t)``, ``flatten(t)``) override ``mapped``/``flattened``.
        With ``key``, the upstream result becomes ``downstream.run(key=...)``; a constant
        bound to a key without mapping/flattening is stored in
        ``flow.constants[downstream][key]`` instead of becoming a node (the returned
        edge then starts at a :class:`Constant` that is not in the flow).

        Errors: a Parameter downstream, a task linked to itself, an invalid key, a key
        ``run()`` does not accept, or a key already bound for that task.
        ``validate=True`` also runs :meth:`validate` (cycle check) afterwards.
        """
        edge = self._add_edge(upstream_task, downstream_task, key, mapped, flattened, need_edge=True)
        assert edge is not None
        if validate:
            self.validate()
        return edge

    def _add_edge(
        self,
        upstream: Any,
        downstream: Any,
        key: str | None,
        mapped: bool,
        flattened: bool,
        need_edge: bool,
    ) -> Edge | None:
        mapped = bool(mapped)
        flattened = bool(flattened)
        if isinstance(upstream, EdgeAnnotation):
            mapped = bool(upstream.annotations.get("mapped", mapped))
            flattened = bool(upstream.annotations.get("flattened", flattened))
            upstream = upstream.value
        if isinstance(downstream, EdgeAnnotation):
            mapped = bool(downstream.annotations.get("mapped", mapped))
            flattened = bool(downstream.annotations.get("flattened", flattened))
            downstream = downstream.value
        if not isinstance(downstream, Task):
            downstream = as_task(downstream, flow=self)
        if isinstance(downstream, Parameter):
            self._parameter_downstream(downstream)
        if upstream is downstream:
            raise ValueError(f"An edge cannot connect task {downstream.name!r} to itself")
        if key is not None:
            if not is_valid_key(key):
                raise ValueError(
                    f"Task {downstream.name!r}: {key!r} is not a valid keyword argument name"
                )
            info = downstream._run_info()
            if key not in info.names and info.var_keyword is None:
                raise TypeError(
                    f"Task {downstream.name!r}: run() has no argument {key!r} "
                    f"(it takes {sorted(info.names) or 'no arguments'})"
                )
        return self._keyed_or_link(upstream, downstream, key, mapped, flattened, need_edge)

    def _keyed_or_link(
        self,
        upstream: Any,
        downstream: Task,
        key: str | None,
        mapped: bool,
        flattened: bool,
        need_edge: bool,
    ) -> Edge | None:
        """Bind ``upstream`` (annotation already unwrapped, key already checked) into
        ``downstream``: a plain constant is stored, anything else becomes an edge."""
        if key is not None:
            previous = self._edges_in.get(downstream, _NO_KEYS).get(key)
            if previous is not None:
                if (
                    previous.upstream_task is upstream
                    and previous.mapped == mapped
                    and previous.flattened == flattened
                ):
                    return previous  # the very same edge again
                self._key_taken(downstream, key)
            bound = self.constants.get(downstream, _NO_KEYS)
            if key in bound:
                if bound[key] is not upstream or mapped or flattened:
                    self._key_taken(downstream, key)
                stored = True  # the very same constant again
            elif not (mapped or flattened) and not isinstance(upstream, Task) and is_constant(upstream):
                # A plain value bound to a key is stored, not made a node.
                self.add_task(downstream)
                self.constants[downstream][key] = upstream
                stored = True
            else:
                stored = False
            if stored:
                if need_edge:
                    return _edge_from_parts(Constant(upstream), downstream, key, False, False)
                return None
        if not isinstance(upstream, Task):
            upstream = as_task(upstream, flow=self)
        if key is not None and not (mapped or flattened) and isinstance(upstream, Constant):
            # A Constant task bound to a key: keep its value, not the node.
            self.add_task(downstream)
            self.constants[downstream][key] = upstream.value
            return _edge_from_parts(upstream, downstream, key, False, False)
        return self._link(upstream, downstream, key, mapped, flattened)

    def _link(self, upstream: Task, downstream: Task, key: str | None, mapped: bool, flattened: bool) -> Edge:
        """Add the edge and both tasks, updating the indexes."""
        edge = _edge_from_parts(upstream, downstream, key, mapped, flattened)
        edges = self.edges
        if edge in edges:
            return edge
        tasks = self._tasks
        if downstream not in tasks:
            self._check_addable(downstream)
        if upstream not in tasks:
            self.add_task(upstream)
        if downstream not in tasks:
            self.add_task(downstream)
        edges.add(edge)
        ins = self._edges_in.get(downstream)
        if ins is None:
            self._edges_in[downstream] = {edge if key is None else key: edge}
        else:
            ins[edge if key is None else key] = edge
        outs = self._edges_out.get(upstream)
        if outs is None:
            self._edges_out[upstream] = [edge]
        else:
            outs.append(edge)
        if self._cache:
            self._cache.clear()
        return edge

    def _bind_fresh(self, task: Task, keys: tuple[str, ...], values: tuple[Any, ...], own: bool) -> bool:
        """Add ``task``, a copy just made by calling a task (not in this flow, not a
        Parameter), bound to ``values`` under the first ``keys``, when every value is a
        plain value or a task of this flow: the common call, with none of the checks a
        task bound again needs. Plain values are stored as constants at once; the slug
        and the edges are filed when next read (see :class:`_Filed`). Returns False,
        adding nothing, for any other call (:meth:`_bind_inputs` binds those). ``own``
        is False when the task has neither a slug nor tags of its own in its
        ``__dict__``: its slug is then generated from its name alone."""
        tasks = self._tasks
        scalars = linked = False
        for value in values:
            if type(value) is FunctionTask or (isinstance(value, Task) and not isinstance(value, Constant)):
                if value not in tasks:
                    return False
                linked = True  # (not `task` itself, which is not in the flow yet)
            elif type(value) in _SCALARS:
                scalars = True
            else:
                return False
        if (not own or task.slug is None) and (not TASK_ADDED_HOOK.ever_set or TASK_ADDED_HOOK.get() is None):
            # add_task's work, the slug to be filed with the edges
            tasks[task] = None
            if self._cache:
                self._cache.clear()
            prefix = _slug_prefix(task) if own else task.name
            pending = self._unfiled
            if linked:
                pending += (task, prefix, keys, len(values))
                pending += values
            else:
                pending += (task, prefix, None, 0)
        else:
            self.add_task(task)  # the hook sees the task added, its edges not yet
            if linked:
                self._unfiled += (task, None, keys, len(values))
                self._unfiled += values
        if scalars:
            constants = self.constants[task]
            for key, value in zip(keys, values, strict=False):
                if type(value) in _SCALARS:
                    constants[key] = value
        return True

    def _bind_inputs(
        self,
        task: Task,
        arguments: dict[str, Any],
        mapped: bool,
        upstream_tasks: Iterable[Any] | None,
    ) -> None:
        """What :meth:`Task.bind` calls: ``arguments`` come from matching ``run()``'s
        signature (keys already checked), annotations not yet unwrapped."""
        if isinstance(task, Parameter) and (arguments or upstream_tasks):
            self._parameter_downstream(task)
        if task in self._tasks:
            self._bind_into(task, arguments, mapped, upstream_tasks)
            return
        self.add_task(task)
        try:
            self._bind_into(task, arguments, mapped, upstream_tasks)
        except BaseException:
            self._detach(task)  # a call that fails leaves no half-bound copy behind
            raise

    def _bind_into(
        self,
        task: Task,
        arguments: dict[str, Any],
        mapped: bool,
        upstream_tasks: Iterable[Any] | None,
    ) -> None:
        if upstream_tasks:
            for upstream in upstream_tasks:
                self._add_edge(upstream, task, None, mapped, False, need_edge=False)
        if not arguments:
            return
        keyed = self._edges_in.get(task)
        bound = self.constants.get(task)
        for key, value in arguments.items():
            if (keyed is not None and key in keyed) or (bound is not None and key in bound):
                self._keyed_or_link(value, task, key, mapped, False, need_edge=False)
            elif type(value) in _SCALARS and not mapped:
                if bound is None:
                    bound = self.constants[task]
                bound[key] = value
            elif isinstance(value, Task) and not mapped and not isinstance(value, Constant):
                if value is task:
                    raise ValueError(f"An edge cannot connect task {task.name!r} to itself")
                self._link(value, task, key, False, False)
            else:
                flattened = False
                edge_mapped = mapped
                if isinstance(value, EdgeAnnotation):
                    edge_mapped = bool(value.annotations.get("mapped", mapped))
                    flattened = bool(value.annotations.get("flattened", False))
                    value = value.value
                if value is task:
                    raise ValueError(f"An edge cannot connect task {task.name!r} to itself")
                self._keyed_or_link(value, task, key, edge_mapped, flattened, need_edge=False)
            keyed = self._edges_in.get(task)
            bound = self.constants.get(task)

    def _parameter_downstream(self, parameter: Task) -> None:
        raise ValueError(
            f"Parameter {parameter.name!r} cannot have upstream dependencies: "
            "parameters are root tasks"
        )

    def _key_taken(self, task: Task, key: str) -> None:
        raise ValueError(
            f"Argument {key!r} of task {task.name!r} is already bound in flow "
            f"{self.name!r}; to call the task again with new arguments, call it (which "
            "copies it) or use task.copy() instead of bind()"
        )

    def set_dependencies(
        self,
        task: Any,
        upstream_tasks: Iterable[Any] | None = None,
        downstream_tasks: Iterable[Any] | None = None,
        keyword_tasks: Mapping[str, Any] | None = None,
        mapped: bool = False,
        validate: bool | None = None,
    ) -> None:
        """Add ``task`` with its dependencies.

        ``upstream_tasks`` run before it (state-only edges, mapped when ``mapped``);
        ``downstream_tasks`` run after it; ``keyword_tasks`` (key -> task or value) feed
        its ``run()`` arguments, mapped when ``mapped`` unless wrapped in ``unmapped``.
        Non-tasks are converted with :func:`~ferroflow.core.collections.as_task`.
        ``validate=True`` runs :meth:`validate` at the end.
        """
        task = as_task(task, flow=self)
        self.add_task(task)
        for upstream in upstream_tasks or ():
            self._add_edge(upstream, task, None, mapped, False, need_edge=False)
        for downstream in downstream_tasks or ():
            self._add_edge(task, downstream, None, False, False, need_edge=False)
        if keyword_tasks:
            for key, upstream in keyword_tasks.items():
                self._add_edge(upstream, task, key, mapped, False, need_edge=False)
        if validate:
            self.validate()

    def chain(self, *tasks: Any, validate: bool | None = None) -> list[Edge]:
        """Make each task run after the previous one; returns the new edges."""
        edges = []
        if len(tasks) == 1 and isinstance(tasks[0], Task):
            self.add_task(tasks[0])
        for upstream, downstream in zip(tasks, tasks[1:], strict=False):
            edges.append(self.add_edge(upstream, downstream, validate=False))
        if validate:
            self.validate()
        return edges

    # ------------------------------------------------------------------- reference tasks

    def set_reference_tasks(self, tasks: Iterable[Task]) -> None:
        """Set the tasks whose states decide the flow run's state (an empty iterable
        restores the default, the terminal tasks). Each must be in the flow."""
        chosen = dict.fromkeys(tasks)
        for t in chosen:
            if t not in self._tasks:
                raise ValueError(
                    f"Reference task {getattr(t, 'name', t)!r} is not in flow {self.name!r}: "
                    "add it first"
                )
        self._reference_tasks = chosen
        self._changed()

    def reference_tasks(self) -> TaskSet:
        """The tasks deciding the flow run's state: those set with
        :meth:`set_reference_tasks`, else the terminal tasks -- where, as in Prefect 1,
        a resource manager's init and cleanup tasks do not count: they are never
        reference tasks, and a task whose only downstream tasks are cleanups is
        terminal (``ferroflow.control_flow.resource_manager``)."""
        if self._reference_tasks:
            return TaskSet(self._reference_tasks)
        cached = self._cache.get("reference")
        if cached is None:
            # (a role is a class attribute: most flows have no class with one)
            if not any(getattr(cls, "_ff_resource_role", None) for cls in set(map(type, self._tasks))):
                return self.terminal_tasks()
            roles = {t: getattr(t, "_ff_resource_role", None) for t in self._tasks}
            cached = self._cache["reference"] = TaskSet(
                t for t, role in roles.items()
                if role not in ("init", "cleanup")
                and all(roles[d] == "cleanup" for d in self.downstream_tasks(t)))
        return cached.copy()

    # ------------------------------------------------------------------- graph queries

    def _check_member(self, task: Task) -> None:
        if task not in self._tasks:
            raise ValueError(f"Task {task.name!r} is not in flow {self.name!r}")

    def root_tasks(self) -> TaskSet:
        """Tasks without upstream edges, in insertion order."""
        return self._unlinked("root", self._edges_in)

    def terminal_tasks(self) -> TaskSet:
        """Tasks without downstream edges, in insertion order."""
        return self._unlinked("terminal", self._edges_out)

    def _unlinked(self, name: str, index: dict) -> TaskSet:
        cached = self._cache.get(name)
        if cached is None:
            cached = self._cache[name] = TaskSet(t for t in self._tasks if not index.get(t))
        return cached.copy()

    def parameters(self) -> TaskSet:
        """The flow's :class:`~ferroflow.core.parameter.Parameter` tasks."""
        return TaskSet(t for t in self._tasks if isinstance(t, Parameter))

    def get_tasks(
        self,
        name: str | None = None,
        slug: str | None = None,
        tags: Iterable[str] | None = None,
        task_type: type | None = None,
    ) -> list[Task]:
        """Tasks matching *all* the given criteria: ``name``, ``slug`` (this flow's
        slug), all of ``tags``, instance of ``task_type``."""
        if slug is not None:
            owner = self._slug_owner.get(slug)
            candidates: Iterable[Task] = () if owner is None else (owner,)
        else:
            candidates = self._tasks
        wanted = None if tags is None else set(tags)
        return [
            t
            for t in candidates
            if (name is None or t.name == name)
            and (wanted is None or wanted <= t.tags)
            and (task_type is None or isinstance(t, task_type))
        ]

    def edges_to(self, task: Task) -> set[Edge]:
        """The edges into ``task`` (a new set). ValueError if it is not in the flow."""
        self._check_member(task)
        return set(self._edges_in.get(task, _NO_KEYS).values())

    def edges_from(self, task: Task) -> set[Edge]:
        """The edges out of ``task`` (a new set). ValueError if it is not in the flow."""
        self._check_member(task)
        return set(self._edges_out.get(task, ()))

    def upstream_tasks(self, task: Task) -> set[Task]:
        """The tasks with an edge into ``task``."""
        self._check_member(task)
        return {e.upstream_task for e in self._edges_in.get(task, _NO_KEYS).values()}

    def downstream_tasks(self, task: Task) -> set[Task]:
        """The tasks with an edge from ``task``."""
        self._check_member(task)
        return {e.downstream_task for e in self._edges_out.get(task, ())}

    def all_upstream_edges(self) -> dict[Task, set[Edge]]:
        """Every task -> the set of its upstream edges (new sets)."""
        ins = self._edges_in
        return {t: set(ins.get(t, _NO_KEYS).values()) for t in self._tasks}

    def all_downstream_edges(self) -> dict[Task, set[Edge]]:
        """Every task -> the set of its downstream edges (new sets)."""
        outs = self._edges_out
        return {t: set(outs.get(t, ())) for t in self._tasks}

    # ------------------------------------------------------------------- order and validation

    def _frozen(self) -> Any:
        """The flow frozen by the Rust core (cached until the flow changes). Raises
        :class:`~ferroflow.errors.CycleError` when the graph has a cycle."""
        frozen = self._cache.get("frozen")
        if frozen is None:
            from ferroflow.engine.graph import freeze

            frozen = self._cache["frozen"] = freeze(self)
        return frozen

    def sorted_tasks(self, root_tasks: Iterable[Task] | None = None) -> tuple[Task, ...]:
        """The tasks in topological order (upstream before downstream), computed by
        the Rust core; with ``root_tasks``, only those and the tasks downstream of
        them. Raises :class:`~ferroflow.errors.CycleError` naming a cycle."""
        order = self._cache.get("sorted")
        if order is None:
            order = self._cache["sorted"] = tuple(self._frozen().sorted_tasks())
        if not root_tasks:
            return order
        roots = list(root_tasks)
        for t in roots:
            self._check_member(t)
        reached = set(roots)
        pending = list(roots)
        outs = self._edges_out
        while pending:
            for edge in outs.get(pending.pop(), ()):
                child = edge.downstream_task
                if child not in reached:
                    reached.add(child)
                    pending.append(child)
        return tuple(t for t in order if t in reached)

    def validate(self) -> None:
        """Check the flow: every edge joins tasks of the flow, every reference task is
        in the flow, and the graph has no cycle (checked by the Rust core; raises
        :class:`~ferroflow.errors.CycleError` naming the cycle)."""
        for edge in self.edges:
            for end in (edge.upstream_task, edge.downstream_task):
                if end not in self._tasks:
                    raise ValueError(
                        f"Edge {edge!r} refers to task {end.name!r}, which is not in flow "
                        f"{self.name!r}"
                    )
        for t in self._reference_tasks:
            if t not in self._tasks:
                raise ValueError(f"Reference task {t.name!r} is not in flow {self.name!r}")
        self._changed()
        self.sorted_tasks()

    # ------------------------------------------------------------------- whole-flow operations

    def copy(self) -> Flow:
        """A copy with its own graph (the tasks themselves are shared)."""
        if self._unfiled:
            self._file()
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._unfiled = []
        new._tasks = dict(self._tasks)
        new.edges = set(self.edges)
        new.constants = collections.defaultdict(dict, {t: dict(c) for t, c in self.constants.items()})
        new.slugs = dict(self.slugs)
        new._slug_owner = dict(self._slug_owner)
        new._slug_counters = dict(self._slug_counters)
        new._edges_in = {t: dict(s) for t, s in self._edges_in.items()}
        new._edges_out = {t: list(s) for t, s in self._edges_out.items()}
        new._reference_tasks = dict(self._reference_tasks)
        new.state_handlers = list(self.state_handlers)
        new._cache = {}
        new._context_tokens = []
        return new

    def update(
        self,
        flow: Flow,
        merge_parameters: bool = False,
        validate: bool | None = None,
        merge_reference_tasks: bool = False,
    ) -> None:
        """Add the tasks, edges and constants of ``flow`` to this flow.

        ``merge_parameters=True`` first replaces this flow's parameters by ``flow``'s
        parameters of the same name (then validates); ``merge_reference_tasks=True``
        adds ``flow``'s reference tasks to this flow's.
        """
        if merge_parameters:
            validate = True
            incoming = {p.name: p for p in flow.parameters()}
            for p in list(self.parameters()):
                replacement = incoming.get(p.name)
                if replacement is not None and replacement is not p:
                    self.replace(p, replacement, validate=False)
        for t in flow.tasks:
            self.add_task(t)
        for e in flow.edges:
            if e not in self.edges:
                self._add_edge(e.upstream_task, e.downstream_task, e.key, e.mapped, e.flattened, need_edge=False)
        for t, values in flow.constants.items():
            if values:
                self.add_task(t)
                self.constants[t].update(values)
        if merge_reference_tasks:
            self.set_reference_tasks([*self.reference_tasks(), *flow.reference_tasks()])
        if validate:
            self.validate()

    def replace(self, old: Task, new: Any, validate: bool = True) -> None:
        """Put ``new`` in place of ``old``: its edges, bound constants and reference-task
        status move to ``new``. ValueError if ``old`` is not in the flow."""
        self._check_member(old)
        new = as_task(new, flow=self)
        was_reference = old in self._reference_tasks
        touching, constants = self._detach(old)
        self.add_task(new)
        for edge in touching:
            up = new if edge.upstream_task is old else edge.upstream_task
            down = new if edge.downstream_task is old else edge.downstream_task
            self._add_edge(up, down, edge.key, edge.mapped, edge.flattened, need_edge=False)
        if constants:
            self.constants[new].update(constants)
        if was_reference:
            self._reference_tasks[new] = None
        if validate:
            self.validate()

    def _detach(self, task: Task) -> tuple[list[Edge], dict[str, Any] | None]:
        """Remove ``task`` with its edges and bound constants; returns both."""
        touching = [*self._edges_in.pop(task, _NO_KEYS).values(), *self._edges_out.pop(task, ())]
        for edge in touching:
            self.edges.discard(edge)
            if edge.upstream_task is not task:
                self._edges_out[edge.upstream_task].remove(edge)
            if edge.downstream_task is not task:
                del self._edges_in[edge.downstream_task][edge if edge.key is None else edge.key]
        constants = self.constants.pop(task, None)
        del self._tasks[task]
        del self._slug_owner[self.slugs.pop(task)]
        self._reference_tasks.pop(task, None)
        self._changed()
        return touching, constants

    # ------------------------------------------------------------------- running

    def deploy(
        self,
        name: str,
        *,
        entrypoint: str | None = None,
        parameters: dict[str, Any] | None = None,
        schedule: Any = None,
        pool: str = "default",
        tags: Iterable[str] = (),
        description: str = "",
        retries: int = 0,
        concurrency_limit: int | None = None,
        executor: str | None = None,
        executor_options: dict[str, Any] | None = None,
        catchup: str = "latest",
        server: str | None = None,
        database: str | None = None,
    ) -> Any:
        """Deploy this flow as ``name``: a stored recipe of its runs (docs/deployments.md),
        on the server at ``server`` (default ``FERROFLOW_API_URL``) or, without one, in
        the database (``database``, else the default one), as ``ferroflow deploy`` does.
        Deploying again under ``name`` updates that deployment. Returns the
        :class:`~ferroflow.store.deployments.Deployment`.

        ``entrypoint`` (``path/to/file.py:flow`` or ``package.module:flow``) defaults to
        the file of a module holding this flow in a variable (an imported module
        first, else the calling script) and that variable; ``schedule`` (a
        Schedule, a clock or a spec) defaults to the flow's own. Raises
        :class:`~ferroflow.store.deployments.DeploymentError` for an invalid recipe
        (a parameter the flow does not have, a bad entrypoint, ...)."""
        import os
        import sys

        from ferroflow.client.deployments import deploy_flow
        from ferroflow.store.deployments import DeploymentError

        if entrypoint is None:
            # The file of a module holding this flow in a variable: an imported module
            # first (a script that imports the flow and deploys it is not its home),
            # else the caller's (a script defining the flow and deploying it).
            spaces = [*(vars(m) for n, m in list(sys.modules.items()) if m is not None and n != "__main__"),
                      sys._getframe(1).f_globals]
            found = next(((space["__file__"], variable) for space in spaces
                          if str(space.get("__file__") or "").endswith(".py")
                          for variable, value in list(space.items()) if value is self and variable.isidentifier()),
                         None)
            if found is None:
                raise DeploymentError(f"cannot tell which file defines flow {self.name!r}: assign it to a "
                                      f"module-level variable, or pass entrypoint='path/to/file.py:flow'")
            path = os.path.abspath(found[0])
            if path.startswith(os.getcwd() + os.sep):
                path = os.path.relpath(path)
            entrypoint = f"{path}:{found[1]}"
        made, _ = deploy_flow(self, name, entrypoint, parameters=parameters,
                              schedule=self.schedule if schedule is None else schedule, server=server,
                              database=database, pool=pool, tags=list(tags), description=description,
                              retries=retries, concurrency_limit=concurrency_limit, executor=executor,
                              executor_options=executor_options, catchup=catchup)
        return made

    def run(
        self,
        parameters: dict[str, Any] | None = None,
        executor: Any = None,
        run_on_schedule: bool | None = None,
        max_runs: int | None = None,
        record: bool | None = None,
        resume: str | None = None,
        approve: Any = None,
        keep_results: bool | None = None,
        task_states: dict[Any, Any] | None = None,
        server: str | None = None,
        **parameter_kwargs: Any,
    ) -> State:
        """Run the flow and return its final state (``state.result`` maps every task to
        its state). Parameter values come from ``parameters`` and keyword arguments (the
        latter win); ``executor`` defaults to the flow's ``executor``, else the local one.

        With a ``schedule`` (and ``run_on_schedule`` not False), run at each scheduled
        time until the schedule ends, ``max_runs`` runs were made, or Ctrl-C while
        waiting; each clock's ``parameter_defaults`` override the given parameters, as
        in Prefect 1. Returns the last run's state.

        Each run is recorded in the run store (``docs/run-store.md``) unless ``record``
        is False or ``FERROFLOW_RECORD=0``; ``state.flow_run_id`` is the run's id.
        ``resume=RUN_ID`` resumes an earlier run (one whose process died, say): task
        runs whose checkpointed results can be read are not run again; ``approve``
        (True, or task names) approves the tasks that paused in it.
        ``keep_results=False`` drops intermediate mapped values once consumed, for
        pipelines too big to keep (``docs/large-flows.md``); the default is the flow's
        ``keep_results`` (True unless ``Flow(keep_results=False)``).

        ``task_states={task: state}`` starts tasks in given states, as in Prefect 1: a
        task given a finished state (``Success("Mocked", result=42)``, ``Failed``...)
        is not run and its downstream tasks see that state (``docs/concepts.md``). On
        a schedule, only the first run starts from them.

        ``server="http://host:4300"`` (default ``FERROFLOW_API_URL``) records the run
        through that ferroflow server rather than the embedded store
        (``docs/server.md``). A flow with a parameter named ``server`` keeps its
        meaning: ``server=`` then gives that parameter, and the variable names the
        server."""
        if keep_results is None:
            keep_results = getattr(self, "keep_results", True)
        if self._context_tokens:
            raise RuntimeError(
                f"flow.run() was called inside the `with Flow({self.name!r})` block that "
                "builds the flow; call it after the block ends"
            )
        from ferroflow.engine import run_flow

        if server is not None and any(p.name == "server" for p in self.parameters()):
            parameter_kwargs["server"], server = server, None  # the flow's own parameter
        merged = {**(parameters or {}), **parameter_kwargs}
        if self.schedule is not None and run_on_schedule is not False and (resume is not None or approve is not None):
            raise ValueError(f"Flow {self.name!r} has a schedule: resume= and approve= resume one earlier run, so "
                             f"pass run_on_schedule=False with them")
        if self.schedule is None or run_on_schedule is False:
            return run_flow(self, parameters=merged, executor=executor, record=record, resume=resume,
                            approve=approve, keep_results=keep_results, task_states=task_states, server=server)
        from ferroflow.schedules import run_on_schedule as on_schedule

        given = [task_states]  # the first scheduled run's only, as in Prefect 1

        def run_once(defaults: dict, when: Any) -> State:
            return run_flow(self, parameters={**merged, **defaults}, executor=executor,
                            scheduled_start_time=when, record=record, keep_results=keep_results,
                            task_states=given.pop() if given else None, server=server)

        states = on_schedule(self.schedule, run_once, max_runs=max_runs)
        if not states:
            raise ValueError(f"Flow {self.name!r} has no more scheduled runs.")
        return states[-1]
