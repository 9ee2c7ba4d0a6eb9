"""Helpers for result tests: a fault-injecting fsspec filesystem (``faulty://``) that
fails a chosen operation with a chosen errno, and a subprocess runner."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import fsspec
from fsspec.asyn import AsyncFileSystem
from fsspec.implementations.memory import MemoryFileSystem

import ferroflow.results

#: The directory holding the ``ferroflow`` package these tests import.
PACKAGE_ROOT = Path(ferroflow.results.__file__).parents[2]


class FaultyFileSystem(MemoryFileSystem):
    """An in-memory filesystem that fails on demand.

    ``FaultyFileSystem.fail(op, code, after=n, path_contains=s)``: the next operations
    ``op`` (``"write"``: after ``n`` bytes of a file were written; ``"open"``,
    ``"mv"``, ``"read"``, ``"info"``) on a path containing ``s`` raise
    ``OSError(code)``. Records live apart from fsspec's ``memory://`` store.
    """

    protocol = "faulty"
    store: dict = {}
    pseudo_dirs = [""]
    faults: dict[str, dict[str, Any]] = {}

    @classmethod
    def fail(cls, op: str, code: int = errno.EIO, *, after: int = 0,
             path_contains: str = "") -> None:
        cls.faults[op] = {"errno": code, "after": after, "path": path_contains}

    @classmethod
    def reset(cls) -> None:
        cls.faults.clear()
        cls.store.clear()
        cls.pseudo_dirs[:] = [""]

    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, str) and path.startswith("faulty://"):
            path = path[len("faulty://"):]
        return super()._strip_protocol(path)

    def _check(self, op: str, path: str) -> dict | None:
        fault = self.faults.get(op)
        if fault is not None and fault["path"] in str(path):
            return fault
        return None

    def _raise(self, fault: dict, path: str) -> None:
        code = fault["errno"]
        raise OSError(code, os.strerror(code), path)

    def _open(self, path, mode="rb", **kwargs):
        fault = self._check("open", path)
        if fault:
            self._raise(fault, path)
        if "r" in mode:
            fault = self._check("read", path)
            if fault:
                self._raise(fault, path)
        f = super()._open(path, mode, **kwargs)
        fault = self._check("write", path) if "w" in mode else None
        if fault:
            written = [0]
            real_write = f.write

            def write(data):
                room = fault["after"] - written[0]
                if len(data) > room:
                    real_write(bytes(memoryview(data)[:max(room, 0)]))
                    written[0] += max(room, 0)
                    self._raise(fault, path)
                written[0] += len(data)
                return real_write(data)

            f.write = write
        return f

    def cat_file(self, path, start=None, end=None, **kwargs):
        fault = self._check("read", path)
        if fault:
            self._raise(fault, path)
        return super().cat_file(path, start=start, end=end, **kwargs)

    def info(self, path, **kwargs):
        fault = self._check("info", path)
        if fault:
            self._raise(fault, path)
        return super().info(path, **kwargs)

    def mv(self, path1, path2, **kwargs):
        fault = self._check("mv", path2)
        if fault:
            self._raise(fault, path2)
        return super().mv(path1, path2, **kwargs)


fsspec.register_implementation("faulty", FaultyFileSystem, clobber=True)


def leftover_temporaries(root: Path) -> list[Path]:
    """Temporary files under ``root``."""
    return [p for p in root.rglob(".*.tmp")]


def run_python(code: str, *, user: int | None = None, cwd: Path | None = None,
               env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports this ferroflow (as ``user``)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT), full_env.get("PYTHONPATH", "")])
    full_env["PYTHONDONTWRITEBYTECODE"] = "1"
    full_env.update(env or {})
    kwargs: dict[str, Any] = {}
    if user is not None:
        kwargs.update(user=user, group=user, extra_groups=[])
        full_env["HOME"] = "/tmp"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=120, **kwargs)


def call_in_child(fn, *, user: int | None = None) -> Any:
    """Call ``fn()`` in a forked child process (as ``user``, when given) and return what
    it returns (pickled back through a pipe); raise ``RuntimeError`` if the child failed.

    Forking keeps every module already imported, so this works where a fresh
    interpreter could not start (an interpreter under a directory ``user`` cannot read).
    """
    import pickle
    import traceback

    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        status = 0
        try:
            os.close(read_fd)
            if user is not None:
                os.setgroups([])
                os.setgid(user)
                os.setuid(user)
            try:
                payload = pickle.dumps(("ok", fn()))
            except BaseException:
                payload = pickle.dumps(("error", traceback.format_exc()))
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(payload)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if not data:
        raise RuntimeError(f"child process failed with status {status}")
    kind, value = pickle.loads(data)
    if kind == "error":
        raise RuntimeError(f"child process raised:\n{value}")
    return value



class AsyncDictFileSystem(AsyncFileSystem):
    """A minimal asynchronous filesystem over a dict, standing in for s3fs/gcsfs:
    ``pipe`` and ``cat`` run their items concurrently. ``fail_paths`` holds substrings
    of paths whose upload fails with ENOSPC."""

    protocol = "adict"
    cachable = False
    files: dict = {}
    fail_paths: set = set()
    pipe_calls: list = []

    @classmethod
    def _strip_protocol(cls, path):
        if isinstance(path, str) and path.startswith("adict://"):
            path = path[len("adict://"):]
        return path.rstrip("/")

    async def _pipe_file(self, path, value, mode="overwrite", **kwargs):
        if any(s in path for s in self.fail_paths):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
        self.files[path] = bytes(value)

    async def _pipe(self, path, value=None, batch_size=None, **kwargs):
        self.pipe_calls.append(sorted(path))
        return await super()._pipe(path, value, batch_size=batch_size, **kwargs)

    async def _cat_file(self, path, start=None, end=None, **kwargs):
        try:
            data = self.files[path]
        except KeyError:
            raise FileNotFoundError(path) from None
        return data[start:end]

    async def _info(self, path, **kwargs):
        if path in self.files:
            return {"name": path, "size": len(self.files[path]), "type": "file"}
        raise FileNotFoundError(path)

    async def _rm_file(self, path, **kwargs):
        self.files.pop(path)

    async def _makedirs(self, path, exist_ok=False):
        pass


fsspec.register_implementation("adict", AsyncDictFileSystem, clobber=True)
