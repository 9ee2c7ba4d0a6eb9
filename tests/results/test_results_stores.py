"""Result stores: the store contract on every built-in store, atomic writes under
injected faults (a failing filesystem, a full disk, a read-only directory, a process
killed mid-write), corrupt and truncated records."""

from __future__ import annotations

import errno
import logging
import os
import pickle
import shutil
import signal
import tempfile
import textwrap
import threading
from pathlib import Path

import cloudpickle
import pytest
from results_helpers import AsyncDictFileSystem, call_in_child, leftover_temporaries, run_python

from ferroflow.results import (
    FsspecResultStore,
    MemoryResultStore,
    ResultCorrupt,
    ResultLocationError,
    ResultNotFound,
    ResultStoreError,
    record,
)

# -- the contract, on every store ---------------------------------------------------


def test_round_trip(any_store):
    any_store.write("a/b/c.pkl", b"hello")
    assert any_store.read("a/b/c.pkl") == b"hello"
    assert any_store.exists("a/b/c.pkl")
    assert not any_store.exists("a/b/other.pkl")


def test_round_trip_of_empty_and_large_payloads(any_store):
    big = os.urandom(3 * 1024 * 1024 + 7)
    any_store.write("empty", b"")
    any_store.write("big", bytearray(big))
    any_store.write("view", memoryview(big)[10:20])
    assert any_store.read("empty") == b""
    assert any_store.read("big") == big
    assert any_store.read("view") == big[10:20]


def test_write_replaces(any_store):
    any_store.write("x", b"first")
    any_store.write("x", b"second, longer")
    assert any_store.read("x") == b"second, longer"


def test_missing_record_is_result_not_found(any_store):
    with pytest.raises(ResultNotFound) as info:
        any_store.read("nowhere/x.pkl")
    error = info.value
    assert error.location == "nowhere/x.pkl"
    assert error.url.endswith("nowhere/x.pkl") and error.url in str(error)
    assert error.store == any_store.name and repr(any_store.name) in str(error)
    assert error.errno == errno.ENOENT
    assert isinstance(error, ResultStoreError)


def test_delete(any_store):
    any_store.write("d/x", b"1")
    assert any_store.delete("d/x") is True
    assert not any_store.exists("d/x")
    assert any_store.delete("d/x") is False


@pytest.mark.parametrize("location", ["", "/abs", "a/../../etc/passwd", "..", "a//b", "a/./b",
                                      "a/", "nul\x00byte", 3])
def test_invalid_locations_are_refused(any_store, location):
    with pytest.raises(ResultLocationError, match="location"):
        any_store.write(location, b"x")


def test_write_many_and_read_many(any_store):
    items = [(f"m/{i}.pkl", str(i).encode()) for i in range(20)]
    assert any_store.write_many(items) == {}
    got = any_store.read_many([loc for loc, _ in items] + ["m/missing.pkl"])
    assert got[:20] == [data for _, data in items]
    assert isinstance(got[20], ResultNotFound)


def test_write_many_reports_a_bad_location_in_place(any_store):
    errors = any_store.write_many([("ok/1", b"1"), ("../bad", b"2"), ("ok/3", b"3")])
    assert list(errors) == [1] and isinstance(errors[1], ResultLocationError)
    assert any_store.read_many(["ok/1", "ok/3"]) == [b"1", b"3"]


def test_stores_pickle(any_store):
    any_store.write("p/x", b"before")
    clone = pickle.loads(cloudpickle.dumps(any_store))
    assert clone.read("p/x") == b"before"
    assert type(clone) is type(any_store)


def test_concurrent_writers_and_readers_never_see_a_partial_record(framed_store):
    payloads = [bytes([i]) * (50_000 + i) for i in range(8)]
    framed_store.write("shared", payloads[0])
    seen: list[bytes] = []
    failures: list[BaseException] = []
    stop = threading.Event()

    def writer(i):
        try:
            for _ in range(15):
                framed_store.write("shared", payloads[i])
        except BaseException as exc:
            failures.append(exc)

    def reader():
        try:
            while not stop.is_set():
                seen.append(framed_store.read("shared"))
        except BaseException as exc:
            failures.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert not failures
    assert seen and all(data in payloads for data in seen)
    assert framed_store.read("shared") in payloads


# -- the fsspec store: URLs ---------------------------------------------------------


def test_bare_and_relative_paths_mean_local_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = FsspecResultStore("rel/results")
    assert store.base_url == f"file://{tmp_path}/rel/results"
    store.write("x/y.bin", b"data")
    assert (tmp_path / "rel" / "results" / "x" / "y.bin").is_file()
    assert store.url("x/y.bin") == f"file://{tmp_path}/rel/results/x/y.bin"
    # a pickled store writes to the same absolute place from any working directory
    monkeypatch.chdir(tmp_path / "rel")
    assert pickle.loads(pickle.dumps(store)).read("x/y.bin") == b"data"


def test_file_url_and_memory_url(tmp_path, memory_url):
    local = FsspecResultStore(f"file://{tmp_path}")
    local.write("k", b"1")
    assert (tmp_path / "k").read_bytes()[:4] == record.MAGIC
    mem = FsspecResultStore(memory_url)
    mem.write("k", b"2")
    assert mem.url("k") == memory_url.replace("memory://", "memory:///") + "/k"
    assert mem.read("k") == b"2" and local.read("k") == b"1"


def test_constructor_errors(tmp_path):
    with pytest.raises(ValueError, match="base_url"):
        FsspecResultStore("")
    with pytest.raises(ValueError, match="write_mode"):
        FsspecResultStore(str(tmp_path), write_mode="copy")
    with pytest.raises((ImportError, ValueError), match="nosuchproto|Protocol not known"):
        FsspecResultStore("nosuchproto://bucket/x")


def test_put_mode_round_trip(memory_url):
    store = FsspecResultStore(memory_url, write_mode="put")
    assert store.write_mode == "put"
    store.write("deep/er/x", b"put")
    assert store.read("deep/er/x") == b"put"
    assert store.write_many([("a", b"1"), ("b", b"2")]) == {}
    assert store.read_many(["a", "b"]) == [b"1", b"2"]


def test_object_store_protocols_write_in_place():
    from ferroflow.results.filesystem import OBJECT_STORE_PROTOCOLS

    assert {"s3", "gs", "az"} <= OBJECT_STORE_PROTOCOLS


# -- atomicity under injected faults: a fault-injecting fsspec filesystem ---------------


@pytest.mark.parametrize("op", ["open", "write", "mv"])
def test_failed_write_leaves_nothing(faulty, op):
    store = FsspecResultStore("faulty://base")
    faulty.fail(op, errno.EIO, after=40)
    with pytest.raises(ResultStoreError) as info:
        store.write("t/0.pkl", b"x" * 1000)
    error = info.value
    assert error.errno == errno.EIO and "EIO" in str(error)
    assert error.url == "faulty:///base/t/0.pkl" and error.url in str(error)
    assert error.store == "fsspec" and "'fsspec'" in str(error)
    assert error.operation == "write" and error.location == "t/0.pkl"
    assert not [p for p in faulty.store if p.endswith("0.pkl") or p.endswith(".tmp")]


def test_failed_write_keeps_the_previous_record(faulty):
    store = FsspecResultStore("faulty://base")
    store.write("t/0.pkl", b"old")
    faulty.fail("write", errno.ENOSPC, after=10)
    with pytest.raises(ResultStoreError, match="ENOSPC"):
        store.write("t/0.pkl", b"new" * 100)
    faulty.faults.clear()
    assert store.read("t/0.pkl") == b"old"
    assert not [p for p in faulty.store if p.endswith(".tmp")]


def test_enospc_from_a_fault_injecting_filesystem(faulty):
    store = FsspecResultStore("faulty://results")
    faulty.fail("write", errno.ENOSPC, after=1024 * 1024 // 2)
    with pytest.raises(ResultStoreError) as info:
        store.write("etl/load/7.pkl", os.urandom(1024 * 1024))
    message = str(info.value.with_task("load", 7))
    assert info.value.errno == errno.ENOSPC
    assert "[Errno 28 ENOSPC] No space left on device" in message
    assert "faulty:///results/etl/load/7.pkl" in message
    assert "result store 'fsspec'" in message
    assert message.endswith("(task 'load', map index 7)")
    assert not [p for p in faulty.store if "etl/load" in p]


def test_write_many_reports_each_failure_and_keeps_the_rest(faulty):
    store = FsspecResultStore("faulty://base")
    faulty.fail("write", errno.ENOSPC, path_contains="3.pkl")
    errors = store.write_many([(f"m/{i}.pkl", b"v%d" % i) for i in range(6)])
    assert list(errors) == [3]
    assert errors[3].errno == errno.ENOSPC and errors[3].location == "m/3.pkl"
    faulty.faults.clear()
    assert [store.exists(f"m/{i}.pkl") for i in range(6)] == [True] * 3 + [False] + [True] * 2


def test_read_and_exists_errors_name_errno_and_url(faulty):
    store = FsspecResultStore("faulty://base")
    store.write("x", b"1")
    faulty.fail("read", errno.EACCES)
    with pytest.raises(ResultStoreError) as info:
        store.read("x")
    assert info.value.errno == errno.EACCES and info.value.operation == "read"
    assert "Could not read result 'faulty:///base/x'" in str(info.value)
    faulty.fail("info", errno.ETIMEDOUT)
    with pytest.raises(ResultStoreError, match="ETIMEDOUT") as info:
        store.exists("x")
    assert info.value.operation == "check"


def test_store_errors_pickle_with_their_attributes(faulty):
    store = FsspecResultStore("faulty://base")
    faulty.fail("write", errno.ENOSPC)
    with pytest.raises(ResultStoreError) as info:
        store.write("x", b"1")
    clone = pickle.loads(pickle.dumps(info.value.with_task("t", 2)))
    assert type(clone) is ResultStoreError
    assert (clone.errno, clone.url, clone.store, clone.task_name, clone.map_index) == \
        (errno.ENOSPC, "faulty:///base/x", "fsspec", "t", 2)
    assert str(clone) == str(info.value)


# -- atomicity under injected faults: local files -----------------------------------


def _fail_writev_halfway(code):
    real = os.writev

    def writev(fd, buffers):
        total = sum(memoryview(b).nbytes for b in buffers)
        data = b"".join(bytes(b) for b in buffers)
        os.write(fd, data[: total // 2])
        raise OSError(code, os.strerror(code))

    return real, writev


def test_local_enospc_mid_write_leaves_no_file(tmp_path, monkeypatch):
    store = FsspecResultStore(str(tmp_path))
    store.write("run/1.pkl", b"previous")
    _, writev = _fail_writev_halfway(errno.ENOSPC)
    monkeypatch.setattr(os, "writev", writev)
    with pytest.raises(ResultStoreError) as info:
        store.write("run/0.pkl", b"z" * 100_000)
    monkeypatch.undo()
    error = info.value
    assert error.errno == errno.ENOSPC and "ENOSPC" in str(error)
    assert str(tmp_path / "run" / "0.pkl") in str(error)
    assert not (tmp_path / "run" / "0.pkl").exists()
    assert leftover_temporaries(tmp_path) == []
    assert store.read("run/1.pkl") == b"previous"


def test_local_rename_failure_leaves_no_file(tmp_path, monkeypatch):
    store = FsspecResultStore(str(tmp_path))

    def replace(src, dst):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(ResultStoreError, match="EXDEV"):
        store.write("a.pkl", b"data")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_local_interrupt_mid_write_removes_the_temporary_and_propagates(tmp_path, monkeypatch):
    store = FsspecResultStore(str(tmp_path))

    def writev(fd, buffers):
        os.write(fd, b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "writev", writev)
    with pytest.raises(KeyboardInterrupt):
        store.write("a.pkl", b"data" * 100)
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_local_file_size_limit_mid_write(tmp_path):
    # A real kernel error in the middle of a write: RLIMIT_FSIZE gives EFBIG.
    code = textwrap.dedent(f"""
        import json, resource, signal
        from ferroflow.results import FsspecResultStore, ResultStoreError
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        store = FsspecResultStore({str(tmp_path)!r})
        store.write("small.pkl", b"ok")
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, resource.RLIM_INFINITY))
        try:
            store.write("big/0.pkl", b"x" * (1024 * 1024))
        except ResultStoreError as exc:
            print(json.dumps({{"errno": exc.errno, "message": str(exc)}}))
    """)
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr
    import json

    out = json.loads(proc.stdout)
    assert out["errno"] == errno.EFBIG and "EFBIG" in out["message"]
    assert str(tmp_path / "big" / "0.pkl") in out["message"]
    assert not (tmp_path / "big" / "0.pkl").exists()
    assert leftover_temporaries(tmp_path) == []
    assert FsspecResultStore(str(tmp_path)).read("small.pkl") == b"ok"


def _write_into_read_only(base: str) -> dict:
    store = FsspecResultStore(base)
    out: dict = {"read": store.read("existing.pkl").decode()}
    for location in ("new.pkl", "sub/new.pkl", "existing.pkl"):
        try:
            store.write(location, b"data")
            out[location] = None
        except ResultStoreError as exc:
            out[location] = [exc.errno, str(exc)]
    return out


def test_read_only_directory(tmp_path):
    # chmod 0555 stops everyone but root; as root, the writes run as user "nobody".
    root = os.geteuid() == 0
    parent = Path(tempfile.mkdtemp(prefix="ferroflow-ro-")) if root else tmp_path
    base = parent / "results"
    try:
        os.chmod(parent, 0o755)
        FsspecResultStore(str(base)).write("existing.pkl", b"kept")
        os.chmod(base, 0o555)
        out = call_in_child(lambda: _write_into_read_only(str(base)),
                            user=65534 if root else None)
        assert out["read"] == "kept"
        for location in ("new.pkl", "sub/new.pkl", "existing.pkl"):
            code, message = out[location]
            assert code == errno.EACCES, out
            assert "EACCES" in message and "result store 'fsspec'" in message
            assert f"file://{base}/{location}" in message
        assert sorted(p.name for p in base.iterdir()) == ["existing.pkl"]
        assert FsspecResultStore(str(base)).read("existing.pkl") == b"kept"
    finally:
        for p in (parent, base):
            if p.exists():
                os.chmod(p, 0o755)
        if root:
            shutil.rmtree(parent)


def test_a_directory_in_the_way(tmp_path):
    store = FsspecResultStore(str(tmp_path))
    (tmp_path / "taken.pkl").mkdir()
    with pytest.raises(ResultStoreError) as info:
        store.write("taken.pkl", b"x")
    assert info.value.errno in (errno.EISDIR, errno.ENOTEMPTY, errno.EEXIST)
    assert not store.exists("taken.pkl")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ResultStoreError, match="ENOTDIR|EEXIST"):
        store.write("file/under.pkl", b"x")
    with pytest.raises(ResultNotFound):
        store.read("file/under.pkl")
    assert leftover_temporaries(tmp_path) == []


def test_process_killed_mid_write(tmp_path):
    # A2 "inside the result write (after N bytes)": the process dies with a half-written
    # temporary file. Nothing is read as a result; the previous record is intact.
    code = textwrap.dedent(f"""
        import os, signal
        from ferroflow.results import FsspecResultStore
        store = FsspecResultStore({str(tmp_path)!r})
        store.write("r/kept.pkl", b"old record")

        def writev(fd, buffers):
            os.write(fd, bytes(buffers[0]) + b"half of the payload")
            os.kill(os.getpid(), signal.SIGKILL)

        os.writev = writev
        store.write("r/new.pkl", b"x" * 10_000)
        store.write("r/kept.pkl", b"never")
    """)
    proc = run_python(code)
    assert proc.returncode == -signal.SIGKILL
    store = FsspecResultStore(str(tmp_path))
    assert len(leftover_temporaries(tmp_path)) == 1
    assert not store.exists("r/new.pkl")
    with pytest.raises(ResultNotFound):
        store.read("r/new.pkl")
    assert store.read("r/kept.pkl") == b"old record"
    assert store.remove_temporary_files() == 1
    assert leftover_temporaries(tmp_path) == []
    assert store.read("r/kept.pkl") == b"old record"


def test_remove_temporary_files_on_a_prefix(faulty):
    store = FsspecResultStore("faulty://base")
    store.write("keep/x", b"1")
    faulty.store["/base/a/.x.1-abc-0.tmp"] = faulty.store["/base/keep/x"]
    faulty.store["/base/b/.y.1-abc-1.tmp"] = faulty.store["/base/keep/x"]
    assert store.remove_temporary_files("a/") == 1
    assert store.remove_temporary_files() == 1
    assert store.read("keep/x") == b"1"


def test_fsync_mode_writes_durably(tmp_path):
    store = FsspecResultStore(str(tmp_path), fsync=True)
    store.write("d/x", b"durable")
    assert store.read("d/x") == b"durable"
    assert pickle.loads(pickle.dumps(store)).fsync is True


# -- corrupt and truncated records ----------------------------------------------------


def _raw(store, location):
    if store.protocol == "file":
        return Path(store.path(location)).read_bytes()
    return store.fs.cat_file(store.path(location))


def _put_raw(store, location, data):
    if store.protocol == "file":
        Path(store.path(location)).write_bytes(data)
    else:
        store.fs.pipe_file(store.path(location), data)


@pytest.mark.parametrize("keep", [0, 5, 31, 32, 40, 1031])
def test_truncated_records_are_corrupt(framed_store, keep, caplog):
    framed_store.write("t/0.pkl", b"p" * 1000)
    _put_raw(framed_store, "t/0.pkl", _raw(framed_store, "t/0.pkl")[:keep])
    with pytest.raises(ResultCorrupt) as info:
        framed_store.read("t/0.pkl")
    assert "truncated" in str(info.value)
    assert info.value.location == "t/0.pkl"
    assert framed_store.url("t/0.pkl") in str(info.value)
    with caplog.at_level(logging.WARNING, logger="ferroflow.results"):
        assert framed_store.exists("t/0.pkl") is False
    assert "treated as absent" in caplog.text


def test_every_flipped_header_byte_is_detected(framed_store):
    framed_store.write("h", b"payload bytes")
    good = _raw(framed_store, "h")
    for offset in range(record.HEADER_SIZE):
        bad = bytearray(good)
        bad[offset] ^= 0x01
        _put_raw(framed_store, "h", bytes(bad))
        with pytest.raises(ResultCorrupt):
            framed_store.read("h")


def test_flipped_payload_bit_is_a_checksum_mismatch(framed_store):
    framed_store.write("p", b"\x00" * 100)
    bad = bytearray(_raw(framed_store, "p"))
    bad[record.HEADER_SIZE + 50] ^= 0x80
    _put_raw(framed_store, "p", bytes(bad))
    with pytest.raises(ResultCorrupt, match="checksum mismatch"):
        framed_store.read("p")
    # exists() reads only the header: the damage is found by read()
    assert framed_store.exists("p") is True


def test_trailing_bytes_and_foreign_files_are_corrupt(framed_store):
    framed_store.write("x", b"abc")
    _put_raw(framed_store, "x", _raw(framed_store, "x") + b"more")
    with pytest.raises(ResultCorrupt, match="4 unexpected bytes"):
        framed_store.read("x")
    _put_raw(framed_store, "y", pickle.dumps({"a": 1}) * 20)
    with pytest.raises(ResultCorrupt, match="not a ferroflow result record"):
        framed_store.read("y")
    assert not framed_store.exists("y")


def test_corrupt_error_names_the_store_and_pickles(framed_store):
    framed_store.write("c", b"abc")
    _put_raw(framed_store, "c", b"")
    with pytest.raises(ResultCorrupt) as info:
        framed_store.read("c")
    error = pickle.loads(pickle.dumps(info.value))
    assert isinstance(error, ResultCorrupt) and error.reason.startswith("truncated")
    assert "result store 'fsspec'" in str(error) and error.url == framed_store.url("c")


# -- the record format ----------------------------------------------------------------


def test_record_format_layout():
    payload = b"some payload"
    blob = record.encode(payload)
    assert len(blob) == record.HEADER_SIZE + len(payload)
    assert blob[:4] == b"FFRS" and blob[4] == 1 and blob[5] == 1 and blob[6:8] == b"\0\0"
    assert int.from_bytes(blob[8:16], "little") == len(payload)
    import hashlib

    assert blob[16:32] == hashlib.blake2b(payload, digest_size=16).digest()
    assert record.decode(blob) == payload
    with pytest.raises(record.RecordError, match="version 2"):
        record.decode(blob[:4] + b"\x02" + blob[5:])


def test_memory_store_shares_records_when_asked():
    records: dict = {}
    a, b = MemoryResultStore(records), MemoryResultStore(records)
    a.write("x", b"1")
    assert b.read("x") == b"1"
    assert "1 records" in repr(a)


# -- object stores (an asynchronous filesystem standing in for s3fs) -------------------


@pytest.fixture
def adict():
    AsyncDictFileSystem.files.clear()
    AsyncDictFileSystem.fail_paths.clear()
    AsyncDictFileSystem.pipe_calls.clear()
    yield AsyncDictFileSystem
    AsyncDictFileSystem.files.clear()
    AsyncDictFileSystem.fail_paths.clear()


def test_object_store_batches_are_concurrent(adict):
    store = FsspecResultStore("adict://bucket/prefix", write_mode="put")
    items = [(f"m/{i}", b"v%d" % i) for i in range(10)]
    assert store.write_many(items) == {}
    assert len(adict.pipe_calls) == 1 and len(adict.pipe_calls[0]) == 10
    assert not [p for p in adict.files if p.endswith(".tmp")]  # written in place
    assert store.read_many([loc for loc, _ in items]) == [data for _, data in items]
    assert store.exists("m/3") and not store.exists("m/99")


def test_object_store_batch_failure_is_attributed_per_record(adict):
    store = FsspecResultStore("adict://bucket", write_mode="put")
    store.write("m/3", b"previous")
    adict.fail_paths.add("m/3")
    errors = store.write_many([(f"m/{i}", b"new") for i in range(5)])
    assert list(errors) == [3] and errors[3].errno == errno.ENOSPC
    assert errors[3].url == "adict://bucket/m/3"
    adict.fail_paths.clear()
    assert store.read("m/3") == b"previous"  # a failed upload leaves the old object
    assert store.read_many(["m/0", "m/4"]) == [b"new", b"new"]


def test_object_store_read_many_reports_missing_and_corrupt(adict):
    store = FsspecResultStore("adict://bucket", write_mode="put")
    store.write("ok", b"fine")
    adict.files["bucket/bad"] = b"FFRS garbage"
    out = store.read_many(["ok", "missing", "bad"])
    assert out[0] == b"fine"
    assert isinstance(out[1], ResultNotFound) and out[1].url == "adict://bucket/missing"
    assert isinstance(out[2], ResultCorrupt)


@pytest.mark.parametrize("kind", ["file", "fsspec-memory"])
def test_an_unframed_store_keeps_the_bare_bytes(kind, tmp_path, memory_url):
    import fsspec

    base = f"file://{tmp_path / 'bare'}" if kind == "file" else memory_url
    store = FsspecResultStore(base, framed=False)
    store.write("a/x.pkl", b"payload")
    assert store.read("a/x.pkl") == b"payload" and store.exists("a/x.pkl")
    assert not store.exists("a/missing.pkl")
    fs, root = fsspec.core.url_to_fs(base)
    assert fs.cat_file(f"{root.rstrip('/')}/a/x.pkl") == b"payload"  # no header, no checksum
    assert store.write_many([("m/1", b"1"), ("m/2", b"2")]) == {}
    got = store.read_many(["m/1", "m/2", "m/3"])
    assert got[:2] == [b"1", b"2"] and isinstance(got[2], ResultNotFound)
    assert pickle.loads(pickle.dumps(store)).framed is False


def test_a_password_in_a_store_url_never_reaches_a_message():
    # Store URLs may carry credentials (scheme://user:password@host/...); the errors,
    # locations in messages and reprs that quote them show *** instead.
    from ferroflow.results.errors import without_password
    from ferroflow.results.filesystem import FsspecResultStore

    assert without_password("https://alice:s3cret@host/x") == "https://alice:***@host/x"
    assert without_password("simplecache::ftp://bob:p@ss:w0rd@h:21/d") == "simplecache::ftp://bob:***@h:21/d"
    assert without_password("s3://bucket/key:with:colons@2x") == "s3://bucket/key:with:colons@2x"
    assert without_password("/data/results/a.pkl") == "/data/results/a.pkl"
    store = FsspecResultStore("simplecache::memory://alice:s3cret@bucket/results")
    with pytest.raises(ResultNotFound) as info:
        store.read("nothere.pkl")
    for text in (str(info.value), info.value.url, repr(store), store.url("a.pkl")):
        assert "s3cret" not in text and "alice:***@bucket" in text, text
