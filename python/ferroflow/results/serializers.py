"""Serializers: how result values become bytes and back.

A serializer has a ``name`` and two methods, ``dumps(value) -> bytes`` and
``loads(data: bytes) -> value``; both raise
:class:`~ferroflow.results.SerializationError` (naming the serializer and the value's
type) rather than whatever the underlying library raised. :class:`Serializer` is the
base class; ``dumps_many`` has a default implementation that serializers may speed up.

Two are built in, registered through the ``register_serializers`` hook exactly like a
third-party plugin's:

``cloudpickle`` (the default, :class:`CloudpickleSerializer`)
    Any picklable value, including functions and classes defined in ``__main__``.
``json`` (:class:`JSONSerializer`)
    JSON values only (dict, list, str, int, float, bool, None); tuples come back as
    lists. Readable by anything.
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Iterable
from typing import Any

import cloudpickle

from ferroflow.errors import one_line
from ferroflow.plugins import hookimpl
from ferroflow.results.errors import SerializationError

__all__ = [
    "DEFAULT_SERIALIZER",
    "Serializer",
    "CloudpickleSerializer",
    "JSONSerializer",
    "get_serializer",
]

#: The serializer used when none is named.
DEFAULT_SERIALIZER = "cloudpickle"


class Serializer:
    """Base class of serializers.

    Subclasses set ``name`` and implement :meth:`dumps` and :meth:`loads`. A
    serializer must be picklable (it travels with its
    :class:`~ferroflow.results.Result` to executors' workers) and safe to use from
    several threads.
    """

    #: The name the serializer is registered under, used in messages.
    name: str = ""

    def dumps(self, value: Any) -> bytes:
        """Serialize ``value``.

        Raises:
            SerializationError: ``value`` cannot be serialized by this serializer.
        """
        raise NotImplementedError

    def loads(self, data: bytes) -> Any:
        """Deserialize bytes produced by :meth:`dumps`.

        Raises:
            SerializationError: ``data`` cannot be deserialized.
        """
        raise NotImplementedError

    def dumps_many(self, values: Iterable[Any]) -> list[bytes | SerializationError]:
        """Serialize several values; a value that fails gives its error, in its place.

        Never raises for one value's failure, so that a batch of mapped children is
        serialized in one call and only the children that failed are failed.
        """
        out: list[bytes | SerializationError] = []
        for value in values:
            try:
                out.append(self.dumps(value))
            except SerializationError as exc:
                out.append(exc)
            except Exception as exc:  # a third-party serializer's error
                out.append(SerializationError.for_value(self.name, value, exc))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class CloudpickleSerializer(Serializer):
    """Serialize with cloudpickle; the default serializer, registered as ``cloudpickle``.

    Args:
        protocol: Pickle protocol; defaults to cloudpickle's (the highest available).
    """

    name = "cloudpickle"

    def __init__(self, protocol: int | None = None) -> None:
        self.protocol = cloudpickle.DEFAULT_PROTOCOL if protocol is None else int(protocol)
        if not 2 <= self.protocol <= pickle.HIGHEST_PROTOCOL:
            raise ValueError(f"cloudpickle serializer: protocol must be between 2 and "
                             f"{pickle.HIGHEST_PROTOCOL}, got {protocol!r}")

    def dumps(self, value: Any) -> bytes:
        try:
            return cloudpickle.dumps(value, protocol=self.protocol)
        except Exception as exc:  # pickling can raise almost anything
            raise SerializationError.for_value(self.name, value, exc) from exc

    def loads(self, data: bytes) -> Any:
        try:
            return cloudpickle.loads(data)
        except Exception as exc:
            raise SerializationError(self.name, "deserialize", one_line(exc)) from exc

    def dumps_many(self, values: Iterable[Any]) -> list[bytes | SerializationError]:
        # One pickler for the batch (memo cleared between values): the bytes are those
        # of dumps(), at about a third of the per-value cost.
        out: list[bytes | SerializationError] = []
        buffer = io.BytesIO()
        pickler = None
        for value in values:
            if pickler is None:
                pickler = cloudpickle.Pickler(buffer, protocol=self.protocol)
            buffer.seek(0)
            buffer.truncate()
            pickler.clear_memo()
            try:
                pickler.dump(value)
            except Exception as exc:
                out.append(SerializationError.for_value(self.name, value, exc))
                pickler = None  # its state after a failed dump is not to be trusted
                continue
            out.append(buffer.getvalue())
        return out

    def __repr__(self) -> str:
        return f"CloudpickleSerializer(protocol={self.protocol})"


class JSONSerializer(Serializer):
    """Serialize to UTF-8 JSON; registered as ``json``.

    Args:
        dumps_kwargs: Extra keyword arguments for :func:`json.dumps` (``default=``,
            ``sort_keys=``, ``cls=``...).
        loads_kwargs: Extra keyword arguments for :func:`json.loads`.
    """

    name = "json"

    def __init__(self, dumps_kwargs: dict | None = None,
                 loads_kwargs: dict | None = None) -> None:
        self.dumps_kwargs = dict(dumps_kwargs or {})
        self.loads_kwargs = dict(loads_kwargs or {})

    def dumps(self, value: Any) -> bytes:
        try:
            return json.dumps(value, **self.dumps_kwargs).encode("utf-8")
        except Exception as exc:  # TypeError, ValueError, RecursionError...
            raise SerializationError.for_value(self.name, value, exc) from exc

    def loads(self, data: bytes) -> Any:
        try:
            return json.loads(data, **self.loads_kwargs)
        except Exception as exc:
            raise SerializationError(self.name, "deserialize", one_line(exc)) from exc

    def __repr__(self) -> str:
        return f"JSONSerializer(dumps_kwargs={self.dumps_kwargs!r})"


def get_serializer(name_or_instance: Any = None, /, **options: Any) -> Serializer:
    """Return a serializer, the way the engine resolves ``serializer=``.

    Args:
        name_or_instance: A registered name (``"cloudpickle"``, ``"json"``, a
            plugin's), built as ``factory(**options)``; a serializer class; an instance
            (returned as is); or ``None`` for :data:`DEFAULT_SERIALIZER`.
        **options: Keyword arguments for the factory.

    Raises:
        PluginError: Unknown name (the message lists the registered serializers), or
            the factory raised.
        TypeError: The object has no ``dumps``/``loads``.
    """
    from ferroflow.plugins import manager

    if name_or_instance is None:
        name_or_instance = DEFAULT_SERIALIZER
    serializer = manager.create_registered("serializers", name_or_instance, options)
    if not (callable(getattr(serializer, "dumps", None)) and callable(getattr(serializer, "loads", None))):
        raise TypeError(f"{serializer!r} is not a serializer: it needs dumps() and loads()")
    return serializer


@hookimpl
def register_serializers(register) -> None:
    """Register the built-in serializers ``cloudpickle`` and ``json``."""
    register("cloudpickle", CloudpickleSerializer)
    register("json", JSONSerializer)
