"""The serializer conformance kit: what every serializer (``register_serializers``)
must get right.

Subclass :class:`SerializerConformance` in a test module (its name must start with
``Test``) and say how to build your serializer::

    from ferroflow.testing.serializers import SerializerConformance, JSON_VALUES

    class TestGzipSerializer(SerializerConformance):
        serializer_factory = GzipSerializer      # or: lambda: GzipSerializer(level=9)
        registered_name = "gzip"                  # optional: also built by name
        round_trip_values = PYTHON_VALUES         # what it promises to round trip

or ``TestGzip = serializer_conformance(GzipSerializer)``.

The tests: ``dumps`` returns ``bytes`` (not a ``bytearray`` or ``memoryview``) and
``loads(dumps(v)) == v`` for every value of :attr:`round_trip_values`; a value it
cannot serialize (:attr:`unserializable_values`) raises
:class:`~ferroflow.results.SerializationError` naming the serializer and the value's
type, and ``dumps_many`` returns that error in its place without raising; bytes that
are not its own raise ``SerializationError`` from ``loads``; the serializer pickles
(it travels with its ``Result`` to other processes) and a copy reads what the original
wrote; with :attr:`deterministic` set, equal values give equal bytes, in this process
and another. Each test bounds its own time and uses a private ``FERROFLOW_HOME``
(:mod:`ferroflow.testing.kit`).
"""

from __future__ import annotations

import datetime
import decimal
import multiprocessing
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import cloudpickle

from ferroflow.results.errors import SerializationError
from ferroflow.testing.kit import ConformanceKit

__all__ = ["JSON_VALUES", "PYTHON_VALUES", "SerializerConformance", "serializer_conformance"]

#: Values every JSON-capable serializer round trips (with ``==``).
JSON_VALUES: list[Any] = [
    None, True, False, 0, -1, 2**62, 1.5, -0.25, "", "text", "ünïcødé ✓ 🐍", "a\x00b",
    [], [1, "two", None], {}, {"a": 1, "nested": {"list": [1.5, {"deep": True}]}},
    list(range(10_000)), {str(i): i for i in range(1000)},
]

#: Values a serializer of Python objects (pickle-like) round trips.
PYTHON_VALUES: list[Any] = [
    *JSON_VALUES, 2**200, b"", b"\x00\xffbytes", bytearray(b"ba"), (1, (2, 3)), {1, 2, 3},
    frozenset({"x"}), {(1, 2): "tuple key"}, complex(1, 2), decimal.Decimal("1.10"),
    datetime.datetime(2024, 2, 29, 12, 30, tzinfo=datetime.timezone.utc), datetime.date(2000, 1, 1),
    datetime.timedelta(seconds=90), range(5), b"x" * 1_000_000,
]


def _unserializable() -> list[Any]:
    return [threading.Lock()]


def _dumps_in_child(payload: bytes, values: bytes) -> list[bytes]:
    serializer = cloudpickle.loads(payload)
    return [serializer.dumps(v) for v in cloudpickle.loads(values)]


class SerializerConformance(ConformanceKit):
    """Tests every serializer must pass; see the module docstring."""

    #: Called with no arguments: returns a new serializer. Required.
    serializer_factory: Callable[[], Any] | None = None
    #: The name it is registered under through ``register_serializers``; when set,
    #: ``get_serializer(name)`` must build one of the same type.
    registered_name: str | None = None
    #: Values ``loads(dumps(v)) == v`` must hold for.
    round_trip_values: list[Any] = PYTHON_VALUES
    #: Values ``dumps`` must refuse with a SerializationError (a lock by default).
    unserializable_values: Callable[[], list[Any]] = staticmethod(_unserializable)
    #: Bytes ``loads`` must refuse with a SerializationError.
    garbage: bytes = b"\x80\x05not what this serializer wrote\xff\x00"
    #: Whether equal values give equal bytes (also in another process).
    deterministic: bool = False

    def make_serializer(self) -> Any:
        factory = type(self).serializer_factory
        if factory is None:
            raise TypeError(f"{type(self).__name__} must set serializer_factory (a callable returning a serializer)")
        return factory()

    def test_has_a_name(self):
        serializer = self.make_serializer()
        name = getattr(serializer, "name", None)
        assert isinstance(name, str) and name, f"{serializer!r} needs a non-empty str name, got {name!r}"
        assert isinstance(repr(serializer), str)

    def test_dumps_gives_bytes(self):
        serializer = self.make_serializer()
        for value in self.round_trip_values:
            data = serializer.dumps(value)
            assert type(data) is bytes, (
                f"dumps({value!r:.60}) must return bytes, got {type(data).__name__}")

    def test_round_trip(self):
        serializer = self.make_serializer()
        wrong = []
        for value in self.round_trip_values:
            back = serializer.loads(serializer.dumps(value))
            if back != value or type(back) is not type(value):
                wrong.append(f"{value!r:.60} came back as {back!r:.60}")
        assert not wrong, "values that do not round trip:\n" + "\n".join(wrong)

    def test_unserializable_values_raise_a_clear_error(self):
        serializer = self.make_serializer()
        for value in self.unserializable_values():
            try:
                serializer.dumps(value)
            except SerializationError as exc:
                assert exc.operation == "serialize"
                assert exc.serializer == serializer.name, (exc.serializer, serializer.name)
                assert type(value).__name__ in str(exc), f"the error must name the value's type: {exc}"
            except Exception as exc:
                raise AssertionError(f"dumps({value!r}) must raise SerializationError, "
                                     f"not {type(exc).__name__}: {exc}") from exc
            else:
                raise AssertionError(f"dumps({value!r}) must raise SerializationError")

    def test_dumps_many_returns_errors_in_place(self):
        serializer = self.make_serializer()
        good = self.round_trip_values[:3]
        bad = self.unserializable_values()[0]
        out = serializer.dumps_many([good[0], bad, *good[1:]])
        assert len(out) == len(good) + 1
        assert isinstance(out[1], SerializationError), out[1]
        for data, value in zip([out[0], *out[2:]], good, strict=True):
            assert isinstance(data, bytes) and serializer.loads(data) == value

    def test_loads_of_foreign_bytes_raises(self):
        serializer = self.make_serializer()
        try:
            serializer.loads(self.garbage)
        except SerializationError as exc:
            assert exc.operation == "deserialize" and exc.serializer == serializer.name
        except Exception as exc:
            raise AssertionError(f"loads(garbage) must raise SerializationError, not "
                                 f"{type(exc).__name__}: {exc}") from exc
        else:
            raise AssertionError("loads(garbage) must raise SerializationError")

    def test_pickles(self):
        serializer = self.make_serializer()
        value = self.round_trip_values[-1]
        data = serializer.dumps(value)
        for copy in (pickle.loads(pickle.dumps(serializer)), cloudpickle.loads(cloudpickle.dumps(serializer))):
            assert type(copy) is type(serializer) and copy.name == serializer.name
            assert copy.loads(data) == value
            assert serializer.loads(copy.dumps(value)) == value

    def test_deterministic(self):
        if not self.deterministic:
            import pytest

            pytest.skip("this serializer does not promise equal bytes for equal values")
        serializer = self.make_serializer()
        values = self.round_trip_values
        mine = [serializer.dumps(v) for v in values]
        assert mine == [serializer.dumps(pickle.loads(pickle.dumps(v))) for v in values]
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            theirs = pool.submit(_dumps_in_child, cloudpickle.dumps(serializer),
                                 cloudpickle.dumps(values)).result()
        assert theirs == mine, "another process must give the same bytes"

    def test_built_by_its_registered_name(self):
        if self.registered_name is None:
            import pytest

            pytest.skip("registered_name is not set")
        from ferroflow.results.serializers import get_serializer

        built = get_serializer(self.registered_name)
        assert type(built) is type(self.make_serializer())


def serializer_conformance(factory: Callable[[], Any], name: str | None = None, **attributes: Any) -> type:
    """The kit as a class bound to ``factory`` (and any class attributes, e.g.
    ``round_trip_values=JSON_VALUES``): ``TestMine = serializer_conformance(Mine)``."""
    label = name or getattr(factory, "__name__", "Serializer").replace("<lambda>", "Serializer")
    return type(f"Test{label}Conformance", (SerializerConformance,),
                {"serializer_factory": staticmethod(factory), **attributes})
