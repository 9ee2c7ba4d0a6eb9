"""Fixtures for result tests: stores of every built-in kind, the fault-injecting
``faulty://`` filesystem, fresh ``memory://`` URLs."""

from __future__ import annotations

import uuid

import fsspec
import pytest
from results_helpers import FaultyFileSystem

from ferroflow.results import FsspecResultStore, MemoryResultStore


@pytest.fixture
def faulty():
    """The :class:`FaultyFileSystem` class, emptied and with no fault, then cleaned."""
    FaultyFileSystem.reset()
    yield FaultyFileSystem
    FaultyFileSystem.reset()


@pytest.fixture
def memory_url():
    """A fresh ``memory://`` base URL, removed afterwards."""
    url = f"memory://ferroflow-tests/{uuid.uuid4().hex}"
    yield url
    fs = fsspec.filesystem("memory")
    path = url[len("memory://"):]
    if fs.exists(path):
        fs.rm(path, recursive=True)


@pytest.fixture(params=["memory", "file", "fsspec-memory"])
def any_store(request, tmp_path, memory_url):
    """Each built-in store kind: the dict store, a local directory, fsspec ``memory://``."""
    if request.param == "memory":
        return MemoryResultStore()
    if request.param == "file":
        return FsspecResultStore(f"file://{tmp_path / 'results'}")
    return FsspecResultStore(memory_url)


@pytest.fixture(params=["file", "fsspec-memory"])
def framed_store(request, tmp_path, memory_url):
    """Each store that keeps framed records: a local directory and fsspec ``memory://``."""
    if request.param == "file":
        return FsspecResultStore(str(tmp_path / "results"))
    return FsspecResultStore(memory_url)
