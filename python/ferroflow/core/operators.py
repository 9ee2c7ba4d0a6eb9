"""Operator tasks: what ``a + b``, ``a > b``, ``a.is_equal(b)``, ``a[k]``... create
when ``a`` is a task.

Each computes one Python operator on its inputs ``x`` and ``y`` (``x`` only for
:class:`Not`). ``==`` is not overloaded on tasks (it compares identity, so tasks stay
usable as dict keys): use ``a.is_equal(b)``. ``a | b`` is not "or" either: it makes
``b`` run after ``a``; use ``a.or_(b)``.
"""

from __future__ import annotations

import operator as _op
from collections.abc import Callable
from typing import Any

from ferroflow.core.collections import GetItem
from ferroflow.core.task import Task

__all__ = [
    "GetItem",
    "Add",
    "Sub",
    "Mul",
    "Div",
    "FloorDiv",
    "Mod",
    "Pow",
    "And",
    "Or",
    "Not",
    "Equal",
    "NotEqual",
    "GreaterThan",
    "GreaterThanOrEqual",
    "LessThan",
    "LessThanOrEqual",
]


class _BinaryOperator(Task):
    """Base of the two-input operator tasks: ``run(x, y)`` returns ``_apply(x, y)``."""

    _apply: Callable[[Any, Any], Any]

    def run(self, x: Any, y: Any) -> Any:  # type: ignore[override]  # a task's run() takes its own inputs
        """Apply the operator to ``x`` and ``y``."""
        return type(self)._apply(x, y)


def _binary(name: str, fn: Callable[[Any, Any], Any], text: str) -> type:
    cls = type(name, (_BinaryOperator,), {"_apply": staticmethod(fn), "__doc__": f"Computes ``{text}``."})
    cls.__module__ = __name__
    return cls


Add = _binary("Add", _op.add, "x + y")
Sub = _binary("Sub", _op.sub, "x - y")
Mul = _binary("Mul", _op.mul, "x * y")
Div = _binary("Div", _op.truediv, "x / y")
FloorDiv = _binary("FloorDiv", _op.floordiv, "x // y")
Mod = _binary("Mod", _op.mod, "x % y")
Pow = _binary("Pow", _op.pow, "x ** y")
And = _binary("And", lambda x, y: x and y, "x and y")
Or = _binary("Or", lambda x, y: x or y, "x or y")
Equal = _binary("Equal", _op.eq, "x == y")
NotEqual = _binary("NotEqual", _op.ne, "x != y")
GreaterThan = _binary("GreaterThan", _op.gt, "x > y")
GreaterThanOrEqual = _binary("GreaterThanOrEqual", _op.ge, "x >= y")
LessThan = _binary("LessThan", _op.lt, "x < y")
LessThanOrEqual = _binary("LessThanOrEqual", _op.le, "x <= y")


class Not(Task):
    """Computes ``not x``."""

    def run(self, x: Any) -> bool:  # type: ignore[override]  # a task's run() takes its own inputs
        """Return ``not x``."""
        return not x
