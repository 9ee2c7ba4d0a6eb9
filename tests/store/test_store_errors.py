"""A run store that cannot be opened raises StateStoreError naming the file and the OS
error; one that cannot be written for a while keeps its records, retries them, and says
so; nothing is lost silently (RELIABILITY.md C4; issue 8, fault 5)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from ferroflow import _core
from ferroflow.errors import FerroflowError
from ferroflow.store import SQLiteRunStore, StateStoreError

S, F = _core.SUCCESS, _core.FAILED


def sqlite_error(message: str, code: int, name: str) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError(message)
    exc.sqlite_errorcode = code
    exc.sqlite_errorname = name
    return exc


class FaultyConnection:
    """Wraps a sqlite3 connection; ``plan`` says which statements fail and how."""

    def __init__(self, conn: sqlite3.Connection, plan: dict):
        self._conn = conn
        self._plan = plan

    def _maybe_fail(self, sql: str) -> None:
        verb = sql.split(None, 1)[0].upper()
        if self._plan.get("fail", 0) > 0 and verb in self._plan["verbs"]:
            self._plan["fail"] -= 1
            raise self._plan["error"]

    def execute(self, sql: str, *args):
        self._maybe_fail(sql)
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, rows):
        self._maybe_fail(sql)
        return self._conn.executemany(sql, rows)

    def __getattr__(self, name):
        return getattr(self._conn, name)


class FaultyStore(SQLiteRunStore):
    """A store whose writer's connection fails as planned (the first connection, the
    store's reader opened by the constructor, never does)."""

    plan: dict = {}
    connections = 0

    def _connect(self):
        conn = super()._connect()
        self.connections += 1
        return conn if self.connections == 1 else FaultyConnection(conn, self.plan)


def test_state_store_error_is_a_ferroflow_error():
    err = StateStoreError("disk full", "/x/runs.db", "write", "sqlite: database or disk is full",
                          OSError(28, "No space left on device", "/x"), lost=3)
    assert isinstance(err, FerroflowError)
    assert str(err) == ("disk full: cannot write the run store /x/runs.db ([Errno 28] No space left on device: "
                        "'/x'; sqlite: database or disk is full); 3 queued record(s) were not written")
    assert (err.reason, err.path, err.lost, err.os_error.errno) == ("disk full", "/x/runs.db", 3, 28)


@pytest.mark.parametrize("verb", ["COMMIT", "INSERT"])
def test_disk_full_while_writing_keeps_the_records_until_they_can_be_written(tmp_path, verb, caplog):
    store = FaultyStore(tmp_path / "runs.db")
    store.plan = {"fail": 0, "verbs": {verb}, "error": sqlite_error("database or disk is full", 13, "SQLITE_FULL")}
    try:
        store.start_run("r", "etl", {}, [(0, "t", "t", True)])  # committed at once
        store.plan["fail"] = 10**9  # full until the test frees space
        store.record_report("r", [(0, range(4), bytes([S, F, S, F]))])  # recording calls do not raise
        store.record_logs("r", [(0, 1, 1.0, "INFO", "x", "one")])
        with pytest.raises(StateStoreError) as info:
            store.flush()
        err = info.value
        assert str(err).startswith(f"disk full: cannot write the run store {tmp_path / 'runs.db'}")
        assert "sqlite: database or disk is full" in str(err)
        assert (err.pending, err.lost) == (5, 0)  # 4 children and a log record wait; nothing lost
        assert "5 record(s) wait to be written (kept, and retried)" in str(err)
        # Nothing of the failed batch is half-written.
        assert store.task_states("r")[0].counts == {} and store.logs("r") == []
        # Said once, when it happened, naming the store and the error.
        (warning,) = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert warning.startswith(f"disk full: cannot write the run store {tmp_path / 'runs.db'}")
        assert "Runs go on: their records are kept in memory" in warning
        store.plan["fail"] = 0  # space was freed: the kept records are written
        store.flush()
        assert store.task_states("r")[0].counts == {"Success": 2, "Failed": 2}
        assert [line.message for line in store.logs("r")] == ["one"]
        assert store.integrity_check() == "ok"
        assert "written again after" in caplog.records[-1].getMessage()
    finally:
        store.close()


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_during_a_commit_goes_on_and_loses_no_record(tmp_path, interrupt):
    # Ctrl-C (or SIGTERM under ferroflow run) landing while the recording thread
    # commits: the interrupt reaches the engine, which cancels the run, and the batch
    # it interrupted is written by the flush that ends the run (it used to be taken for
    # a broken batch: the interrupt was swallowed and its records dropped).
    store = FaultyStore(tmp_path / "runs.db")
    store.plan = {"fail": 0, "verbs": {"INSERT"}, "error": interrupt()}
    try:
        store.start_run("r", "etl", {}, [(0, "t", "t", True)])
        store.record_report("r", [(0, range(4), bytes([S, F, S, F]))])
        store.plan["fail"] = 1
        with pytest.raises(interrupt):
            store.flush()
        store.end_run("r", "Cancelled")
        store.flush()  # no error: nothing was wrong with the batch
        assert store.task_states("r")[0].counts == {"Success": 2, "Failed": 2}
        assert store.get_run("r").state == "Cancelled"
        assert store.integrity_check() == "ok"
    finally:
        store.close()


def test_recording_calls_go_on_and_close_counts_what_was_never_written(tmp_path):
    store = FaultyStore(tmp_path / "runs.db")
    store.plan = {"fail": 10**9, "verbs": {"COMMIT"}, "error": sqlite_error("disk I/O error", 10, "SQLITE_IOERR")}
    store.start_run("r", "etl", {}, [])  # committed at once: fails, and is kept
    store.record_states("r", [(0, -1, S, 1, None, None)])
    store.record_logs("r", [(None, -1, 1.0, "INFO", "x", "y")])
    store.end_run("r", "Success")
    with pytest.raises(StateStoreError, match="I/O error") as info:
        store.flush()
    assert info.value.pending == 4
    with pytest.raises(StateStoreError, match="I/O error") as info:
        store.close()  # gives up on them
    assert info.value.lost == 4 and "4 queued record(s) were not written" in str(info.value)
    store.close()  # once


def test_locked_beyond_the_busy_timeout(tmp_path):
    path = tmp_path / "runs.db"
    store = SQLiteRunStore(path, busy_timeout=0.05)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        store.start_run("r", "etl", {}, [])  # committed at once: cannot be, kept
        with pytest.raises(StateStoreError) as info:
            store.flush()
        assert str(info.value).startswith(f"locked: cannot write the run store {path}")
        assert "busy timeout (0.05 s)" in str(info.value)
        other.execute("ROLLBACK")
        store.flush()
        assert store.get_run("r").state == "Running"
    finally:
        other.close()
        store.close()


def test_parent_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateStoreError) as info:
        SQLiteRunStore(tmp_path / "file" / "runs.db")
    assert str(tmp_path / "file" / "runs.db") in str(info.value)
    assert info.value.os_error is not None and "Not a directory" in str(info.value)


def test_not_a_database(tmp_path):
    path = tmp_path / "runs.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateStoreError, match=r"not a database: cannot open the run store .*file is not a database"):
        SQLiteRunStore(path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions (see the tmpfs test)")
def test_read_only_directory(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(StateStoreError) as info:
            SQLiteRunStore(ro / "runs.db")
        assert str(ro / "runs.db") in str(info.value)
        assert "Permission denied" in str(info.value)
    finally:
        ro.chmod(0o755)


# ----- real file systems, in a subprocess ---------------------------------------------

FILL = textwrap.dedent("""
    import json, os, resource, signal, sys
    from ferroflow.store import SQLiteRunStore, StateStoreError
    d, mode = sys.argv[1], sys.argv[2]
    path = os.path.join(d, "runs.db")
    filler = os.path.join(d, "filler")
    store = SQLiteRunStore(path)
    store.start_run("r", "f", {}, [(0, "t", "t", True)])
    store.flush()
    if mode == "tmpfs":  # then leave about 300 kB free (the store's schema is made: it takes more)
        st = os.statvfs(d)
        with open(filler, "wb") as f:
            f.write(b"x" * max(0, st.f_bavail * st.f_frsize - 300_000))
    if mode == "rlimit":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (os.path.getsize(path) + 300_000, hard))
    error, written = None, 0
    for i in range(1000):
        try:
            store.record_logs("r", [(0, i, float(i), "INFO", "x", "m" * 10_000)])
            store.flush()
            written += 1
        except StateStoreError as exc:
            error = exc
            break
    out = {"error": str(error), "reason": error and error.reason, "errno": error and error.os_error.errno,
           "written": written}
    if mode == "tmpfs":
        os.remove(filler)
    else:
        resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    store.record_logs("r", [(0, -1, 5000.0, "INFO", "x", "after")])
    store.flush()
    out["integrity"] = store.integrity_check()
    out["logs"] = len(store.logs("r"))
    store.close()
    print(json.dumps(out))
""")


def _can_mount_tmpfs() -> bool:
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("mount"):
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o size=64k tmpfs "$0"', "/tmp"],
                           capture_output=True)
    return probe.returncode == 0


def _private_tmpfs(directory, size: str) -> list[str]:
    """A command prefix: run the rest in a private mount namespace with a fresh tmpfs of
    ``size`` on ``directory`` (gone when the process ends)."""
    return ["unshare", "-m", "sh", "-c", f'mount -t tmpfs -o size={size} tmpfs "$0" && exec "$@"', str(directory)]


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE behaviour is Linux's")
def test_file_size_limit_is_disk_full(tmp_path, run_python):
    proc = run_python("-c", FILL, str(tmp_path), "rlimit")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["reason"] == "disk full"
    assert out["errno"] == 27  # EFBIG
    assert str(tmp_path / "runs.db") in out["error"] and "File too large" in out["error"]
    assert "1 record(s) wait to be written" in out["error"]
    assert out["integrity"] == "ok"
    assert out["logs"] == out["written"] + 2  # every record is there, the one that waited too


def test_full_file_system(tmp_path, run_python):
    """RELIABILITY.md C4: the store on a full file system."""
    if not _can_mount_tmpfs():
        pytest.skip("needs root and unshare/mount for a small private tmpfs")
    proc = run_python("-c", FILL, str(tmp_path), "tmpfs", prefix=_private_tmpfs(tmp_path, "1m"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["reason"] == "disk full"
    assert out["errno"] == 28  # ENOSPC
    assert out["error"].startswith(f"disk full: cannot write the run store {tmp_path / 'runs.db'}")
    assert "No space left on device" in out["error"]
    assert out["integrity"] == "ok"  # once space is freed
    assert out["logs"] == out["written"] + 2


READ_ONLY = textwrap.dedent("""
    import json, os, subprocess, sys
    from ferroflow.store import SQLiteRunStore, StateStoreError
    d = sys.argv[1]
    with SQLiteRunStore(os.path.join(d, "runs.db")) as store:
        store.start_run("r", "f", {}, [])
    subprocess.run(["mount", "-o", "remount,ro", d], check=True)
    out = {}
    for name in ("runs.db", "new.db", "sub/runs.db"):
        try:
            SQLiteRunStore(os.path.join(d, name)).close()
            out[name] = None
        except StateStoreError as exc:
            out[name] = [exc.reason, exc.os_error and exc.os_error.errno, str(exc)]
    print(json.dumps(out))
""")


def test_read_only_file_system(tmp_path, run_python):
    if not _can_mount_tmpfs():
        pytest.skip("needs root and unshare/mount for a private tmpfs to remount read-only")
    proc = run_python("-c", READ_ONLY, str(tmp_path), prefix=_private_tmpfs(tmp_path, "1m"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for name in ("runs.db", "new.db", "sub/runs.db"):
        reason, errno_, message = out[name]
        assert (reason, errno_) == ("read-only", 30), message  # EROFS
        assert str(tmp_path / name) in message and "Read-only file system" in message
