"""``PrefectResult``: Prefect 1's result kept in its own location string.

The value is serialized to JSON and that text *is* its location
(``state._result.location == "3"`` for a task that returned 3), so nothing is written
anywhere and the value can be read back from the location alone. For small,
JSON-serializable values; what a cache of such a task keeps (its records) goes to an
in-memory store.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ferroflow.results.errors import ResultError, SerializationError
from ferroflow.results.result import Result
from ferroflow.results.serializers import JSONSerializer
from ferroflow.states import ResultValue

__all__ = ["PrefectResult"]


class PrefectResult(Result):
    """A value kept as the JSON text of its location.

    Args:
        serializer: A JSON serializer (default :class:`JSONSerializer`); anything else
            is a ``TypeError``, as in Prefect 1.
    """

    def __init__(self, serializer: Any = None) -> None:
        serializer = JSONSerializer() if serializer is None else serializer
        if not isinstance(serializer, JSONSerializer):
            raise TypeError(f"PrefectResult only supports a JSONSerializer, got {serializer!r}")
        super().__init__("memory", serializer=serializer)

    # -- the engine's side: the location of a value is its text ----------------------

    def write_value(self, value: Any, /, **context: Any) -> str:
        """The JSON text of ``value`` (its location); nothing is written."""
        return self._dumps(value, "<inline>").decode("utf-8")

    def write_to(self, location: str, value: Any) -> str:
        """As :meth:`write_value`: the location given is not used."""
        return self.write_value(value)

    def write_many(self, values: Sequence[Any], contexts: Sequence[Mapping[str, Any]],
                   /, **common: Any) -> list[str | ResultError]:
        if len(values) != len(contexts):
            raise ValueError(f"write_many: {len(values)} values but {len(contexts)} contexts")
        out: list[str | ResultError] = []
        for value in values:
            try:
                out.append(self.write_value(value))
            except SerializationError as exc:
                out.append(exc)
        return out

    def read_value(self, location: str) -> Any:
        """The value whose JSON text ``location`` is."""
        return self._loads(location.encode("utf-8"), location)

    def read_many(self, locations: Iterable[str]) -> list[Any]:
        out: list[Any] = []
        for location in locations:
            try:
                out.append(self.read_value(location))
            except SerializationError as exc:
                out.append(exc)
        return out

    # -- Prefect 1's methods ------------------------------------------------------------

    def read(self, location: str) -> ResultValue:
        """The value of ``location``, with it."""
        return ResultValue(self.read_value(location), location)

    def write(self, value: Any, /, **format_kwargs: Any) -> ResultValue:
        """``value`` with its location, its JSON text."""
        return ResultValue(value, self.write_value(value))

    def exists(self, location: str, /, **format_kwargs: Any) -> bool:  # type: ignore[override]  # Prefect 1's
        """Whether ``location`` is JSON text of a value."""
        try:
            self.read_value(location)
        except SerializationError:
            return False
        return True

    def __repr__(self) -> str:
        return f"PrefectResult(serializer={self.serializer!r})"
