"""The record keeps each failure's traceback (``task_runs.traceback``): a failed mapped
child's and a failed task's, readable through the store and the CLI after the process
that ran the flow has ended; kept to its last 64 KiB."""

from __future__ import annotations

import textwrap

from ferroflow import _core, cli
from ferroflow.store import ChildState, SQLRunStore
from ferroflow.store.items import TRACEBACK_LIMIT

S, F = _core.SUCCESS, _core.FAILED

FLOW = textwrap.dedent("""
    from ferroflow import Flow, task

    @task
    def numbers():
        return list(range(100))

    @task
    def work(i):
        if i == 97:
            raise ValueError(f"child {i} is broken")
        return i

    @task
    def check():
        raise KeyError("the whole task failed")

    with Flow("tracebacks") as flow:
        work.map(numbers)
        check()

    state = flow.run()
    print(state.flow_run_id)
""")


def test_a_failed_child_s_traceback_outlives_its_process(database_url, run_python, home, monkeypatch, capsys,
                                                         tmp_path):
    flow_file = tmp_path / "tracebacks.py"
    flow_file.write_text(FLOW)
    proc = run_python(str(flow_file), env={"FERROFLOW_DATABASE_URL": database_url, "FERROFLOW_HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    run_id = proc.stdout.strip().splitlines()[-1]
    with SQLRunStore(database_url) as store:
        tasks = {t.name: t for t in store.task_states(run_id)}
        work, check = tasks["work"], tasks["check"]
        (child,) = work.failed_children
        assert (child.map_index, child.state) == (97, "Failed")
        assert child.message == "Error during execution of task: ValueError('child 97 is broken')"
        assert child.traceback.startswith("Traceback (most recent call last):")
        assert 'raise ValueError(f"child {i} is broken")' in child.traceback
        assert child.traceback.rstrip().endswith("ValueError: child 97 is broken")
        assert store.child_state(run_id, work.task_id, 97).traceback == child.traceback
        assert store.child_state(run_id, work.task_id, 3).traceback is None  # a plain success
        assert check.state == "Failed" and check.traceback.rstrip().endswith("KeyError: 'the whole task failed'")
        assert store.child_state(run_id, check.task_id, -1).traceback == check.traceback
        assert tasks["numbers"].traceback is None
    monkeypatch.setenv("FERROFLOW_DATABASE_URL", database_url)
    assert cli.main(["logs", run_id, "--task", "work", "--map-index", "97"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"No logs recorded of task 'work', child 97 for run {run_id}: it raised\n")
    assert "work[97] Failed: Error during execution of task: ValueError('child 97 is broken')\n" in out
    assert "    ValueError: child 97 is broken\n" in out and "    Traceback (most recent call last):\n" in out
    assert cli.main(["logs", run_id, "--task", "work", "--map-index", "3"]) == 0
    assert capsys.readouterr().out == f"No logs recorded of task 'work', child 3 for run {run_id}.\n"
    assert cli.main(["logs", run_id, "--task", "check"]) == 0
    assert "KeyError: 'the whole task failed'" in capsys.readouterr().out
    assert cli.main(["runs", "show", run_id]) == 0
    out = capsys.readouterr().out
    assert "  [97] Failed: Error during execution of task: ValueError('child 97 is broken')\n" in out
    assert f"`ferroflow logs {run_id} --task work-1 --map-index 97`" in out


def test_details_with_and_without_a_traceback(store):
    store.start_run("r", "etl", {}, [(0, "t", "t", False), (1, "m", "m", True)])
    store.record_report("r", [(0, None, F), (1, range(3), bytes([S, F, F]))],
                        {(0, -1): ("boom", None, 1, "Traceback: task"), (1, 1): ("one", None, 1, "Traceback: 1"),
                         (1, 2): ("two", None, 1)})  # a 3-tuple: no traceback
    assert store.child_state("r", 0, -1) == ChildState(0, -1, F, 1, "boom", None, "Traceback: task")
    assert store.child_state("r", 1, 1) == ChildState(1, 1, F, 1, "one", None, "Traceback: 1")
    assert store.child_state("r", 1, 2) == ChildState(1, 2, F, 1, "two", None, None)
    store.record_states("r", [(1, 5, F, 2, "five", None, "Traceback: 5")])
    assert store.child_state("r", 1, 5).traceback == "Traceback: 5"
    # A retried child that then succeeds loses its row, traceback and all.
    store.record_report("r", [(1, [1], bytes([S]))])
    assert store.child_state("r", 1, 1) == ChildState(1, 1, S, None, None, None)


def test_a_long_traceback_keeps_its_end(store):
    long = "Traceback (most recent call last):\n" + "  frame\n" * 20_000 + "RecursionError: too deep\n"
    store.start_run("r", "etl", {}, [(1, "m", "m", True)])
    store.record_report("r", [(1, [0], bytes([F]))], {(1, 0): ("deep", None, 1, long)})
    kept = store.child_state("r", 1, 0).traceback
    assert kept.endswith("RecursionError: too deep\n") and kept.startswith("[... ")
    assert len(kept) < TRACEBACK_LIMIT + 100 and f"{len(long) - TRACEBACK_LIMIT:,} earlier characters cut" in kept
