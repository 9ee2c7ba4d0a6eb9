"""Result stores: where result records are written and read, by location.

A store maps *locations* (relative, ``/``-separated paths such as
``"etl/load/3.pkl"``) to bytes. Its contract (:class:`ResultStore`):

``write(location, data)``
    Atomic: after a failure nothing is at ``location`` (or what was there before is
    intact) and nothing partial is left behind; a reader sees either the old record
    or the whole new one. Failures raise
    :class:`~ferroflow.results.ResultStoreError` naming the errno, the full URL and
    the store.
``read(location) -> bytes``
    The bytes written; :class:`~ferroflow.results.ResultNotFound` when nothing is
    there, :class:`~ferroflow.results.ResultCorrupt` when the record fails its
    checks.
``exists(location) -> bool``
    Whether a complete record is there.
``write_many(items)`` / ``read_many(locations)``
    Batches (for the children of a mapped task): per-item errors are returned, not
    raised.

Two are built in, registered through the ``register_result_stores`` hook like any
plugin's: ``memory`` (:class:`MemoryResultStore`, a dict in this process) and
``fsspec`` (:class:`~ferroflow.results.filesystem.FsspecResultStore`, any fsspec URL;
fsspec is imported only when such a store is created).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ferroflow.plugins import hookimpl
from ferroflow.results.errors import (
    ResultError,
    ResultLocationError,
    ResultNotFound,
    ResultStoreError,
)

__all__ = [
    "ResultStore",
    "MemoryResultStore",
    "check_location",
    "get_result_store",
]

Buffer = bytes | bytearray | memoryview


def check_location(location: Any, absolute: bool = False) -> str:
    """Return ``location`` if it is an acceptable location, else raise.

    A location is a non-empty ``str`` of ``/``-separated names, relative to the
    store's base: no leading ``/``, no empty, ``.`` or ``..`` segment, no NUL. This
    keeps a location templated from user input (a parameter) inside the store. With
    ``absolute=True`` (for a store of local files that takes absolute paths, see
    ``FsspecResultStore(absolute_paths=True)``) it may also be an absolute path:
    ``/`` followed by such names.

    Raises:
        ResultLocationError: naming the location and what is wrong with it.
    """
    if not isinstance(location, str):
        raise ResultLocationError(f"A result location must be a str, got {location!r}",
                                  template=None)
    problem = None
    if not location:
        problem = "it is empty"
    elif "\x00" in location:
        problem = "it contains a NUL character"
    elif location.startswith("/") and not absolute:
        problem = ("it starts with '/' (locations are relative to the store's base; only a location "
                   "template that itself starts with '/' gives absolute paths, on a store of local files)")
    else:
        for part in (location[1:] if absolute and location.startswith("/") else location).split("/"):
            if part in ("", ".", ".."):
                problem = (f"it has an empty, '.' or '..' segment ({part!r}); locations must "
                           f"stay inside the store's base")
                break
    if problem is not None:
        raise ResultLocationError(f"Invalid result location {location!r}: {problem}",
                                  template=location)
    return location


class ResultStore:
    """Base class of result stores; see the module docstring for the contract.

    Subclasses set ``name`` and implement :meth:`write`, :meth:`read` and
    :meth:`exists`; :meth:`write_many` and :meth:`read_many` loop over them unless
    overridden with something faster. A store must be picklable (it travels to
    executors' workers) and safe to use from several threads.
    """

    #: The name the store is registered under, used in messages.
    name: str = ""
    #: Whether locations may also be absolute paths of local files (written there,
    #: outside the store's base): only stores built to take them say True.
    absolute_paths: bool = False

    def url(self, location: str) -> str:
        """The full URL or path of ``location``, for messages and for users."""
        return location

    def write(self, location: str, data: Buffer) -> None:
        """Store ``data`` at ``location``, atomically, replacing what was there.

        Raises:
            ResultStoreError: The write failed; nothing partial is left.
            ResultLocationError: ``location`` is not acceptable.
        """
        raise NotImplementedError

    def read(self, location: str) -> bytes:
        """Return the bytes stored at ``location``.

        Raises:
            ResultNotFound: Nothing is stored there.
            ResultCorrupt: The record is truncated, altered or foreign.
            ResultStoreError: Any other failure (permission, I/O error).
        """
        raise NotImplementedError

    def exists(self, location: str) -> bool:
        """Whether a complete record is stored at ``location``.

        Raises:
            ResultStoreError: The store could not tell (permission, network).
        """
        raise NotImplementedError

    def delete(self, location: str) -> bool:
        """Remove the record at ``location``; return whether there was one."""
        raise NotImplementedError(f"result store {self.name!r} cannot delete records")

    def write_many(self, items: Iterable[tuple[str, Buffer]]) -> dict[int, ResultError]:
        """Write several records; return ``{position: error}`` for those that failed.

        Each write is atomic on its own; the batch is not (the records that
        succeeded stay written). An empty dict means every record was written. The
        errors are :class:`~ferroflow.results.ResultStoreError` (or
        :class:`~ferroflow.results.ResultLocationError` for a bad location); this
        method does not raise for one record's failure.
        """
        errors: dict[int, ResultError] = {}
        for i, (location, data) in enumerate(items):
            try:
                self.write(location, data)
            except ResultError as exc:
                errors[i] = exc
            except Exception as exc:  # a third-party store's own error
                errors[i] = _wrap(self, exc, location, "write")
        return errors

    def read_many(self, locations: Iterable[str]) -> list[bytes | ResultError]:
        """Read several records; a record that fails gives its error, in its place."""
        out: list[bytes | ResultError] = []
        for location in locations:
            try:
                out.append(self.read(location))
            except ResultError as exc:
                out.append(exc)
            except Exception as exc:
                out.append(_wrap(self, exc, location, "read"))
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _wrap(store: ResultStore, exc: BaseException, location: Any, operation: str) -> ResultStoreError:
    try:
        url = store.url(location)
    except Exception:
        url = str(location)
    return ResultStoreError.from_exception(exc, store=store.name or type(store).__name__,
                                           url=url, operation=operation, location=location)


class MemoryResultStore(ResultStore):
    """Records in a dict of this process: for tests, and for speed when nothing needs
    to survive the process. Registered as ``memory``.

    Each instance has its own records (pass ``records=`` to share a dict between
    instances). Writes are atomic (one dict assignment); records cannot be
    corrupted, so they are kept unframed.

    Args:
        records: The dict to keep records in; a new one by default.
    """

    name = "memory"

    def __init__(self, records: dict | None = None) -> None:
        self.records: dict[str, bytes] = {} if records is None else records

    def url(self, location: str) -> str:
        return f"memory-store:{location}"

    def write(self, location: str, data: Buffer) -> None:
        check_location(location)
        self.records[location] = bytes(data)

    def read(self, location: str) -> bytes:
        try:
            return self.records[location]
        except KeyError:
            check_location(location)
            raise ResultNotFound(store=self.name, url=self.url(location),
                                 location=location) from None

    def exists(self, location: str) -> bool:
        return location in self.records

    def delete(self, location: str) -> bool:
        return self.records.pop(location, None) is not None

    def write_many(self, items: Iterable[tuple[str, Buffer]]) -> dict[int, ResultError]:
        records = self.records
        errors: dict[int, ResultError] = {}
        for i, (location, data) in enumerate(items):
            try:
                check_location(location)
            except ResultLocationError as exc:
                errors[i] = exc
                continue
            records[location] = bytes(data)
        return errors

    def __getstate__(self) -> dict:
        return {"records": dict(self.records)}

    def __setstate__(self, state: dict) -> None:
        type(self).__init__(self, state["records"])

    def __repr__(self) -> str:
        return f"MemoryResultStore({len(self.records)} records)"


def _fsspec_store(**options: Any) -> ResultStore:
    # fsspec takes ~80 ms to import: only when an fsspec store is created.
    from ferroflow.results.filesystem import FsspecResultStore

    return FsspecResultStore(**options)


_fsspec_store.__doc__ = "Build a :class:`~ferroflow.results.filesystem.FsspecResultStore`."


def get_result_store(name_or_instance: Any = None, /, **options: Any) -> ResultStore:
    """Return a result store, the way the engine resolves ``result=``.

    Args:
        name_or_instance: A registered name (``"memory"``, ``"fsspec"``, a plugin's),
            built as ``factory(**options)``; a store class; an instance (returned as
            is); or ``None`` for a new ``"memory"`` store. A URL or path with no
            registered name (``"file:///data/results"``, ``"s3://bucket/r"``,
            ``"/data/results"``) builds an ``fsspec`` store on it.
        **options: Keyword arguments for the factory, e.g. ``base_url=`` for
            ``fsspec``.

    Raises:
        PluginError: Unknown name (the message lists the registered stores), or the
            factory raised.
    """
    from ferroflow.plugins import manager

    if name_or_instance is None:
        name_or_instance = "memory"
    if isinstance(name_or_instance, str) and _looks_like_url(name_or_instance):
        if name_or_instance not in manager.get_registry("result_stores"):
            if "base_url" in options:
                raise ValueError(f"Result store {name_or_instance!r} is a URL and base_url="
                                 f"{options['base_url']!r} was also given; give only one")
            return manager.create_registered("result_stores", "fsspec",
                                             {"base_url": name_or_instance, **options})
    store = manager.create_registered("result_stores", name_or_instance, options)
    for method in ("write", "read", "exists"):
        if not callable(getattr(store, method, None)):
            raise TypeError(f"{store!r} is not a result store: it has no {method}()")
    return store


def _looks_like_url(text: str) -> bool:
    return "://" in text or text.startswith(("/", "./", "../", "~"))


@hookimpl
def register_result_stores(register) -> None:
    """Register the built-in result stores ``memory`` and ``fsspec``."""
    register("memory", MemoryResultStore)
    register("fsspec", _fsspec_store)

