"""Tasks that hold constants, gather results into Python collections, or index them.

Users rarely create these by hand: :func:`as_task` makes them when a plain value or a
collection is used where a task is expected.

* A plain value (or a list/tuple/set/dict holding no task) becomes one
  :class:`Constant`. Bound to a key without mapping, it is not even a graph node: the
  flow keeps the value in ``flow.constants[task][key]``.
* A list/tuple/set holding tasks becomes a :class:`List`/:class:`Tuple`/:class:`Set`
  task whose inputs are its items, bound as ``arg_1``, ``arg_2``, ...
* A dict holding tasks becomes a :class:`Dict` task with inputs ``keys`` and
  ``values`` (each itself a list, converted the same way).
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ferroflow.core.edge import EdgeAnnotation
from ferroflow.core.task import Task

if TYPE_CHECKING:  # pragma: no cover
    from ferroflow.core.flow import Flow

__all__ = ["Constant", "List", "Tuple", "Set", "Dict", "GetItem", "as_task", "is_constant", "NO_DEFAULT"]


class _NoDefault:
    """Marker for "no default given"."""

    _instance: _NoDefault | None = None

    def __new__(cls) -> _NoDefault:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<no default>"

    def __reduce__(self) -> str:
        return "NO_DEFAULT"

    def __bool__(self) -> bool:
        return False


#: The "no default given" marker used by :class:`GetItem` and :class:`~ferroflow.core.parameter.Parameter`.
NO_DEFAULT: Any = _NoDefault()

_short = reprlib.Repr()


def _constant_name(value: Any) -> str:
    # A short repr names the constant; anything longer is named by its type. reprlib
    # bounds the work on huge containers (a truncated repr is longer than the limit).
    text = _short.repr(value)
    if len(text) <= 8:
        return text
    return f"Constant[{type(value).__name__}]"


class Constant(Task):
    """A task whose result is ``value``.

    Named after a short ``repr`` of the value, or ``Constant[<type>]``. As in Prefect 1,
    a flow run never runs it (nor a subclass): it is ``Success`` with ``value`` as its
    result and no message from the start of the run, whatever its upstream tasks end
    in; its trigger, state handlers, result and cache are not used.
    """

    def __init__(self, value: Any, name: str | None = None, **task_kwargs: Any):
        self.value = value
        super().__init__(name=_constant_name(value) if name is None else name, **task_kwargs)

    def run(self) -> Any:
        """Return the constant value."""
        return self.value


class _Gather(Task):
    """Base of List/Tuple/Set: binds positional items as ``arg_1``, ``arg_2``, ..."""

    def bind(
        self,
        *args: Any,
        mapped: bool = False,
        upstream_tasks: Iterable[Any] | None = None,
        flow: Flow | None = None,
        **kwargs: Any,
    ) -> Task:
        """Bind ``args`` as the collection's items (``arg_1``, ``arg_2``, ...)."""
        if kwargs:
            raise TypeError(
                f"Task {self.name!r} collects positional items only, got keywords {sorted(kwargs)}"
            )
        items = {f"arg_{i}": item for i, item in enumerate(args, 1)}
        return super().bind(mapped=mapped, upstream_tasks=upstream_tasks, flow=flow, **items)

    @staticmethod
    def _ordered(items: dict) -> list:
        return [items[f"arg_{i}"] for i in range(1, len(items) + 1)]


class List(_Gather):
    """Collects its inputs ``arg_1..arg_n`` into a list, in order."""

    def run(self, **items: Any) -> list:
        """Return the items as a list."""
        return self._ordered(items)


class Tuple(_Gather):
    """Collects its inputs ``arg_1..arg_n`` into a tuple, in order."""

    def run(self, **items: Any) -> tuple:
        """Return the items as a tuple."""
        return tuple(self._ordered(items))


class Set(_Gather):
    """Collects its inputs ``arg_1..arg_n`` into a set."""

    def run(self, **items: Any) -> set:
        """Return the items as a set."""
        return set(items.values())


class Dict(Task):
    """Builds a dict from its inputs ``keys`` and ``values`` (equal-length sequences)."""

    def run(self, keys: Iterable[Any], values: Iterable[Any]) -> dict:  # type: ignore[override]  # a task's run() takes its own inputs
        """Return ``dict(zip(keys, values))``; a length mismatch is a ValueError."""
        keys, values = list(keys), list(values)
        if len(keys) != len(values):
            raise ValueError(
                f"Task {self.name!r}: got {len(keys)} keys but {len(values)} values"
            )
        return dict(zip(keys, values, strict=True))


class GetItem(Task):
    """Computes ``task_result[key]``; what ``t[key]`` and tuple unpacking create.

    With a ``default``, a missing key (KeyError) gives the default instead of failing.
    """

    def __init__(self, default: Any = NO_DEFAULT, **task_kwargs: Any):
        self.default = default
        super().__init__(**task_kwargs)

    def run(self, task_result: Any, key: Any, default: Any = NO_DEFAULT) -> Any:  # type: ignore[override]  # a task's run() takes its own inputs
        """Return ``task_result[key]`` (or the default on KeyError, when one is set)."""
        if default is NO_DEFAULT:
            default = self.default
        try:
            return task_result[key]
        except KeyError:
            if default is NO_DEFAULT:
                raise
            return default


_ATOMIC = frozenset({int, float, complex, bool, str, bytes, type(None)})


def is_constant(value: Any) -> bool:
    """True when ``value`` holds no task and no edge annotation, looking inside
    lists, tuples, sets and dicts (keys and values)."""
    if isinstance(value, (Task, EdgeAnnotation)):
        return False
    kind = type(value)
    if kind is list or kind is tuple or kind is set or kind is frozenset:
        if _ATOMIC.issuperset(map(type, value)):  # the common case, at C speed
            return True
        return all(map(is_constant, value))
    if kind is dict:
        return all(map(is_constant, value.values())) and all(map(is_constant, value))
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(map(is_constant, value))
    if isinstance(value, dict):
        return all(map(is_constant, value.values())) and all(map(is_constant, value))
    return True


def as_task(value: Any, flow: Flow | None = None) -> Task:
    """The task standing for ``value``.

    A task is returned as is; an annotation is unwrapped; a constant (including a
    collection of constants) becomes a :class:`Constant`; a list, tuple, set or dict
    holding tasks becomes a List/Tuple/Set/Dict task bound in ``flow`` (or the active
    flow) to its items.
    """
    if isinstance(value, Task):
        return value
    if isinstance(value, EdgeAnnotation):
        return as_task(value.value, flow=flow)
    result: Task
    if is_constant(value):
        result = Constant(value)
    elif isinstance(value, list):
        result = List().bind(*value, flow=flow)
    elif isinstance(value, tuple):
        result = Tuple().bind(*value, flow=flow)
    elif isinstance(value, (set, frozenset)):
        result = Set().bind(*value, flow=flow)
    else:  # a dict (is_constant said so)
        result = Dict().bind(keys=list(value.keys()), values=list(value.values()), flow=flow)
    result.auto_generated = True
    return result
