"""The store across process boundaries: exit, kill -9, fork."""

from __future__ import annotations

import json
import os
import signal
import textwrap

import pytest

from ferroflow.store import SQLiteRunStore, SQLRunStore


def test_queued_records_are_committed_at_exit(database_url, run_python):
    """A process that records and exits without flush() or close() loses nothing."""
    code = textwrap.dedent("""
        import sys
        from ferroflow.store import SQLRunStore
        store = SQLRunStore(sys.argv[1], flush_interval=60)  # nothing would be written for a minute
        store.start_run("r", "etl", {}, [(0, "t", "t", True)])
        store.record_report("r", [(0, range(1000), bytes([8]) * 1000)])
        store.end_run("r", "Failed")
        store.record_logs("r", [(0, 1, 1.0, "INFO", "x", "last words")])
    """)
    proc = run_python("-c", code, database_url)
    assert proc.returncode == 0, proc.stderr
    with SQLRunStore(database_url) as store:
        assert store.get_run("r").state == "Failed"
        assert store.task_states("r")[0].counts == {"Failed": 1000}
        assert [x.message for x in store.logs("r")] == ["last words"]


def test_kill_9_keeps_every_commit(database_url, spawn_python):
    """SIGKILL between commits: what was flushed is there, the file is intact."""
    code = textwrap.dedent("""
        import sys
        from ferroflow.store import SQLRunStore
        store = SQLRunStore(sys.argv[1])
        store.start_run("r", "etl", {}, [(0, "t", "t", True)])
        for k in range(1_000_000):
            store.record_report("r", [(0, range(k * 10, k * 10 + 10), bytes([4] * 9 + [8]))])
            store.flush()
            print(k, flush=True)
    """)
    proc = spawn_python("-c", code, database_url)
    flushed = -1
    for line in proc.stdout:
        flushed = int(line)
        if flushed >= 200:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for line in proc.stdout:  # what it printed before the kill, after the line read above
        flushed = int(line)
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    if database_url.startswith("sqlite"):
        with SQLiteRunStore(database_url) as store:
            assert store.integrity_check() == "ok"
    with SQLRunStore(database_url) as store:
        task = store.task_states("r")[0]
        # Every flushed batch is there; at most the one in flight after the last print too.
        assert task.counts["Failed"] in (flushed + 1, flushed + 2)
        assert task.counts["Success"] == 9 * task.counts["Failed"]
        assert task.failed_count == task.counts["Failed"]
        assert store.get_run("r").state == "Running"  # the run never ended


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_its_own_writer(database_url, run_python):
    code = textwrap.dedent("""
        import json, os, sys
        from ferroflow.store import SQLRunStore
        store = SQLRunStore(sys.argv[1])
        store.start_run("parent", "etl", {}, [])
        store.flush()
        pid = os.fork()
        if pid == 0:
            store.start_run("child", "etl", {}, [])
            store.flush()
            os._exit(0 if store.get_run("child") is not None else 3)
        _, status = os.waitpid(pid, 0)
        store.start_run("parent2", "etl", {}, [])
        store.flush()
        print(json.dumps({"status": status, "runs": sorted(r.run_id for r in store.list_runs())}))
        store.close()
    """)
    proc = run_python("-c", code, database_url)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out == {"status": 0, "runs": ["child", "parent", "parent2"]}
