"""A value together with where it was kept: what Prefect 1 code reads from
``state._result`` and from ``LocalResult.read()``/``write()``.

A :class:`~ferroflow.results.Result` is configuration and holds no value; these small
objects carry one: ``.value`` and ``.location`` (None when it was not written
anywhere). :data:`NoResult` stands for a state that has no result at all (a task run
that never ran, such as one skipped because an upstream task skipped).
"""

from __future__ import annotations

from typing import Any

from ferroflow.states import same_value

__all__ = ["ResultValue", "NoResult"]


class ResultValue:
    """``value``, and the ``location`` it was written at (or None)."""

    __slots__ = ("value", "location")

    def __init__(self, value: Any, location: str | None = None) -> None:
        self.value = value
        self.location = location

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResultValue):
            return NotImplemented
        return self.location == other.location and same_value(self.value, other.value)

    __hash__ = None  # type: ignore[assignment]  # equal by value, so unhashable

    def __repr__(self) -> str:
        return f"<Result: {self.value!r}>"


class _NoResultType:
    """The type of :data:`NoResult` (one instance, kept through pickling)."""

    __slots__ = ()
    value = None
    location = None

    def __repr__(self) -> str:
        return "<NoResult>"

    def __reduce__(self) -> str:
        return "NoResult"


#: The ``_result`` of a state without a result (``.value`` and ``.location`` are None).
NoResult = _NoResultType()
