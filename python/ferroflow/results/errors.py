"""Errors raised by result stores, serializers and :class:`~ferroflow.results.Result`.

Every error names what failed and where: the serializer and the value's type, the
store and the full URL or path, the errno of an ``OSError``, the template and the
missing key. The engine adds the task and map index with :meth:`ResultError.with_task`
before it records the error as the task run's failure, so the message a user reads is
for instance::

    Could not write result 'file:///data/results/etl/load/3.pkl' (result store
    'fsspec'): [Errno 28 ENOSPC] No space left on device (task 'load', map index 3)

Hierarchy::

    FerroflowError
    └── ResultError
        ├── SerializationError       a value could not be turned into bytes, or back
        ├── ResultLocationError      a bad location template or location (also ValueError)
        └── ResultStoreError         the store failed (I/O error, permission, disk full)
            ├── ResultNotFound       nothing stored at that location
            └── ResultCorrupt        a record is truncated, altered or not a ferroflow record

All of them pickle (they cross process boundaries as task results) with their
attributes.
"""

from __future__ import annotations

import errno as errno_module
from typing import Any

from ferroflow.errors import FerroflowError, one_line
from ferroflow.redaction import without_password  # (re-exported: where the result stores found it)

__all__ = [
    "ResultError",
    "SerializationError",
    "ResultLocationError",
    "ResultStoreError",
    "ResultNotFound",
    "ResultCorrupt",
    "without_password",
]

def _rebuild(cls: type[ResultError], attrs: dict[str, Any]) -> ResultError:
    error = cls.__new__(cls)
    error.__dict__.update(attrs)
    Exception.__init__(error, attrs.get("message", ""))
    return error


class ResultError(FerroflowError):
    """Base class of the errors of :mod:`ferroflow.results`.

    Attributes:
        message: What went wrong, without the task context.
        location: The result's location (relative to its store), when known.
        task_name: The task whose result this was; set by the engine through
            :meth:`with_task`, else ``None``.
        map_index: The mapped child's index, when there is one.
    """

    def __init__(self, message: str, *, location: str | None = None) -> None:
        self.message = message
        self.location = location
        self.task_name: str | None = None
        self.map_index: int | None = None
        super().__init__(message)

    def with_task(self, task_name: str | None, map_index: int | None = None) -> ResultError:
        """Record the task (and mapped child) this error belongs to; return ``self``.

        The message then ends with ``(task 'load', map index 3)``.
        """
        self.task_name = task_name
        self.map_index = map_index
        return self

    def __str__(self) -> str:
        if self.task_name is None and self.map_index is None:
            return self.message
        where = []
        if self.task_name is not None:
            where.append(f"task {self.task_name!r}")
        if self.map_index is not None:
            where.append(f"map index {self.map_index}")
        return f"{self.message} ({', '.join(where)})"

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), dict(self.__dict__)))


class SerializationError(ResultError):
    """A value could not be serialized, or bytes could not be deserialized.

    Attributes:
        serializer: The serializer's name (``"cloudpickle"``, ``"json"``).
        type_name: The qualified name of the value's type (``"_thread.lock"``,
            ``"function"``) when serializing; ``None`` when deserializing.
        operation: ``"serialize"`` or ``"deserialize"``.
        reason: ``"ExceptionType: message"`` of the underlying error.
    """

    def __init__(self, serializer: str, operation: str, reason: str, *,
                 type_name: str | None = None, location: str | None = None) -> None:
        self.serializer = serializer
        self.operation = operation
        self.reason = reason
        self.type_name = type_name
        if operation == "serialize":
            message = (f"Cannot serialize a value of type {type_name!r} with serializer "
                       f"{serializer!r}: {reason}")
        else:
            message = f"Cannot deserialize with serializer {serializer!r}: {reason}"
        if location is not None:
            message += f" (result location {location!r})"
        super().__init__(message, location=location)

    @classmethod
    def for_value(cls, serializer: str, value: Any, exc: BaseException) -> SerializationError:
        """The error for ``value`` failing to serialize with ``exc``."""
        return cls(serializer, "serialize", one_line(exc), type_name=type_name_of(value))


class ResultLocationError(ResultError, ValueError):
    """A location template cannot be formatted, or a location is not acceptable.

    Attributes:
        template: The template (or location) concerned.
        key: The missing key, for a template that needs a key the context lacks.
    """

    def __init__(self, message: str, *, template: str | None = None,
                 key: str | None = None) -> None:
        self.template = template
        self.key = key
        super().__init__(message)


class ResultStoreError(ResultError):
    """A result store could not write, read or check a record.

    Attributes:
        store: The store's name (``"fsspec"``, ``"memory"``, a plugin's store name).
        url: The full URL or path of the record (``"file:///data/r/a.pkl"``).
        operation: ``"write"``, ``"read"``, ``"check"`` or ``"delete"``.
        errno: The ``OSError`` errno (``errno.ENOSPC``), when there is one, else ``None``.
        strerror: The system's text for ``errno``, when there is one.
    """

    def __init__(self, message: str, *, store: str, url: str, operation: str,
                 location: str | None = None, errno: int | None = None,
                 strerror: str | None = None) -> None:
        self.store = store
        self.url = url
        self.operation = operation
        self.errno = errno
        self.strerror = strerror
        super().__init__(message, location=location)

    @classmethod
    def from_exception(cls, exc: BaseException, *, store: str, url: str, operation: str,
                       location: str | None = None) -> ResultStoreError:
        """Wrap ``exc`` (usually an ``OSError``) raised while doing ``operation`` on ``url``."""
        code = getattr(exc, "errno", None)
        code = code if isinstance(code, int) else None
        strerror = getattr(exc, "strerror", None) if code is not None else None
        if code is not None:
            name = errno_module.errorcode.get(code, "?")
            reason = f"[Errno {code} {name}] {strerror or exc}"
            filename = getattr(exc, "filename", None)
            if filename and str(filename) not in url:
                reason += f": {filename!r}"
        else:
            reason = one_line(exc)
        reason = without_password(reason)
        verb = {"write": "write result", "read": "read result",
                "check": "check result", "delete": "delete result"}.get(operation, operation)
        return cls(f"Could not {verb} {url!r} (result store {store!r}): {reason}",
                   store=store, url=url, operation=operation, location=location,
                   errno=code, strerror=strerror)


class ResultNotFound(ResultStoreError):
    """Nothing is stored at the location (never written, or deleted)."""

    def __init__(self, *, store: str, url: str, location: str | None = None) -> None:
        super().__init__(f"No result at {url!r} (result store {store!r})", store=store,
                         url=url, operation="read", location=location,
                         errno=errno_module.ENOENT, strerror="No such file or directory")


class ResultCorrupt(ResultStoreError):
    """The record at the location is truncated, altered or not a ferroflow record.

    Attributes:
        reason: What the check found (``"checksum mismatch"``, ``"truncated: ..."``).
    """

    def __init__(self, reason: str, *, store: str, url: str,
                 location: str | None = None) -> None:
        self.reason = reason
        super().__init__(f"Corrupt result record at {url!r} (result store {store!r}): {reason}",
                         store=store, url=url, operation="read", location=location)


def type_name_of(value: Any) -> str:
    """``"module.QualName"`` of ``value``'s type; just ``"QualName"`` for builtins."""
    t = type(value)
    if t.__module__ == "builtins":
        return t.__qualname__
    return f"{t.__module__}.{t.__qualname__}"
