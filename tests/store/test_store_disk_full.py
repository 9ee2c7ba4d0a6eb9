"""A run store that fills up mid-run (issue 8, fault 5).

The disk is "full" the honest way: ``PRAGMA max_page_count`` makes SQLite itself answer
SQLITE_FULL ("database or disk is full") as soon as the database needs a page more. A
file says how full: the flow's tasks fill it and free it, and every connection of the
process applies it before each transaction (on its own thread, so nothing races).

What must hold: the user is told when it happens (a warning on stderr naming the store
and the error, once); the run goes on and keeps its heartbeat (``ferroflow runs`` does
not take it for dead); when space comes back the records kept meanwhile are written;
and a run that completed is never shown ``Crashed``, even when its records could not
all be written.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from ferroflow.store import SQLiteRunStore, StateStoreError

HANG_GUARD = 120.0  # seconds; only ever reached when something hangs
N = 40

#: Imported by the flow file and by in-process tests: connections whose database can
#: "fill up" (max_page_count) as a file says.
LIMITED = textwrap.dedent('''
    import os
    from ferroflow.store import sqlite as store_sqlite

    FULL, FREE = 1, 1073741823  # SQLite raises a limit under the file's size to its size

    class Limited:
        """A sqlite3 connection that applies the limit in the file `path` before each
        transaction."""

        def __init__(self, conn, path):
            self._conn, self._path, self._applied = conn, path, None

        def execute(self, sql, *args):
            if sql.startswith("BEGIN"):
                try:
                    with open(self._path) as f:
                        wanted = f.read().strip()
                except FileNotFoundError:
                    wanted = "free"
                if wanted != self._applied:
                    self._conn.execute(f"PRAGMA max_page_count = {FULL if wanted == 'full' else FREE}").fetchone()
                    self._applied = wanted
            return self._conn.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self._conn, name)

    def limit_connections(path):
        connect = store_sqlite.SQLiteRunStore._connect
        store_sqlite.SQLiteRunStore._connect = lambda self: Limited(connect(self), path)
''')

FLOW = LIMITED + textwrap.dedent('''
    import time
    from pathlib import Path
    from ferroflow import Flow, get_logger, task

    limit_connections(os.environ["LIMIT"])

    @task
    def fill():
        Path(os.environ["LIMIT"]).write_text("full")  # the disk fills up
        return list(range(int(os.environ["N"])))

    @task
    def chatter(x):
        get_logger().info("child %d says %s", x, "x" * 2000)
        return x

    @task
    def wait_for_space(xs):
        gate = os.environ["GATE"]
        deadline = time.monotonic() + 120  # a hang guard only
        while not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)
        if os.environ.get("FREE") == "1":
            Path(os.environ["LIMIT"]).write_text("free")  # space comes back
        return sum(xs)

    @task
    def after(total):
        get_logger().info("after: %d", total)
        return total

    with Flow("filling") as flow:
        after(wait_for_space(chatter.map(fill())))
''')


class Lines:
    """The lines of a text stream, read by a thread of their own as they come."""

    def __init__(self, stream):
        self.lines: list = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        with stream:
            for line in stream:
                self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        self.thread.join(HANG_GUARD)
        return "\n".join(self.lines)


@pytest.fixture
def lab(tmp_path):
    flow_file = tmp_path / "flow.py"
    flow_file.write_text(FLOW)
    env = {**os.environ, "FERROFLOW_HOME": str(tmp_path / "home"), "FERROFLOW_RECORD": "1", "N": str(N),
           "LIMIT": str(tmp_path / "limit"), "GATE": str(tmp_path / "gate"), "FERROFLOW_HEARTBEAT_SECONDS": "0.2"}
    return flow_file, env, tmp_path / "home" / "runs.db", tmp_path / "gate"


def wait_for(condition, what: str, proc=None):
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the process ended while waiting for {what}")
        assert time.monotonic() < deadline, f"hang guard: never saw {what}"
        time.sleep(0.02)


def row(db, *columns):
    """The run's columns, read by another connection (None before the run is there)."""
    if not db.exists():
        return None
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(f"SELECT {', '.join(columns)} FROM runs").fetchone()
    except sqlite3.OperationalError:  # the schema is being created
        return None
    finally:
        conn.close()


def ferroflow(env, *args):
    return subprocess.run([sys.executable, "-m", "ferroflow", *args], env=env, capture_output=True, text=True)


def start(flow_file, env, **extra):
    proc = subprocess.Popen([sys.executable, "-m", "ferroflow", "run", str(flow_file), "--no-progress"],
                            env={**env, **extra}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, Lines(proc.stdout), Lines(proc.stderr)


def end_of(proc):
    try:
        return proc.wait(timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def warnings_about_the_store(lines, db) -> list:
    return [x for x in lines if x.startswith(f"ferroflow: warning: disk full: cannot write the run store {db}")]


def test_the_user_is_told_the_run_goes_on_and_the_records_are_written_when_space_comes_back(lab):
    flow_file, env, db, gate = lab
    proc, out, err = start(flow_file, env, FREE="1")
    try:
        # Told while it happens (the run waits at the gate), on stderr, once.
        wait_for(lambda: warnings_about_the_store(err.lines, db), "the warning", proc)
        (warning,) = warnings_about_the_store(err.lines, db)
        assert "sqlite: database or disk is full" in warning
        assert "Runs go on: their records are kept in memory" in warning
        # The run keeps its heartbeat, and notes why its record is incomplete.
        wait_for(lambda: row(db, "record_error")[0], "the note", proc)
        state, note, beat = row(db, "state", "record_error", "heartbeat_at")
        assert state == "Running" and note.startswith("Record incomplete: the run store could not be written")
        wait_for(lambda: row(db, "heartbeat_at")[0] > beat + 1.5, "heartbeats past the timeout (1.2 s)", proc)
        listed = ferroflow(env, "runs")
        assert "filling  Running" in listed.stdout, listed.stdout  # not taken for dead
    finally:
        gate.touch()
    assert end_of(proc) == 0, err.text()
    errors = err.text()
    assert len(warnings_about_the_store(err.lines, db)) == 1
    assert "written again after" in errors
    with SQLiteRunStore(db) as store:
        (run,) = store.list_runs()
        logs = [line.message for line in store.logs(run.run_id)]
        tasks = {t.name: t for t in store.task_states(run.run_id)}
    assert (run.state, run.message, run.record_error) == ("Success", "All reference tasks succeeded.", None)
    # What waited while the disk was full is in the store now.
    assert sorted(m.split(" says")[0] for m in logs if " says " in m) == sorted(f"child {x}" for x in range(N))
    assert f"after: {sum(range(N))}" in logs
    assert tasks["chatter"].counts == {"Success": N} and tasks["after"].state == "Success"


def test_a_run_that_completed_while_the_disk_stayed_full_is_not_shown_crashed(lab):
    flow_file, env, db, gate = lab
    gate.touch()
    proc, out, err = start(flow_file, env, FREE="0")
    assert end_of(proc) == 0, err.text()
    errors = err.text()
    assert len(warnings_about_the_store(err.lines, db)) == 1
    assert "queued record(s) were not written" in errors  # said again at exit: what was lost
    listed = ferroflow(env, "runs")
    assert listed.returncode == 0 and "filling  Success" in listed.stdout, listed.stdout
    assert "Crashed" not in listed.stdout
    shown = ferroflow(env, "runs", "show", row(db, "run_id")[0]).stdout
    assert "State       Success: Record incomplete: the run store could not be written from " in shown
    state, note = row(db, "state", "record_error")
    assert state == "Success"
    assert "(disk full)" in note and "record(s) were never written" in note


class LimitedStore(SQLiteRunStore):
    """A store whose connections fill up as the file ``limit`` says (in-process)."""

    limit = ""

    def _connect(self):
        namespace: dict = {}
        exec(LIMITED, namespace)
        return namespace["Limited"](super()._connect(), self.limit)


def test_past_the_bound_the_oldest_records_are_dropped_and_the_record_says_so(tmp_path, caplog, monkeypatch):
    limit = tmp_path / "limit"
    monkeypatch.setattr(LimitedStore, "limit", str(limit))
    with LimitedStore(tmp_path / "runs.db", max_pending=300) as store:
        store.start_run("r", "f", {}, [(0, "t", "t", True)])
        limit.write_text("full")
        for i in range(10):  # 500 log records, 2 kB each: more than the disk and the bound take
            store.record_logs("r", [(0, i * 50 + j, float(i * 50 + j), "INFO", "x", f"{i * 50 + j} " + "y" * 2000)
                                    for j in range(50)])
            if i == 0:  # the first batch fails: the store is full from here
                with pytest.raises(StateStoreError, match="disk full"):
                    store.flush()
        messages = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert sum("disk full: cannot write the run store" in m for m in messages) == 1
        assert sum("more than 300 records wait to be written; the oldest task states and logs are dropped" in m
                   for m in messages) == 1
        limit.write_text("free")
        store.flush()
        kept = [int(line.message.split()[0]) for line in store.logs("r")]
        run = store.get_run("r")
    assert 0 < len(kept) <= 300 and kept == list(range(500 - len(kept), 500))  # the newest were kept
    assert run.record_error == (f"Record incomplete: {500 - len(kept):,} record(s) were dropped while the run store "
                                f"could not be written (more than 300 waited).")
    assert run.message == run.record_error  # shown with the run


def test_flush_raises_while_records_wait_and_the_store_goes_on(tmp_path, monkeypatch):
    limit = tmp_path / "limit"
    monkeypatch.setattr(LimitedStore, "limit", str(limit))
    with LimitedStore(tmp_path / "runs.db") as store:
        store.start_run("r", "f", {}, [(0, "t", "t", True)])
        limit.write_text("full")
        store.record_logs("r", [(0, 1, 1.0, "INFO", "x", "z" * 20_000)])
        with pytest.raises(StateStoreError) as info:
            store.flush()
        assert (info.value.reason, info.value.pending, info.value.lost) == ("disk full", 1, 0)
        store.end_run("r", "Success", "done")  # the end still goes in: it needs no new page
        assert store.get_run("r").state == "Success"
        limit.write_text("free")
        store.flush()
        run = store.get_run("r")
        assert (run.state, run.message, run.record_error) == ("Success", "done", None)
        assert len(store.logs("r")) == 1


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_run_whose_process_died_while_its_record_was_incomplete_is_unknown_not_crashed(lab):
    flow_file, env, db, gate = lab
    proc, out, err = start(flow_file, env, FREE="0")
    try:
        wait_for(lambda: (row(db, "record_error") or [None])[0], "the note", proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        end_of(proc)
    listed = ferroflow(env, "runs")
    assert "filling  Unknown" in listed.stdout, listed.stdout
    state, message, note = row(db, "state", "message", "record_error")
    assert state == "Unknown" and note.startswith("Record incomplete:")
    assert f"The flow run's process (pid {proc.pid} on " in message
    assert "ended without its end being recorded, while the run store could not take its records: how the run " \
           "ended is not known" in message
    assert "killed or crashed" not in message
