"""``apply_map(func, *args, **kwargs)``: map a function that *builds tasks* over its
inputs, giving one parallel copy of the whole sub-graph per element.

``func`` is called once, with the inputs turned into tasks, inside a temporary flow.
The tasks it creates are then copied into the real flow with every edge between them
mapped (child ``i`` feeds child ``i``), and edges from the inputs mapped too, except
those wrapped in :class:`~ferroflow.unmapped`. ``case`` blocks, :func:`merge`,
:func:`switch` and :func:`ifelse` work inside ``func``: their comparison and merge
tasks are mapped like the rest, so each element takes its own branch.
"""

from __future__ import annotations

import collections.abc
import contextvars
import itertools
from collections.abc import Callable
from typing import Any

from ferroflow.core.collections import Constant, as_task
from ferroflow.core.edge import EdgeAnnotation
from ferroflow.core.flow import TASK_ADDED_HOOK, Flow
from ferroflow.core.task import Task, active_flow

__all__ = ["apply_map"]

_BUILDING: contextvars.ContextVar[str | None] = contextvars.ContextVar("ferroflow_apply_map", default=None)


def _name_of(func: Any) -> str:
    return getattr(func, "__name__", None) or repr(func)


def apply_map(func: Callable[..., Any], *args: Any, flow: Flow | None = None, **kwargs: Any) -> Any:
    """Map ``func``, a function that adds tasks to a flow, element-wise over ``args``
    and ``kwargs``; return what ``func`` returned (its tasks, now mapped).

    Inputs are tasks or sequences; wrap one in :class:`~ferroflow.unmapped` to pass it
    whole to every element, in :class:`~ferroflow.flatten` to un-nest it first. Every
    task ``func`` creates depends on every mapped input (so all run per element, and
    the shortest input decides how many elements there are). ``flow`` defaults to the
    active flow; when given, ``func`` must accept a ``flow`` keyword argument.

    ::

        def double_if_even(x):
            with case(is_even(x), True):
                doubled = double(x)
            return merge(doubled, x)

        with Flow("evens") as flow:
            result = apply_map(double_if_even, [1, 2, 3, 4])

    Errors: no active flow, an input that is neither a task nor a sequence, no mapped
    input, and a task mapped inside ``func`` (``.map()``, ``mapped=True``; nested maps
    are not supported) or a nested ``apply_map``.
    """
    name = _name_of(func)
    where = f"apply_map({name})"
    if not callable(func):
        raise TypeError(f"apply_map() needs a function that adds tasks to a flow, got {func!r}")
    given_flow = flow is not None
    if flow is None:
        flow = active_flow()
        if flow is None:
            raise ValueError(
                f"{where}: no flow to add tasks to: call it inside a `with Flow(...)` block or pass flow=..."
            )
    elif not isinstance(flow, Flow):
        raise TypeError(f"{where}: flow must be a Flow, got {flow!r}")
    outer = _BUILDING.get()
    if outer is not None:
        raise ValueError(
            f"{where} was called inside the function mapped by apply_map({outer}): nested maps "
            "are not supported; map the inner function over the outer inputs instead"
        )
    inputs = list(itertools.chain(((None, a) for a in args), kwargs.items()))
    for key, value in inputs:
        if not isinstance(value, (Task, EdgeAnnotation, collections.abc.Sequence)):
            label = "a positional argument" if key is None else f"argument {key!r}"
            raise TypeError(
                f"{where}: cannot map over {label}: {type(value).__name__} {value!r} is neither "
                "a task nor a sequence (wrap it in unmapped(...) to pass it whole)"
            )
    if not any(_is_mapped(value) for _, value in inputs):
        raise ValueError(f"{where}: nothing to map over: give at least one argument not wrapped in unmapped(...)")

    before = set(flow.tasks)
    scratch = Flow(where)
    # input task -> (mapped, constant, flattened)
    info: dict[Task, tuple[bool, bool, bool]] = {}
    constants: dict[int, Constant] = {}  # id(value) of a mapped constant -> its task
    outer_hook = TASK_ADDED_HOOK.set(None)  # an enclosing case() block sees the result, not the scratch work
    try:
        def prepare(value: Any) -> Task:
            as_arg = as_task(value, flow=scratch)
            is_constant = isinstance(as_arg, Constant)
            flags = (_is_mapped(value), is_constant, _is_flattened(value))
            info[as_arg] = flags
            if not isinstance(as_arg, Constant):
                scratch.add_task(as_arg)
            elif flags[0]:
                constants[id(as_arg.value)] = as_arg
            return as_arg

        args2 = [prepare(a) for a in args]
        kwargs2 = {k: prepare(v) for k, v in kwargs.items()}
        token = _BUILDING.set(name)
        try:
            with scratch:
                result = func(*args2, flow=scratch, **kwargs2) if given_flow else func(*args2, **kwargs2)
        finally:
            _BUILDING.reset(token)
    finally:
        TASK_ADDED_HOOK.reset(outer_hook)

    for edge in scratch.edges:
        if edge.downstream_task in info:
            continue  # an input's own inputs (a collection of tasks): left as they are
        if edge.mapped:
            raise ValueError(
                f"{where}: task {edge.downstream_task.name!r} is mapped inside the function "
                "(.map(), mapped=True or a mapped(...) argument), but apply_map already maps "
                "every task the function creates: call it normally (nested maps are not supported)"
            )
        if edge.flattened and info.get(edge.upstream_task, (True,))[0]:
            raise ValueError(
                f"{where}: task {edge.downstream_task.name!r} flattens its argument "
                f"{edge.key or '(state only)'!s} inside the function, but that edge is mapped "
                "element by element: un-nest an element inside a task, or flatten the input of "
                "apply_map (apply_map(f, flatten(x))) to map over the inner elements"
            )

    # Copy the sub-graph, in the order it was built.
    for t in scratch.tasks:
        flow.add_task(t)
    for t in scratch.tasks:
        for edge in scratch._edges_in.get(t, {}).values():
            up = edge.upstream_task
            if t in info:  # an input's own inputs (a collection of tasks): not mapped
                mapped, flattened = edge.mapped, edge.flattened
            else:
                mapped, _, flattened = info.get(up, (True, False, False))
                flattened = flattened or edge.flattened  # an unmapped input flattened inside
            flow.add_edge(up, t, key=edge.key, mapped=mapped, flattened=flattened)
    for t, bound in scratch.constants.items():
        for key, value in bound.items():
            source = constants.get(id(value))
            if source is not None and source.value is value:
                flow.add_edge(source, t, key=key, mapped=True, flattened=info[source][2])
            else:
                flow.constants[t][key] = value

    # Every task the function created runs per element: a task without an upstream
    # task among them depends on every input (unmapped constants aside).
    created = [t for t in scratch.tasks if t not in before and t not in info]
    created_set = set(created)
    for t in created:
        upstream = flow.upstream_tasks(t)
        if not created_set.isdisjoint(upstream):
            continue
        for arg, (mapped, is_constant, flattened) in info.items():
            if arg not in upstream and (mapped or not is_constant):
                flow.add_edge(arg, t, mapped=mapped, flattened=flattened)
    return result


def _is_mapped(value: Any) -> bool:
    return not isinstance(value, EdgeAnnotation) or bool(value.annotations.get("mapped", True))


def _is_flattened(value: Any) -> bool:
    return isinstance(value, EdgeAnnotation) and bool(value.annotations.get("flattened", False))
