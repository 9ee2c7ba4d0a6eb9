"""The result store conformance kit: what every result store (``register_result_stores``)
must get right.

Subclass :class:`ResultStoreConformance` in a test module (its name must start with
``Test``) and say how to build your store on a base the kit gives it::

    from ferroflow.testing.result_stores import ResultStoreConformance

    class TestDirectoryStore(ResultStoreConformance):
        store_factory = DirectoryStore          # called as DirectoryStore(base_url=..., **store_options)
        registered_name = "directory"           # optional: also built through Result(...)
        store_options = {"fsync": True}         # optional

or ``TestDirectory = result_store_conformance(DirectoryStore)``.

A store's factory is called with keywords only, the way ``Result(store, base=...,
store_options={...})`` calls it: ``base`` arrives as ``base_url=`` and every
``store_options`` entry as its own keyword. The kit gives ``base_url=`` a new
directory per test (:meth:`ResultStoreConformance.base_url`: override it for a store
that is not on local files, or set :attr:`takes_base_url` to False for one that has no
base, such as ``memory``).

The tests: ``write``/``read``/``exists`` round trip (empty, small and 1 MB records;
``bytes``, ``bytearray`` and ``memoryview`` in, ``bytes`` out; nested locations);
a write replaces the record; reading an unknown location raises
:class:`~ferroflow.results.ResultNotFound`; invalid locations (absolute, ``..``, empty
segments) raise :class:`~ferroflow.results.ResultLocationError`; ``write_many`` and
``read_many`` give per-record errors in place without raising; writers racing on one
location from several threads never show a reader a partial record; the store pickles
and a copy reads what the original wrote; with :attr:`shared_between_processes`,
records written in other processes are read here. Each test bounds its own time and
uses a private ``FERROFLOW_HOME`` (:mod:`ferroflow.testing.kit`).
"""

from __future__ import annotations

import multiprocessing
import pickle
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from ferroflow.results.errors import ResultError, ResultLocationError, ResultNotFound
from ferroflow.testing.kit import ConformanceKit

__all__ = ["INVALID_LOCATIONS", "ResultStoreConformance", "result_store_conformance"]

#: Locations every store must refuse with ResultLocationError.
INVALID_LOCATIONS = ["/absolute/x.pkl", "../outside.pkl", "a/../../b.pkl", "a//b.pkl", "./a.pkl", ""]


def _write_in_child(payload: bytes, locations: list[str]) -> None:
    store = cloudpickle.loads(payload)
    for location in locations:
        store.write(location, f"from another process: {location}".encode())


class ResultStoreConformance(ConformanceKit):
    """Tests every result store must pass; see the module docstring."""

    #: Called with keywords (``base_url=`` and :attr:`store_options`): returns a store. Required.
    store_factory: Callable[..., Any] | None = None
    #: More keywords for the factory, as ``Result(store_options=...)`` gives them.
    store_options: Mapping[str, Any] = {}
    #: Whether the factory takes ``base_url=`` (a store with no base: False).
    takes_base_url: bool = True
    #: The name it is registered under through ``register_result_stores``; when set,
    #: ``Result(name, base=..., store_options=...)`` must build a working one.
    registered_name: str | None = None
    #: Whether a copy of the store in another process reads and writes the same records.
    shared_between_processes: bool = True

    @pytest.fixture(autouse=True)
    def _store_base(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path

    def base_url(self) -> str:
        """The base this test's store is built on: a new local directory by default."""
        path = self.tmp_path / "store"
        path.mkdir(exist_ok=True)
        return path.as_uri()

    def factory_options(self) -> dict[str, Any]:
        options = dict(self.store_options)
        if self.takes_base_url:
            options["base_url"] = self.base_url()
        return options

    def make_store(self) -> Any:
        factory = type(self).store_factory
        if factory is None:
            raise TypeError(f"{type(self).__name__} must set store_factory (a callable returning a store)")
        return factory(**self.factory_options())

    # ----- the tests ----------------------------------------------------------------

    def test_round_trip(self):
        store = self.make_store()
        records = {
            "empty.bin": b"",
            "small.pkl": b"\x00\x01small\xff",
            "nested/deeper/still/big.bin": bytes(range(256)) * 4096,
            "from-bytearray.bin": bytearray(b"bytearray in"),
            "from-memoryview.bin": memoryview(b"memoryview in"),
        }
        for location, data in records.items():
            assert store.exists(location) is False, f"{location} exists before it was written"
            store.write(location, data)
        for location, data in records.items():
            assert store.exists(location) is True, f"{location} does not exist after its write"
            back = store.read(location)
            assert type(back) is bytes, f"read() must return bytes, got {type(back).__name__}"
            assert back == bytes(data), f"{location} did not round trip"

    def test_a_write_replaces_the_record(self):
        store = self.make_store()
        store.write("r/x.pkl", b"first, and longer than the second")
        store.write("r/x.pkl", b"second")
        assert store.read("r/x.pkl") == b"second"

    def test_unknown_locations_raise_result_not_found(self):
        store = self.make_store()
        for location in ("never-written.pkl", "no/such/dir/x.pkl"):
            with pytest.raises(ResultNotFound) as caught:
                store.read(location)
            assert location in str(caught.value) or location in str(getattr(caught.value, "location", "")), (
                f"the error must name the location: {caught.value}")
            assert store.exists(location) is False

    def test_invalid_locations_are_refused(self):
        store = self.make_store()
        for location in INVALID_LOCATIONS:
            with pytest.raises(ResultLocationError):
                store.write(location, b"must not be written")
            with pytest.raises(ResultError):
                store.read(location)

    def test_batches_give_errors_in_place(self):
        store = self.make_store()
        errors = store.write_many([("b/0.pkl", b"zero"), ("../bad.pkl", b"x"), ("b/2.pkl", b"two")])
        assert set(errors) == {1} and isinstance(errors[1], ResultLocationError), errors
        out = store.read_many(["b/0.pkl", "b/missing.pkl", "b/2.pkl"])
        assert out[0] == b"zero" and out[2] == b"two"
        assert isinstance(out[1], ResultNotFound), out[1]

    def test_concurrent_writers_never_show_a_partial_record(self):
        store = self.make_store()
        location = "race/value.bin"
        payloads = [bytes([i]) * 200_000 for i in range(8)]
        stop = threading.Event()
        seen_bad: list[str] = []

        def write(payload: bytes) -> None:
            for _ in range(5):
                store.write(location, payload)

        def read() -> None:
            while not stop.is_set():
                try:
                    data = store.read(location)
                except ResultNotFound:
                    continue
                if data not in payloads:
                    seen_bad.append(f"{len(data)} bytes, starting {data[:4]!r}")

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        writers = [threading.Thread(target=write, args=(p,), daemon=True) for p in payloads]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        stop.set()
        reader.join()
        assert not seen_bad, f"a reader saw partial or mixed records: {seen_bad[:3]}"
        assert store.read(location) in payloads

    def test_pickles(self):
        store = self.make_store()
        store.write("p/x.pkl", b"before pickling")
        for copy in (pickle.loads(pickle.dumps(store)), cloudpickle.loads(cloudpickle.dumps(store))):
            assert copy.read("p/x.pkl") == b"before pickling"
            copy.write("p/y.pkl", b"written by a copy")
            assert copy.read("p/y.pkl") == b"written by a copy"

    def test_records_written_in_other_processes(self):
        if not self.shared_between_processes:
            pytest.skip("shared_between_processes is False: copies of this store do not share records")
        store = self.make_store()
        locations = [f"proc/{i}.bin" for i in range(6)]
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(2, mp_context=context) as pool:
            futures = [pool.submit(_write_in_child, cloudpickle.dumps(store), locations[i::2]) for i in range(2)]
            for future in futures:
                future.result()
        for location in locations:
            assert store.read(location) == f"from another process: {location}".encode()

    def test_built_through_result(self):
        if self.registered_name is None:
            pytest.skip("registered_name is not set")
        from ferroflow.results import Result

        options = self.factory_options()
        base = options.pop("base_url", None)
        result = Result(self.registered_name, base=base, store_options=options)
        store = result.store
        store.write("via/result.pkl", b"through Result")
        assert store.read("via/result.pkl") == b"through Result"
        assert type(store) is type(self.make_store())


def result_store_conformance(factory: Callable[..., Any], name: str | None = None, **attributes: Any) -> type:
    """The kit as a class bound to ``factory`` (and any class attributes, e.g.
    ``store_options={"fsync": True}``): ``TestMine = result_store_conformance(Mine)``."""
    label = name or getattr(factory, "__name__", "ResultStore").replace("<lambda>", "ResultStore")
    return type(f"Test{label}Conformance", (ResultStoreConformance,),
                {"store_factory": staticmethod(factory), **attributes})
