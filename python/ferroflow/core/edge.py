"""Edges between tasks, and the annotations that shape them.

An :class:`Edge` says that ``downstream_task`` runs after ``upstream_task``. With a
``key`` it is a *data* edge: the upstream result reaches the downstream ``run()`` as the
keyword argument ``key``. Without a key it only orders the two tasks (the downstream
trigger still sees the upstream state).

Annotations wrap an argument to change the edge it becomes:

* :class:`mapped` -- map over this argument even in a plain call;
* :class:`unmapped` -- pass this argument whole to every child of ``task.map(...)``;
* :class:`flatten` -- un-nest one level (a list of lists) before mapping over it.

Annotations stack: ``unmapped(flatten(x))`` is both.
"""

from __future__ import annotations

import keyword
from operator import itemgetter
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ferroflow.core.flow import Flow
    from ferroflow.core.task import Task

__all__ = ["Edge", "EdgeAnnotation", "mapped", "unmapped", "flatten"]


class EdgeAnnotation:
    """Base class of the wrappers that annotate an argument's edge.

    ``value`` is the wrapped task or constant; ``annotations`` maps edge attributes
    (``"mapped"``, ``"flattened"``) to the values this wrapper imposes. Wrapping an
    annotation in another merges both, the outer one winning on conflicts.
    """

    annotations: dict[str, Any] = {}
    value: Any

    def __init__(self, value: Any):
        merged = dict(type(self).annotations)
        if isinstance(value, EdgeAnnotation):
            inner = dict(value.annotations)
            inner.update(merged)
            merged = inner
            value = value.value
        self.annotations = merged
        self.value = value

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value!r})"


class mapped(EdgeAnnotation):
    """Map over this argument even when the task is called normally:
    ``add(x=mapped(numbers), y=1)`` is ``add.map(x=numbers, y=unmapped(1))``."""

    annotations = {"mapped": True}


class unmapped(EdgeAnnotation):
    """Pass this argument whole to every mapped child:
    ``add.map(x=numbers, y=unmapped(10))`` adds 10 to each number."""

    annotations = {"mapped": False}


class flatten(EdgeAnnotation):
    """Un-nest one level of the argument's value before mapping over it:
    mapping over ``flatten([[1], [2, 3]])`` makes three children, 1, 2 and 3."""

    annotations = {"flattened": True}


def is_valid_key(key: object) -> bool:
    """True when ``key`` can be a keyword argument name (an identifier, not a keyword)."""
    return isinstance(key, str) and key.isidentifier() and not keyword.iskeyword(key)


class Edge(tuple):
    """A directed dependency from ``upstream_task`` to ``downstream_task``.

    ``key`` (optional) makes it a data edge: the upstream result is passed to the
    downstream task's ``run()`` as that keyword argument. ``mapped`` edges feed one
    element per mapped child; ``flattened`` edges un-nest the upstream value one level
    first. Annotations on either end (``unmapped(t)``, ``flatten(t)``...) override the
    ``mapped``/``flattened`` arguments. Non-task ends are converted with
    :func:`ferroflow.core.collections.as_task` (collections containing tasks are bound
    into ``flow``, or the active flow).

    Edges are immutable values, equal (and hashing alike) when their tasks, key and
    flags are equal. They are normally created by :meth:`Flow.add_edge` rather than by
    hand. (Internally an edge is a 5-tuple, which keeps building large flows fast;
    it never compares equal to a plain tuple.)
    """

    __slots__ = ()

    def __new__(
        cls,
        upstream_task: Any,
        downstream_task: Any,
        key: str | None = None,
        mapped: bool | None = None,
        flattened: bool | None = None,
        flow: Flow | None = None,
    ) -> Edge:
        mapped = bool(mapped)
        flattened = bool(flattened)
        for end in (upstream_task, downstream_task):
            if isinstance(end, EdgeAnnotation):
                mapped = bool(end.annotations.get("mapped", mapped))
                flattened = bool(end.annotations.get("flattened", flattened))
        if not isinstance(upstream_task, _task.Task):
            upstream_task = _collections.as_task(upstream_task, flow=flow)
        if not isinstance(downstream_task, _task.Task):
            downstream_task = _collections.as_task(downstream_task, flow=flow)
        if upstream_task is downstream_task:
            raise ValueError(f"An edge cannot connect task {upstream_task.name!r} to itself")
        if key is not None and not is_valid_key(key):
            raise ValueError(
                f"Edge key {key!r} (into task {downstream_task.name!r}) is not a valid "
                "keyword argument name"
            )
        return tuple.__new__(cls, (upstream_task, downstream_task, key, mapped, flattened))

    # Fields read by index (C-speed properties); typed as what they return, which the
    # checker cannot see through ``property(itemgetter(i))``.
    upstream_task: Task = property(itemgetter(0), doc="The task that runs first.")  # type: ignore[assignment]
    downstream_task: Task = property(itemgetter(1), doc="The task that runs after it.")  # type: ignore[assignment]
    key: str | None = property(  # type: ignore[assignment]
        itemgetter(2), doc="The downstream run() argument fed by this edge, or None."
    )
    mapped: bool = property(itemgetter(3), doc="True when the downstream task maps over it.")  # type: ignore[assignment]
    flattened: bool = property(  # type: ignore[assignment]
        itemgetter(4), doc="True when the upstream value is un-nested one level first."
    )

    @property
    def tasks(self) -> set:
        """Both ends of the edge, as a set."""
        return {self[0], self[1]}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and tuple.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = tuple.__hash__

    def _no_order(self, other: object) -> bool:
        return NotImplemented

    # Tuples order element-wise, which would call the tasks' operators (and build
    # tasks); edges have no order.
    __lt__ = __le__ = __gt__ = __ge__ = _no_order

    def __reduce__(self) -> Any:
        return (_edge_from_parts, tuple(self))

    def __repr__(self) -> str:
        flags = "".join(f", {name}=True" for name, on in (("mapped", self[3]), ("flattened", self[4])) if on)
        return f"<Edge(key={self[2]!r}{flags}): {self[0].name} -> {self[1].name}>"


_tuple_new = tuple.__new__


def _edge_from_parts(
    upstream: Task, downstream: Task, key: str | None, mapped: bool, flattened: bool
) -> Edge:
    """Build an edge from already-checked parts (unpickling and the flow's fast path)."""
    return _tuple_new(Edge, (upstream, downstream, key, mapped, flattened))


# Late imports: task.py and collections.py both use this module.
import ferroflow.core.task as _task  # noqa: E402
from ferroflow.core import collections as _collections  # noqa: E402
