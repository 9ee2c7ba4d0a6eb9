"""Runs whose process died without ending them are found and marked Crashed
(``ferroflow.store.orphans``): a process gone on this machine at once, any process
silent for longer than the heartbeat timeout; live runs are never touched, and a run
reaped while its process was only stopped is lost to that process (its lease is
revoked with the reaping)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from ferroflow import cli
from ferroflow.store import RunLostError, SQLiteRunStore, SQLRunStore, default_store_path, orphans
from ferroflow.store import writer as writer_module
from ferroflow.store.orphans import orphan_message, process_exists
from tests.support.databases import execute, query

TASKS = [(0, "a", "a-1", False)]

STARTER = textwrap.dedent("""
    import sys, time
    from ferroflow.store import SQLRunStore
    store = SQLRunStore(sys.argv[1])
    store.start_run(sys.argv[2], "victim", {}, [(0, "a", "a-1", False)])
    store.flush()
    print("started", flush=True)
    time.sleep(3600)
""")


def run_started_by_a_killed_process(path, run_id: str) -> int:
    """Start ``run_id`` in another process, then SIGKILL it; return its pid."""
    proc = subprocess.Popen([sys.executable, "-c", STARTER, str(path), run_id], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "started"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    return proc.pid


def set_columns(url, run_id: str, **values) -> None:
    """Set columns of a run's row, as another process would (``url``: a database, or the
    path of an SQLite file)."""
    url = str(url) if "://" in str(url) else f"sqlite:///{url}"
    execute(url, *(f"UPDATE runs SET {column} = {_literal(value)} WHERE run_id = '{run_id}'"
                   for column, value in values.items()))


def _literal(value) -> str:
    if value is None:
        return "NULL"
    return repr(value) if isinstance(value, (int, float)) else "'" + value.replace("'", "''") + "'"


def test_a_run_whose_process_was_killed_is_marked_crashed(database_url):
    path = database_url
    pid = run_started_by_a_killed_process(path, "dead0001")
    with SQLRunStore(path) as store:
        assert store.get_run("dead0001").state == "Running"
        assert store.reap() == ["dead0001"]
        run = store.get_run("dead0001")
        assert store.reap() == []  # once
    assert run.state == "Crashed" and run.ended_at is not None
    assert run.message.startswith(f"The flow run's process (pid {pid} on ")
    assert "ended without ending the run: it was killed or crashed" in run.message
    assert "Resume it with `ferroflow run FLOW_FILE --resume dead0001`" in run.message


def test_live_runs_are_not_reaped(database_url):
    with SQLRunStore(database_url) as store:
        store.start_run("live0001", "alive", {}, TASKS)
        assert store.reap() == [] and store.get_run("live0001").state == "Running"
        store.end_run("live0001", "Success")
        assert store.reap() == [] and store.get_run("live0001").state == "Success"


def test_a_silent_run_elsewhere_is_presumed_dead_after_the_timeout(database_url):
    path = database_url
    with SQLRunStore(path) as store:
        store.start_run("far00001", "remote", {}, TASKS)
        store.start_run("far00002", "remote", {}, TASKS)
        store.flush()
        now = time.time()
        # Runs of another machine: only their heartbeat can tell.
        set_columns(path, "far00001", hostname="elsewhere", pid=4242, heartbeat_at=now - 120)
        set_columns(path, "far00002", hostname="elsewhere", pid=4242, heartbeat_at=now - 30)
        assert store.reap() == ["far00001"]
        message = store.get_run("far00001").message
        assert store.get_run("far00002").state == "Running"
        assert store.reap(timeout=20) == ["far00002"]
    assert message.startswith("No heartbeat from the flow run's process (pid 4242 on elsewhere) for 12")
    assert "(more than 60 s): it is presumed dead" in message


def test_live_runs_beat_and_a_reaped_run_is_lost_to_its_process(database_url, monkeypatch):
    """A process that was only stopped past the timeout (SIGSTOP, asleep) and comes back
    does not revive its run: reaping revoked its lease, so its next heartbeat finds the
    run lost, and every later record of it raises RunLostError, writing nothing."""
    monkeypatch.setattr(writer_module, "HEARTBEAT_SECONDS", 0.02)
    path = database_url
    with SQLRunStore(path) as store:
        store.start_run("beat0001", "beats", {}, TASKS)
        (first,) = _column(path, "heartbeat_at", "beat0001")
        deadline = time.monotonic() + 60  # a hang guard only
        while _column(path, "heartbeat_at", "beat0001") == (first,):  # it beats
            assert time.monotonic() < deadline
            time.sleep(0.01)
        monkeypatch.setattr(writer_module, "HEARTBEAT_SECONDS", 10.0)  # the reaper's view: silent
        with SQLRunStore(path) as reaper:
            for _ in range(100):  # until no last beat (of the 0.02 s period) came in between
                set_columns(path, "beat0001", heartbeat_at=1.0)  # as if it had been stopped for ages
                if reaper.reap(timeout=20) == ["beat0001"]:
                    break
            else:
                pytest.fail("the run's heartbeat kept being stamped")
        monkeypatch.setattr(writer_module, "HEARTBEAT_SECONDS", 0.02)
        while "beat0001" not in store._writer.lost_runs:  # its next heartbeat finds out
            assert time.monotonic() < deadline
            time.sleep(0.01)
        with pytest.raises(RunLostError, match=r"run beat0001 was marked Crashed by another process .* the flow "
                                                 r"run stopped here so that no task run runs twice") as info:
            store.record_states("beat0001", [(0, -1, 4, 1, None, None)])
        assert (info.value.run_id, info.value.state, info.value.resumed_by) == ("beat0001", "Crashed", None)
        with pytest.raises(RunLostError):
            store.end_run("beat0001", "Success")
        store.flush()
        run = store.get_run("beat0001")
    assert run.state == "Crashed" and "No heartbeat" in run.message  # as the reaper left it
    assert _column(path, "owner", "beat0001") == (None,)


def _column(url, column: str, run_id: str) -> tuple:
    return query(url, f"SELECT {column} FROM runs WHERE run_id = ?", run_id)[0]


def test_check_lease_confirms_an_old_lease_and_raises_once_it_is_lost(database_url, monkeypatch):
    path = database_url
    with SQLRunStore(path) as store:
        store.start_run("mine0001", "f", {}, TASKS)
        store.check_lease("mine0001")  # just confirmed by the start: nothing to do
        store.check_lease("someone-else")  # not a run of this process: nothing to say
        set_columns(path, "mine0001", owner="another process's token")
        store.check_lease("mine0001")  # confirmed less than a period ago: not asked yet
        monkeypatch.setattr(writer_module, "HEARTBEAT_SECONDS", 0.0)
        with pytest.raises(RunLostError, match="run mine0001 was taken over by another process"):
            store.check_lease("mine0001")


def test_ferroflow_runs_reap_says_what_it_marked(home, capsys):
    path = default_store_path()
    assert cli.main(["runs", "reap"]) == 0
    assert "No runs recorded yet." in capsys.readouterr().out
    run_started_by_a_killed_process(path, "dead0002")
    assert cli.main(["runs", "reap"]) == 0
    out = capsys.readouterr().out
    assert "Marked 1 run whose process died without ending it:\n  dead0002  Crashed\n" in out
    assert cli.main(["runs", "reap"]) == 0
    assert "No orphaned runs" in capsys.readouterr().out
    # A run whose own record was incomplete (its store could not be written) is Unknown,
    # and reap says so instead of calling it Crashed.
    run_started_by_a_killed_process(path, "dead0003")
    run_started_by_a_killed_process(path, "dead0004")
    set_columns(path, "dead0004", record_error="disk full: cannot write the run store")
    assert cli.main(["runs", "reap"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Marked 2 runs whose process died without ending them:\n"), out
    assert "  dead0003  Crashed\n" in out
    assert "  dead0004  Unknown (its record is incomplete: the store could not be written)\n" in out
    assert cli.main(["runs"]) == 0
    assert "Crashed" in capsys.readouterr().out


def test_ferroflow_runs_marks_orphans_before_listing(home, capsys):
    run_started_by_a_killed_process(default_store_path(), "dead0003")
    assert cli.main(["runs", "show", "dead0003"]) == 0
    out = capsys.readouterr().out
    assert "State       Crashed: The flow run's process (pid" in out


def test_a_zombie_is_gone_and_this_process_is_not():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 60  # a hang guard only
    while process_exists(child.pid) and time.monotonic() < deadline:
        time.sleep(0.01)  # exited, not reaped: a zombie
    assert not process_exists(child.pid)
    child.wait()
    assert process_exists(os.getpid())


def heartbeat_age(url, run_id: str) -> float:
    ((beat,),) = query(url, "SELECT heartbeat_at FROM runs WHERE run_id = ?", run_id)
    return time.time() - beat


def _silent_run_of_a_live_process(path, run_id):
    """A run started by a live process of this machine, whose heartbeat is then made ten
    minutes old (as when a task holds the GIL: the heartbeat thread cannot run). The
    process's own heartbeat period is an hour, so it never stamps a fresh one."""
    env = {**os.environ, "FERROFLOW_HEARTBEAT_SECONDS": "3600"}
    proc = subprocess.Popen([sys.executable, "-c", STARTER, str(path), run_id], stdout=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout.readline().strip() == "started"
    set_columns(path, run_id, heartbeat_at=time.time() - 600)
    return proc


def test_a_live_process_with_a_silent_heartbeat_keeps_its_run_until_stopped(database_url):
    # A task holding the GIL for minutes silences the heartbeat thread: on this machine
    # the process is seen running, so its run is not taken from it (it used to be
    # marked Crashed, and the process then cancelled its own run when it came back).
    path = database_url
    proc = _silent_run_of_a_live_process(path, "busy0001")
    try:
        with SQLRunStore(path) as store:
            for _ in range(100):  # until no stamp of the process's writer came in between
                set_columns(path, "busy0001", heartbeat_at=time.time() - 600)
                assert store.reap(timeout=60) == []
                if heartbeat_age(path, "busy0001") > 500:
                    break  # the reap saw a heartbeat ten minutes old, and left the run alone
            else:
                pytest.fail("the run's heartbeat kept being stamped")
            assert store.get_run("busy0001").state == "Running"
            # A stopped process (SIGSTOP, a laptop asleep) may never come back: the
            # heartbeat rule applies, and its lease is revoked (see test_resume_fencing).
            proc.send_signal(signal.SIGSTOP)
            deadline = time.monotonic() + 60  # a hang guard only
            # (until /proc shows it stopped: the signal is delivered asynchronously)
            while orphans.process_running_since(proc.pid, time.time()) is not None:
                assert time.monotonic() < deadline
                time.sleep(0.01)
            # Stopped, it writes nothing more: its heartbeat (which its writer may have
            # stamped once more since the start) is made old for good.
            set_columns(path, "busy0001", heartbeat_at=time.time() - 600)
            assert store.reap(timeout=60) == ["busy0001"]
            assert store.get_run("busy0001").state == "Crashed"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_a_pid_taken_by_a_later_process_is_not_the_run_s(database_url):
    # The run's pid now belongs to a process that started after the run: its process
    # is gone, whatever the heartbeat says.
    path = database_url
    proc = _silent_run_of_a_live_process(path, "reus0001")
    try:
        set_columns(path, "reus0001", heartbeat_at=time.time(), started_at=time.time() - 3600)
        with SQLRunStore(path) as store:
            assert store.reap(timeout=60) == ["reus0001"]
            assert "ended without ending the run" in store.get_run("reus0001").message
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_this_process_is_never_called_dead():
    host = "here"
    assert orphan_message("r", host, os.getpid(), time.time(), time.time(), host) is None


@pytest.mark.parametrize("timeout", [0.0, 59.0])
def test_the_timeout_is_a_bound_not_a_guess(timeout):
    now = time.time()
    message = orphan_message("r", "far", 1, now - 60, now, "here", timeout)
    assert message is not None and f"more than {timeout:g} s" in message


def test_looking_for_orphans_does_not_wait_for_a_writer(tmp_path):
    """`ferroflow runs` during a big run: with nothing to mark, reap only reads (WAL
    readers never wait for the writer), so a held write lock does not stall it."""
    path = tmp_path / "runs.db"
    with SQLiteRunStore(path) as store:
        store.start_run("live0002", "alive", {}, TASKS)
        store.flush()
        writer = sqlite3.connect(path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # another process, writing
        try:
            with SQLiteRunStore(path, busy_timeout=0.05) as impatient:
                assert impatient.reap() == []
                assert [r.run_id for r in impatient.list_runs()] == ["live0002"]
        finally:
            writer.execute("ROLLBACK")
            writer.close()


@pytest.mark.parametrize("timeout", [0, 19.9, -5, float("nan"), "60", True])
def test_a_timeout_that_would_reap_live_runs_is_refused(database_url, timeout):
    with SQLRunStore(database_url) as store:
        store.start_run("live0003", "alive", {}, TASKS)
        with pytest.raises(ValueError, match=r"the heartbeat timeout must be at least 20 seconds \(live runs beat "
                                             r"every 10 s; a shorter timeout would mark them Crashed\)"):
            store.reap(timeout=timeout)
        assert store.get_run("live0003").state == "Running"


@pytest.mark.parametrize("argument, words", [("0", "must be at least 20 seconds"),
                                             ("soon", "expected a number of seconds, got 'soon'")])
def test_ferroflow_runs_reap_checks_its_timeout(home, capsys, argument, words):
    assert cli.main(["runs", "reap", "--timeout", argument]) == 2
    assert words in capsys.readouterr().err


def test_a_failed_transaction_of_the_store_is_rolled_back(database_url):
    with SQLRunStore(database_url) as store:
        store.start_run("live0004", "alive", {}, TASKS)

        def half_done(conn):
            conn.execute("UPDATE runs SET state = 'Crashed'")
            raise ZeroDivisionError("in the middle")

        with pytest.raises(ZeroDivisionError):
            store._query(half_done, write=True)
        assert store.get_run("live0004").state == "Running"  # nothing half-written stayed
