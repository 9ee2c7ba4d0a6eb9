"""Freezing a flow into the Rust core's compact graph (ids, CSR edges, topological
order, cycle check)."""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any

from ferroflow import _core, retries, states
from ferroflow.core.collections import Constant
from ferroflow.core.task import TASK_OPTIONS
from ferroflow.errors import FlowDefinitionError


class FrozenFlow:
    """A flow numbered for the core: ``tasks[i]`` has id ``i``.

    ``in_edges[i]`` lists the edges entering task ``i``; ``graph`` is the core's graph.
    Building it raises :class:`ferroflow.errors.CycleError` naming the cycle.
    """

    def __init__(self, flow: Any):
        self.flow = flow
        tasks = self.tasks = list(flow._tasks)
        index = self.index = {t: i for i, t in enumerate(tasks)}
        # ``Flow._edges_in`` indexes the flow's edges by downstream task, in the order
        # they were added; an edge is (upstream, downstream, key, mapped, flattened).
        edges_in = flow._edges_in
        in_edges = self.in_edges = [list(edges_in[t].values()) if t in edges_in else [] for t in tasks]
        try:
            graph = _core.Graph.of_edges([t.name for t in tasks], in_edges, index)
        except KeyError:
            graph = None
        if graph is None or graph.edge_count() != len(flow.edges):  # an edge with a task not in the flow
            edge = next(e for e in flow.edges if e.upstream_task not in index or e.downstream_task not in index)
            culprit = edge.upstream_task if edge.upstream_task not in index else edge.downstream_task
            raise FlowDefinitionError(
                f"Flow {flow.name!r} has an edge {edge} whose task {culprit!r} is not in the flow"
            )
        self.graph = graph
        #: Whether each task has a mapped input (it may map: its runs are children).
        self.may_map = graph.mapped_into()
        #: Per task, a key that tasks whose options are the same objects share (see
        #: :func:`options_key`): what follows from options alone is worked out once
        #: per key. ``_alive`` keeps the options looked at alive, so no id is reused.
        self._alive: list = []
        self.option_keys = [options_key(t, self._alive) for t in tasks]

    def edge_pairs(self) -> list[tuple[int, int]]:
        """The flow's edges as ``(upstream id, downstream id)``, each pair once (two
        edges between the same tasks, for two arguments, are one line in a picture)."""
        index = self.index
        return list(dict.fromkeys((index[e.upstream_task], i) for i, entering in enumerate(self.in_edges)
                                  for e in entering))

    def sorted_tasks(self) -> list:
        """Tasks in topological order (ties broken by insertion order)."""
        return [self.tasks[i] for i in self.graph.order()]

    def specs(self, seed: int | None = None, decided: dict | None = None) -> list:
        """One :class:`ferroflow._core.TaskSpec` per task (tasks that schedule alike
        share one).

        ``seed`` seeds the jitter of retry delays (default: fresh for each call, so
        each flow run draws its own); a backoff with its own ``seed`` keeps it.
        ``decided`` maps task ids to the state code they are in from the start of the
        run (states given to ``flow.run(task_states=...)``); a constant task is
        ``SUCCESS`` from the start unless given another.
        """
        constants = self.flow.constants
        seed = retries.run_seed(seed)
        decided = decided or {}
        shared: dict = {}  # spec fields -> TaskSpec
        by_key: dict = {}  # (options key, constants, observed, decided) -> TaskSpec
        specs = []
        for i, (task, okey) in enumerate(zip(self.tasks, self.option_keys, strict=True)):
            given = constants.get(task)
            n_constants = len(given) if given else 0
            key = (okey, n_constants, type(okey) is not type and observed(task), decided.get(i))
            spec = by_key.get(key)
            if spec is None:
                fields = _spec_fields(task, n_constants, seed, decided.get(i))
                spec = shared.get(fields)
                if spec is None:
                    try:
                        spec = shared[fields] = _core.TaskSpec(fields[0],
                                                               **dict(zip(_SPEC_NAMES, fields[1:], strict=True)))
                    except ValueError as exc:
                        raise ValueError(f"Task {task.name!r}: {exc}") from None
                by_key[key] = spec
            specs.append(spec)
        return specs


#: Every task option, and those that tasks sharing an options key share (tags and
#: state handlers are each task's own: read on their own).
_OPTION_NAMES = frozenset(TASK_OPTIONS)
_READ_SHARED = operator.attrgetter(*(name for name in TASK_OPTIONS
                                     if name not in ("tags", "state_handlers", "on_failure")))


def options_key(task: Any, alive: list) -> Any:
    """A key that two tasks share only if every option but their tags and state
    handlers is the same object for both: the task's class when it keeps no option of
    its own (all are its class's defaults, see ``Task``), else the class and the ids of
    its options (which ``alive`` keeps alive while the key is in use)."""
    if _OPTION_NAMES.isdisjoint(task.__dict__):
        return type(task)
    options = (*_READ_SHARED(task), task.__dict__.get("on_failure"))  # (task.on_failure: a new object)
    alive.append(options)
    return (type(task), *map(id, options))


def observed(task: Any) -> bool:
    """Whether ``task`` has state handlers (or an ``on_failure``): Python watches its
    transitions. Reads the task's own handlers without making it an empty list."""
    return bool(task.__dict__.get("state_handlers") or task.__dict__.get("on_failure"))


#: Classes of states ``flow.run(task_states=...)`` may give, and the state code each
#: decides the task with from the start (first match wins: subclasses first).
_GIVEN_CODES = (
    (states.TriggerFailed, _core.TRIGGER_FAILED),
    (states.TimedOut, _core.TIMED_OUT),
    (states.Failed, _core.FAILED),
    (states.Skipped, _core.SKIPPED),
    (states.Success, _core.SUCCESS),
    (states.Cancelled, _core.CANCELLED),
)


def given_states(frozen: FrozenFlow, task_states: dict | None) -> tuple[dict, dict]:
    """Check the states given to ``flow.run(task_states={task: state})`` and sort them
    as Prefect 1's flow runner does: ``(decided, cached)``.

    ``decided`` maps the id of each task given a finished state (``Success``,
    ``Skipped``, ``Failed``, ``TriggerFailed``, ``TimedOut``, ``Cancelled``) to
    ``(code, state)``: the task is not run, and its downstream tasks see that state.
    ``cached`` maps the id of each task given a ``Cached`` state to it: the task runs
    unless its cache validator accepts that state. A ``Pending``, ``Scheduled`` or
    ``Retrying`` state leaves the task to run as usual. Raises ``ValueError`` for a
    task not in the flow and for states no run can start from (``Mapped``,
    ``Running``, ``Paused``, ``Looped``), ``TypeError`` for a value that is not a
    State.
    """
    if task_states is not None and not isinstance(task_states, Mapping):
        raise TypeError(f"task_states must be a dict of tasks to states, got {task_states!r}")
    decided: dict = {}
    cached: dict = {}
    for task, state in (task_states or {}).items():
        task_id = frozen.index.get(task)
        if task_id is None:
            raise ValueError(f"task_states: {task!r} is not a task of flow {frozen.flow.name!r}")
        if not isinstance(state, states.State):
            raise TypeError(f"task_states: the state given for {task!r} must be a ferroflow State, got {state!r}")
        refused = next((text for cls, text in _REFUSED if isinstance(state, cls)), None)
        if refused is not None:
            raise ValueError(f"task_states: {type(state).__name__} state given for {task!r}: {refused}")
        if isinstance(state, states.Cached):
            cached[task_id] = state
        elif not isinstance(state, states.Pending):
            code = next((c for cls, c in _GIVEN_CODES if isinstance(state, cls)), None)
            if code is None:
                raise ValueError(f"task_states: a {type(state).__name__} state cannot be given for {task!r}")
            decided[task_id] = (code, state)
    return decided, cached


#: States no run can start from, and why.
_REFUSED = (
    (states.Mapped, "give the mapped task a Success whose result is the list of its children's values (its "
                    "downstream tasks map over it), or resume the run that mapped it (flow.run(resume=RUN_ID))"),
    (states.Looped, "a task run never ends Looped"),
    (states.Running, "a run cannot start from a Running task (Prefect 1 waits for it forever)"),
    (states.Paused, "resume the run that paused instead (flow.run(resume=RUN_ID, approve=...))"),
)


#: The keyword fields of a TaskSpec, in the order :func:`_spec_fields` gives them
#: after the trigger's name.
_SPEC_NAMES = ("at_least", "at_most", "skip_on_upstream_skip", "max_retries", "retry_delays_ms", "retry_jitter",
               "retry_seed", "n_constants", "observed", "decided")


def _spec_fields(task: Any, n_constants: int, seed: int, decided: int | None = None) -> tuple:
    """The fields of ``task``'s :class:`~ferroflow._core.TaskSpec` as a hashable tuple:
    the trigger's name, then :data:`_SPEC_NAMES` in order. ``decided`` is the state code
    the task is in from the start (None: it runs)."""
    spec: tuple = getattr(task.trigger, "_ff_spec", ("custom",))
    name = spec[0]
    at_least = float(spec[1]) if len(spec) > 1 and spec[1] is not None else None
    at_most = float(spec[2]) if len(spec) > 2 and spec[2] is not None else None
    max_retries = int(task.max_retries or 0)
    if max_retries:
        delays_ms, jitter, own_seed = retries.core_delays(task.retry_delay, max_retries)
        delays_ms = tuple(delays_ms)
    else:
        delays_ms, jitter, own_seed, seed = (), 0.0, None, 0
    # A Constant task (as in Prefect 1) is Success from the start, whatever its upstream
    # tasks do: never run, its trigger, handlers, result and cache unused.
    if decided is None and isinstance(task, Constant):
        decided = _core.SUCCESS
    return (
        name,
        at_least,
        at_most,
        bool(task.skip_on_upstream_skip),
        max_retries,
        delays_ms,
        jitter,
        seed if own_seed is None else own_seed,
        n_constants,
        observed(task),
        decided,
    )


def freeze(flow: Any) -> FrozenFlow:
    """Freeze ``flow`` (validates that it is acyclic)."""
    return FrozenFlow(flow)
