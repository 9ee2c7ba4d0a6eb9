"""Building task inputs from upstream values: unmapped values, columns of mapped
children, flattening and the width of a mapped task."""

from __future__ import annotations

from typing import Any

from ferroflow import _core
from ferroflow.engine.record import UNMAPPABLE, RunRecord

_NOT_SUCCESSFUL = object()


def flatten_value(value: Any) -> Any:
    """Un-nest one level; a value that cannot be un-nested passes through unchanged."""
    try:
        return [y for x in value for y in x]
    except TypeError:
        return value


def _flattens(code: int, value: Any) -> bool:
    return (
        code in (_core.SUCCESS, _core.CACHED, _core.MAPPED)
        and hasattr(value, "__len__")
        and hasattr(value, "__getitem__")
    )


def flatten_children(record: RunRecord, task_id: int) -> tuple[list, list]:
    """Elements of a mapped task's children, one level un-nested, and how many
    elements each child gave (a child that cannot be un-nested gives itself)."""
    codes = record.core.child_states(task_id)
    elements: list = []
    counts: list = []
    for i, value in enumerate(record.reduced(task_id)):
        if _flattens(codes[i], value):
            elements.extend(value)
            counts.append(len(value))
        else:
            elements.append(value)
            counts.append(1)
    return elements, counts


def whole_kwargs(record: RunRecord, task_id: int) -> dict:
    """Keyword arguments from unmapped keyed edges and constants."""
    frozen = record.frozen
    kwargs = dict(frozen.flow.constants.get(frozen.tasks[task_id], {}))
    for edge in frozen.in_edges[task_id]:
        if edge.key is None or edge.mapped:
            continue
        up = frozen.index[edge.upstream_task]
        if edge.flattened and record.core.task_state(up) == _core.MAPPED:
            kwargs[edge.key] = flatten_children(record, up)[0]
        elif edge.flattened:
            kwargs[edge.key] = flatten_value(record.value(up))
        else:
            kwargs[edge.key] = record.value(up)
    return kwargs


class MapPlan:
    """How the children of one mapped task get their arguments.

    ``static`` holds the arguments every child shares; ``sources`` pairs each mapped
    keyword with the sequence child ``i`` reads element ``i`` of. For a mapped
    upstream that sequence is the upstream's live list of child values.
    """

    def __init__(self, static: dict, sources: list):
        self.static = static
        self.keys = tuple(k for k, _ in sources)
        self.sources = [s for _, s in sources]


def prepare(record: RunRecord, task_id: int) -> tuple[Any, Any, list, Any]:
    """Measure a task's inputs for the core.

    Returns ``(plan, width_hint, flat, failure)``: the children's :class:`MapPlan`
    (None for a non-mapped task), the shortest length among mapped inputs from
    non-mapped upstreams, the element counts of flattened upstreams that are mapped
    tasks, and a message when an input cannot be mapped over (else None).
    """
    frozen = record.frozen
    core = record.core
    sources: list = []
    width_hint = None
    flat: dict = {}
    is_mapped = False
    for edge in frozen.in_edges[task_id]:
        up = frozen.index[edge.upstream_task]
        code = core.task_state(up)
        if edge.flattened and code == _core.MAPPED and up not in flat:
            flat[up] = flatten_children(record, up)[1]
        if not edge.mapped:
            continue
        is_mapped = True
        if code == _core.MAPPED:
            source: Any = flatten_children(record, up)[0] if edge.flattened else record.child_values(up)
        elif code in (_core.SUCCESS, _core.CACHED, _core.SKIPPED):
            value = record.values[up]
            if edge.flattened:
                value = flatten_value(value)
            try:
                if not hasattr(value, "__getitem__"):
                    raise TypeError
                length = len(value)
            except TypeError:
                return None, None, [], UNMAPPABLE
            width_hint = length if width_hint is None else min(width_hint, length)
            source = value
        else:
            # A failed (or otherwise unsuccessful) upstream: every child gets None and
            # its trigger sees the failure.
            source = _NoneColumn()
        if edge.key is not None:
            sources.append((edge.key, source))
    plan = MapPlan(whole_kwargs(record, task_id), sources) if is_mapped else None
    return plan, width_hint, list(flat.items()), None


class _NoneColumn:
    """A column whose every element is None."""

    def __getitem__(self, index: int) -> None:
        return None


def column_slice(source: Any, indices: Any) -> list:
    """The elements of ``source`` that the children ``indices`` read."""
    if type(indices) is range and isinstance(source, list):
        return source[indices.start:indices.stop]
    return [source[i] for i in indices]
