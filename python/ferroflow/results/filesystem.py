"""The ``fsspec`` result store: records in any filesystem fsspec can reach.

``FsspecResultStore("file:///data/results")``, ``FsspecResultStore("/data/results")``
(a bare path means ``file://``), ``FsspecResultStore("memory://results")``,
``FsspecResultStore("s3://bucket/results", key=..., secret=...)`` once the user has
installed ``s3fs`` (likewise ``gcsfs`` for ``gs://``, ``adlfs`` for ``az://``...).

Every record is framed (:mod:`ferroflow.results.record`: magic, version, length,
BLAKE2b checksum) and written atomically:

* **Local files** (``file://`` and bare paths) bypass fsspec's file objects: the
  record is written with ``os`` calls to a temporary name in the destination directory
  (``.<name>.<pid>-<token>-<n>.tmp``, opened with ``O_EXCL``) and renamed over the
  final name with ``os.replace``, atomic on POSIX and Windows. On any error the
  temporary file is removed. With ``fsync=True`` the file is flushed to disk before
  the rename and its directory after, so a record also survives a power loss; without
  it (the default) a record survives the death of the process (``kill -9``) but not
  necessarily of the machine.
* **Object stores** (``s3``, ``gs``, ``az``... see :data:`OBJECT_STORE_PROTOCOLS`):
  an object becomes visible only once its upload completes, so the record is sent in
  one ``pipe_file`` call to its final key (a rename would be a copy there).
* **Other filesystems** (``memory``, ``sftp``, ``hdfs``...): written to a temporary
  name next to the final one, then moved with ``fs.mv``; on error the temporary file
  is removed.

``write_mode="rename"`` or ``"put"`` overrides the choice. A temporary file can be
left only by a process killed in the middle of a write; it never has the final name,
is never read, and :meth:`FsspecResultStore.remove_temporary_files` cleans them up.
"""

from __future__ import annotations

import itertools
import logging
import os
import secrets
from collections.abc import Iterable
from typing import Any

from ferroflow.results import record
from ferroflow.results.errors import (
    ResultCorrupt,
    ResultError,
    ResultNotFound,
    ResultStoreError,
    without_password,
)
from ferroflow.results.stores import ResultStore, check_location

__all__ = ["FsspecResultStore", "OBJECT_STORE_PROTOCOLS"]

logger = logging.getLogger("ferroflow.results")

#: Protocols whose uploads are atomic and whose "rename" is a copy: written in place.
OBJECT_STORE_PROTOCOLS = frozenset({
    "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oci", "oss", "r2", "b2",
})

Buffer = bytes | bytearray | memoryview

_TOKEN = secrets.token_hex(4)
_COUNTER = itertools.count()
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_TEMP_SUFFIX = ".tmp"


def _temp_name(base: str) -> str:
    return f".{base}.{os.getpid()}-{_TOKEN}-{next(_COUNTER)}{_TEMP_SUFFIX}"


def _write_all(fd: int, chunks: list[memoryview]) -> None:
    chunks = [c for c in chunks if c.nbytes]
    writev = getattr(os, "writev", None)
    while chunks:
        if writev is not None:
            written = writev(fd, chunks[:1024])
        else:  # pragma: no cover - Windows
            written = os.write(fd, chunks[0])
        while written:
            first = chunks[0]
            if written >= first.nbytes:
                written -= first.nbytes
                chunks.pop(0)
            else:
                chunks[0] = first[written:]
                written = 0


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _fsync_directory(directory: str) -> None:
    if os.name == "nt":  # pragma: no cover - directories cannot be opened on Windows
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FsspecResultStore(ResultStore):
    """Result records in a directory of any fsspec filesystem; registered as ``fsspec``.

    Args:
        base_url: Where records go: an fsspec URL (``"file:///data/results"``,
            ``"memory://results"``, ``"s3://bucket/prefix"``) or a local path
            (relative paths are made absolute now, not when writing).
        write_mode: ``"rename"`` (temporary file, then rename) or ``"put"`` (one
            upload to the final name, for object stores); by default ``"put"`` for
            :data:`OBJECT_STORE_PROTOCOLS` and ``"rename"`` otherwise.
        fsync: Local files only: flush each record and its directory to disk before
            the write returns (durable across power loss; costs a disk flush per
            record). Default ``False``.
        absolute_paths: Local files only: a location may also be an absolute path
            (``"/data/out/x.pkl"``), written there rather than under ``base_url``;
            what ``LocalResult`` and a ``Result`` with an absolute location template
            use. Default ``False``: every location stays under ``base_url``.
        framed: Write each record with its header and checksum (default ``True``).
            ``False`` writes the bare bytes, still atomically, as Prefect 1 did (what
            ``LocalResult`` uses, so its files are plain serializer output): a
            truncated or altered file is then found only when it fails to
            deserialize.
        **storage_options: Passed to the fsspec filesystem (credentials, endpoint...).

    Raises:
        ValueError: ``base_url`` is empty or not a string, ``write_mode`` is unknown, or
            ``absolute_paths`` is asked of a filesystem that is not local.
        ImportError: the URL's protocol needs a package that is not installed (the
            message is fsspec's, naming the package).
    """

    name = "fsspec"

    def __init__(self, base_url: str, *, write_mode: str | None = None, fsync: bool = False,
                 absolute_paths: bool = False, framed: bool = True, **storage_options: Any) -> None:
        if not isinstance(base_url, str) or not base_url.strip():
            raise ValueError(f"fsspec result store: base_url must be a non-empty URL or path, "
                             f"got {base_url!r}")
        if write_mode not in (None, "rename", "put"):
            raise ValueError(f"fsspec result store: write_mode must be 'rename', 'put' or None, "
                             f"got {write_mode!r}")
        import fsspec
        from fsspec.implementations.local import LocalFileSystem

        self._options = {"base_url": base_url, "write_mode": write_mode, "fsync": bool(fsync),
                         "absolute_paths": bool(absolute_paths), "framed": bool(framed), **storage_options}
        fs, root = fsspec.core.url_to_fs(base_url, **storage_options)
        self.fs = fs
        protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
        self.protocol: str = protocol
        self.fsync = bool(fsync)
        self._root = root.rstrip("/")
        self._local: str | None = None
        if isinstance(fs, LocalFileSystem):
            self._local = os.path.normpath(root) if root else os.sep
            self.base_url = fs.unstrip_protocol(root)
            self._options["base_url"] = self.base_url  # absolute: same place once unpickled
        else:
            self.base_url = base_url if "::" in base_url else fs.unstrip_protocol(root)
        if absolute_paths and self._local is None:
            raise ValueError(f"fsspec result store: absolute_paths=True needs local files, not {self.base_url!r}")
        self.absolute_paths = bool(absolute_paths)
        self.framed = bool(framed)
        if write_mode is None:
            write_mode = "put" if protocol in OBJECT_STORE_PROTOCOLS else "rename"
        self.write_mode = write_mode

    # -- naming ---------------------------------------------------------------------

    def url(self, location: str) -> str:
        """``base_url/location``: the record's full URL (``file:///...`` for an
        absolute path)."""
        if self.absolute_paths and location.startswith("/"):
            return self.fs.unstrip_protocol(location)
        return without_password(f"{self.base_url.rstrip('/')}/{location}")

    def path(self, location: str) -> str:
        """The record's path: a local path for local files, else the fsspec path."""
        check_location(location, absolute=self.absolute_paths)
        if self._local is not None:
            base = os.sep if location.startswith("/") else self._local
            return os.path.join(base, *location.strip("/").split("/"))
        return f"{self._root}/{location}"

    def _header(self, view: memoryview) -> bytes:
        """The record header written before ``view`` (none when not framed)."""
        return record.encode_header(view) if self.framed else b""

    def _encode(self, data: Buffer) -> bytes:
        return record.encode(data) if self.framed else bytes(data)

    def _decode(self, blob: Buffer) -> bytes:
        """The payload of a whole record read back (raises ``record.RecordError``)."""
        return record.decode(blob) if self.framed else bytes(blob)

    def _error(self, exc: BaseException, location: str, operation: str) -> ResultStoreError:
        return ResultStoreError.from_exception(exc, store=self.name, url=self.url(location),
                                               operation=operation, location=location)

    def _corrupt(self, exc: BaseException, location: str) -> ResultCorrupt:
        return ResultCorrupt(str(exc), store=self.name, url=self.url(location), location=location)

    def _not_found(self, location: str) -> ResultNotFound:
        return ResultNotFound(store=self.name, url=self.url(location), location=location)

    # -- write ----------------------------------------------------------------------

    def write(self, location: str, data: Buffer) -> None:
        """Write ``data`` at ``location`` atomically (see the module docstring).

        Raises:
            ResultStoreError: naming errno, URL and store; no partial file is left at
                the final path and no temporary file is left behind.
        """
        path = self.path(location)
        view = memoryview(data).cast("B")
        if self._local is not None:
            self._write_local(location, path, view)
        else:
            self._write_fs(location, path, view)

    def _write_local(self, location: str, path: str, view: memoryview) -> None:
        directory, base = os.path.split(path)
        tmp = os.path.join(directory, _temp_name(base))
        header = self._header(view)
        try:
            try:
                fd = os.open(tmp, _OPEN_FLAGS, 0o666)
            except FileNotFoundError:
                os.makedirs(directory, exist_ok=True)
                fd = os.open(tmp, _OPEN_FLAGS, 0o666)
        except OSError as exc:
            raise self._error(exc, location, "write") from exc
        try:
            try:
                _write_all(fd, [memoryview(header), view])
                if self.fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except BaseException as exc:
            _remove_quietly(tmp)
            if isinstance(exc, Exception):
                raise self._error(exc, location, "write") from exc
            raise
        if self.fsync:
            try:
                _fsync_directory(directory)
            except OSError as exc:
                raise self._error(exc, location, "write") from exc

    def _write_fs(self, location: str, path: str, view: memoryview) -> None:
        fs = self.fs
        if self.write_mode == "put":
            blob = self._encode(view)
            try:
                try:
                    fs.pipe_file(path, blob)
                except FileNotFoundError:
                    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
                    fs.pipe_file(path, blob)
            except Exception as exc:
                # A failed upload leaves the previous object (if any) intact.
                raise self._error(exc, location, "write") from exc
            return
        parent, base = path.rsplit("/", 1)
        tmp = f"{parent}/{_temp_name(base)}"
        try:
            if parent:
                fs.makedirs(parent, exist_ok=True)
            with fs.open(tmp, "wb") as f:
                f.write(self._header(view))
                f.write(view)
            fs.mv(tmp, path)
        except BaseException as exc:
            self._remove_fs_quietly(tmp)
            if isinstance(exc, Exception):
                raise self._error(exc, location, "write") from exc
            raise

    def _remove_fs_quietly(self, path: str) -> None:
        try:
            if self.fs.exists(path):
                self.fs.rm_file(path)
        except Exception:  # best effort; the original error matters
            logger.warning("ferroflow: could not remove %r after a failed write", path)

    def write_many(self, items: Iterable[tuple[str, Buffer]]) -> dict[int, ResultError]:
        """Write several records; ``{position: error}`` for those that failed.

        Local files: one loop of ``os`` calls. Object stores with an asynchronous
        fsspec implementation (s3fs, gcsfs, adlfs): one concurrent ``fs.pipe`` call;
        should it fail, each record is written again on its own (records are
        immutable bytes, so rewriting is harmless) to find which ones failed.
        """
        items = list(items)
        if self._local is None and self.write_mode == "put" and getattr(self.fs, "async_impl", False):
            try:
                blobs = {self.path(loc): self._encode(data) for loc, data in items}
                self.fs.pipe(blobs)
                return {}
            except Exception:  # fall back to one write per record
                pass
        return super().write_many(items)

    # -- read -----------------------------------------------------------------------

    def read(self, location: str) -> bytes:
        """Return the payload at ``location`` after checking its header and checksum.

        Raises:
            ResultNotFound: No record there.
            ResultCorrupt: Truncated, altered or foreign record (the reason says which).
            ResultStoreError: Any other failure, naming errno and URL.
        """
        path = self.path(location)
        if self._local is not None:
            return self._read_local(location, path)
        try:
            blob = self.fs.cat_file(path)
        except FileNotFoundError:
            raise self._not_found(location) from None
        except Exception as exc:
            raise self._error(exc, location, "read") from exc
        try:
            return self._decode(blob)
        except record.RecordError as exc:
            raise self._corrupt(exc, location) from None

    def _read_local(self, location: str, path: str) -> bytes:
        if not self.framed:
            try:
                with open(path, "rb") as f:
                    return f.read()
            except (FileNotFoundError, NotADirectoryError):
                raise self._not_found(location) from None
            except OSError as exc:
                raise self._error(exc, location, "read") from exc
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                header = f.read(record.HEADER_SIZE)
                try:
                    length, digest = record.check_header(header, size)
                except record.RecordError as exc:
                    raise self._corrupt(exc, location) from None
                payload = f.read(length)
        except FileNotFoundError:
            raise self._not_found(location) from None
        except NotADirectoryError:
            raise self._not_found(location) from None
        except OSError as exc:
            raise self._error(exc, location, "read") from exc
        if len(payload) != length:
            raise self._corrupt(record.RecordError(
                f"truncated while being read: expected {length} payload bytes, got "
                f"{len(payload)}"), location)
        try:
            record.check_payload(payload, digest)
        except record.RecordError as exc:
            raise self._corrupt(exc, location) from None
        return payload

    def read_many(self, locations: Iterable[str]) -> list[bytes | ResultError]:
        """Read several records; each failure in its place. Object stores with an
        asynchronous implementation fetch them concurrently."""
        locations = list(locations)
        if self._local is not None or not getattr(self.fs, "async_impl", False):
            return super().read_many(locations)
        out: list[bytes | ResultError] = []
        try:
            paths = [self.path(loc) for loc in locations]
            blobs = self.fs.cat(paths, on_error="return")
        except Exception:
            return super().read_many(locations)
        for location, path in zip(locations, paths, strict=True):
            blob = blobs.get(path) if isinstance(blobs, dict) else blobs
            if isinstance(blob, FileNotFoundError) or blob is None:
                out.append(self._not_found(location))
            elif isinstance(blob, BaseException):
                out.append(self._error(blob, location, "read"))
            else:
                try:
                    out.append(self._decode(blob))
                except record.RecordError as exc:
                    out.append(self._corrupt(exc, location))
        return out

    # -- exists / delete ------------------------------------------------------------

    def exists(self, location: str) -> bool:
        """Whether a complete record is at ``location``.

        Checks the header and the size (reading 32 bytes, not the payload), so a
        truncated or foreign file counts as absent (and is logged as a warning): the
        task runs again and replaces it. A payload altered in place is detected by
        :meth:`read`. Without framing, whether a file is there.

        Raises:
            ResultStoreError: The filesystem could not tell (permission, network).
        """
        path = self.path(location)
        if not self.framed:
            try:
                if self._local is not None:
                    return os.path.isfile(path)
                return bool(self.fs.isfile(path))
            except Exception as exc:
                raise self._error(exc, location, "check") from exc
        try:
            if self._local is not None:
                with open(path, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    header = f.read(record.HEADER_SIZE)
            else:
                info = self.fs.info(path)
                if info.get("type") == "directory":
                    return False
                size = int(info["size"])
                header = self.fs.cat_file(path, start=0, end=record.HEADER_SIZE)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return False
        except Exception as exc:
            raise self._error(exc, location, "check") from exc
        try:
            record.check_header(header, size)
        except record.RecordError as exc:
            logger.warning("ferroflow: result record %s is unusable (%s); treated as absent",
                           self.url(location), exc)
            return False
        return True

    def delete(self, location: str) -> bool:
        """Remove the record at ``location``; return whether there was one."""
        path = self.path(location)
        try:
            if self._local is not None:
                os.unlink(path)
            else:
                if not self.fs.exists(path):
                    return False
                self.fs.rm_file(path)
        except FileNotFoundError:
            return False
        except Exception as exc:
            raise self._error(exc, location, "delete") from exc
        return True

    def remove_temporary_files(self, prefix: str = "") -> int:
        """Delete temporary files left by writers killed mid-write; return how many.

        Only call it when no writer is active on the store (a live writer's temporary
        file would be removed from under it and its write would fail).

        Args:
            prefix: A location prefix (``"etl/"``) to limit the search to.
        """
        root = self.path(prefix.rstrip("/")) if prefix.strip("/") else (self._local or self._root)
        removed = 0
        if self._local is not None:
            for directory, _, files in os.walk(root):
                for name in files:
                    if name.startswith(".") and name.endswith(_TEMP_SUFFIX):
                        _remove_quietly(os.path.join(directory, name))
                        removed += 1
            return removed
        for path in self.fs.find(root or "/"):
            name = path.rsplit("/", 1)[-1]
            if name.startswith(".") and name.endswith(_TEMP_SUFFIX):
                self._remove_fs_quietly(path)
                removed += 1
        return removed

    # -- pickling -------------------------------------------------------------------

    def __getstate__(self) -> dict:
        return dict(self._options)

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        base_url = state.pop("base_url")
        type(self).__init__(self, base_url, **state)

    def __repr__(self) -> str:
        return f"FsspecResultStore({without_password(self.base_url)!r})"
