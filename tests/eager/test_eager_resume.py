"""Resuming eager flow runs: calls identified by (task name in the run, call index)
return the value the earlier run checkpointed (its journal) without running, when
their arguments are the same; the rest run. Killed processes, other flows, unknown
runs, two resumes at once."""

from __future__ import annotations

import contextvars
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from ferroflow import flow, task
from ferroflow.eager.resume import journal_path, read_journal
from ferroflow.engine.resume import ResumeError
from ferroflow.store import UnknownRunError, get_run_store

SCRIPT = textwrap.dedent('''
    import os, sys, time
    from pathlib import Path
    from ferroflow import flow, task

    @task
    def work(x):
        (Path(os.environ["MARKS"]) / str(x)).touch()  # one file per execution
        time.sleep(float(os.environ.get("SLOW", "0")))
        while os.path.exists(os.environ.get("GATE", "/nonexistent")):  # held while the file is there
            time.sleep(0.01)
        if os.environ.get("FAIL_AT") == str(x):
            raise RuntimeError(f"call {x} failed")
        return x * 10

    @task
    def total(xs):
        (Path(os.environ["MARKS"]) / "total").touch()
        return sum(xs)

    @flow(name="resumable-eager")
    def pipeline(n: int):
        return total([work(i) for i in range(n)])

    @flow(name="outer-eager")
    def outer(n: int):
        return pipeline(n) + 1  # (a subflow: the process is killed inside it)

    if __name__ == "__main__":
        chosen = outer if sys.argv[1].endswith("-outer") else pipeline
        if sys.argv[1].startswith("run"):
            state = chosen(int(sys.argv[2]), return_state=True)
        else:
            state = chosen.resume(sys.argv[2], return_state=True)
        print("RESULT", state.name, state.result(raise_on_failure=False))
''')

N = 30


def _env(marks: Path, **extra: str) -> dict:
    marks.mkdir(exist_ok=True)
    return {**os.environ, "FERROFLOW_RECORD": "1", "MARKS": str(marks),
            "PYTHONPATH": os.pathsep.join(sys.path), **extra}


def _marks(marks: Path) -> set:
    return {p.name for p in marks.iterdir()}


def _killed_while_journaling(tmp_path: Path, script: Path, marks: Path, command: str) -> str:
    """Run ``script command N`` and kill it with SIGKILL once its run of the flow
    ``resumable-eager`` (a subflow or not) has some calls in its journal; that run's id."""
    store = get_run_store(True)
    with (tmp_path / "first.err").open("w") as errors:
        first = subprocess.Popen([sys.executable, str(script), command, str(N)], env=_env(marks, SLOW="0.06"),
                                 stdout=subprocess.DEVNULL, stderr=errors)
    try:
        run_id = None
        while True:  # until some calls are in the journal (bounded by the test's timeout only)
            assert first.poll() is None, (tmp_path / "first.err").read_text()
            if run_id is None:
                runs = [r for r in store.list_runs(limit=5) if r.flow_name == "resumable-eager" and r.pid == first.pid]
                run_id = runs[0].run_id if runs else None
            if run_id is not None and len(read_journal(run_id) or {}) >= 5:
                break
            time.sleep(0.02)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    return run_id


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_run_killed_with_sigkill_resumes_without_repeating_finished_calls(tmp_path):
    script = tmp_path / "pipeline.py"
    script.write_text(SCRIPT)
    marks1, marks2 = tmp_path / "marks1", tmp_path / "marks2"
    run_id = _killed_while_journaling(tmp_path, script, marks1, "run")
    store = get_run_store(True)
    ran_first = _marks(marks1)
    kept = {index for (name, index) in read_journal(run_id)}
    assert kept and "total" not in ran_first and len(ran_first) < N
    assert kept <= {int(m) for m in ran_first}
    assert {name for name, _ in read_journal(run_id)} == {"work"}

    done = subprocess.run([sys.executable, str(script), "resume", run_id[:12]], env=_env(marks2),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"RESULT Completed {sum(i * 10 for i in range(N))}" in done.stdout
    # exactly the calls the journal did not hold ran again, and the rest
    assert _marks(marks2) == {str(i) for i in range(N) if i not in kept} | {"total"}
    earlier = store.get_run(run_id)
    assert earlier.state == "Crashed"
    (resumed,) = [r for r in store.list_runs(limit=10) if r.resumed_from == run_id]
    assert resumed.state == "Success"
    counts = {t.name: t.counts for t in store.task_states(resumed.run_id)}
    assert counts["work"] == {"Success": N} and counts["total"] == {"Success": 1}
    # A Completed run leaves no journal behind, nor does the run it resumed.
    assert not journal_path(run_id).exists() and not journal_path(resumed.run_id).exists()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_run_killed_inside_a_subflow_resumes_the_subflow_without_repeating_its_finished_calls(tmp_path):
    script = tmp_path / "pipeline.py"
    script.write_text(SCRIPT)
    marks1, marks2 = tmp_path / "marks1", tmp_path / "marks2"
    child = _killed_while_journaling(tmp_path, script, marks1, "run-outer")
    store = get_run_store(True)
    parent = store.get_run(child).parent_run_id
    assert parent is not None and store.get_run(parent).flow_name == "outer-eager"
    kept = {index for (name, index) in read_journal(child)}

    done = subprocess.run([sys.executable, str(script), "resume-outer", parent], env=_env(marks2),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"RESULT Completed {sum(i * 10 for i in range(N)) + 1}" in done.stdout
    assert _marks(marks2) == {str(i) for i in range(N) if i not in kept} | {"total"}
    (resumed,) = [r for r in store.list_runs(limit=10) if r.resumed_from == parent]
    (resumed_child,) = store.child_runs(resumed.run_id)
    assert resumed_child.resumed_from == child and resumed_child.state == "Success"
    for run_id in (parent, child, resumed.run_id, resumed_child.run_id):
        assert not journal_path(run_id).exists(), run_id


calls: list = []
EXTERNAL = {"x": 1}


@task
def step(x):
    calls.append(("step", x))
    return x + 100


@task
def finish(y):
    calls.append(("finish", y))
    if EXTERNAL.get("fail"):
        raise RuntimeError("finish failed")
    return y


@flow(name="two-steps")
def two_steps(n: int = 2):
    values = [step(EXTERNAL["x"] + i) for i in range(n)]
    return finish(sum(values))


@pytest.fixture
def clean():
    calls.clear()
    EXTERNAL.clear()
    EXTERNAL["x"] = 1
    yield
    calls.clear()


def _failed_run(n: int = 2) -> str:
    EXTERNAL["fail"] = True
    state = two_steps(n, return_state=True)
    assert state.is_failed()
    del EXTERNAL["fail"]
    calls.clear()
    return _last_run("two-steps")


def _last_run(flow_name: str) -> str:
    return [r for r in get_run_store(True).list_runs(limit=20) if r.flow_name == flow_name][0].run_id


def test_resume_returns_finished_calls_and_runs_the_failed_one(clean):
    run_id = _failed_run()
    assert two_steps(resume=run_id) == 203
    assert calls == [("finish", 203)]
    state = get_run_store(True).get_run(_last_run("two-steps"))
    assert state.resumed_from == run_id and state.state == "Success"


def test_resume_uses_the_recorded_parameters_unless_given(clean):
    run_id = _failed_run(3)
    assert two_steps.resume(run_id) == 306  # n=3 from the record
    assert calls == [("finish", 306)]
    calls.clear()
    run_id = _failed_run(3)
    assert two_steps(4, resume=run_id) == 410  # n=4 given: a fourth call runs
    assert calls == [("step", 4), ("finish", 410)]


def test_a_call_with_other_arguments_than_recorded_runs_again(clean, caplog):
    run_id = _failed_run()
    EXTERNAL["x"] = 5  # the flow now calls step(5), step(6): not the recorded step(1), step(2)
    with caplog.at_level(logging.WARNING, logger="ferroflow.resume"):
        assert two_steps(resume=run_id) == 211
    assert calls == [("step", 5), ("step", 6), ("finish", 211)]
    assert "call 0 of task 'step' runs again: its arguments differ" in caplog.text


def test_resume_of_a_run_of_another_flow_is_refused(clean):
    run_id = _failed_run()

    @flow(name="another-flow")
    def another():
        return 1

    with pytest.raises(ResumeError, match="is a run of flow 'two-steps', not of 'another-flow'"):
        another(resume=run_id)


def test_resume_of_an_unknown_run_says_so():
    with pytest.raises(UnknownRunError, match="no-such-run"):
        two_steps(resume="no-such-run")


def test_persist_result_false_keeps_nothing_and_runs_again(clean):
    kept_off = two_steps.with_options(persist_result=False)
    EXTERNAL["fail"] = True
    assert kept_off(return_state=True).is_failed()
    run_id = _last_run("two-steps")
    assert read_journal(run_id) is None
    del EXTERNAL["fail"]
    calls.clear()
    assert kept_off(resume=run_id) == 203
    assert calls == [("step", 1), ("step", 2), ("finish", 203)]


class Unpicklable:
    def __reduce__(self):
        raise TypeError("no pickling this")


def test_a_value_that_cannot_be_pickled_is_not_kept_unless_persist_result_asks(clean, caplog):
    made = []

    @task
    def make():
        made.append(1)
        return Unpicklable()

    @task(persist_result=True)
    def must():
        return Unpicklable()

    @flow(name="unpicklable")
    def loose(fail: bool):
        make()
        if fail:
            raise RuntimeError("stop")
        return "ok"

    with caplog.at_level(logging.WARNING, logger="ferroflow.resume"):
        assert loose(True, return_state=True).is_failed()
    assert "the results of task 'make' cannot be pickled" in caplog.text
    assert loose(False, resume=_last_run("unpicklable")) == "ok"
    assert made == [1, 1]

    @flow(name="strict")
    def strict():
        return must(return_state=True)

    state = strict(return_state=True)  # (the task call's failed state, returned: "1/1 states failed.")
    assert state.is_failed() and state.message == "1/1 states failed."
    assert "Could not checkpoint the result of call 0 of task 'must'" in state.data.message


def test_a_journal_cut_short_keeps_what_comes_before_the_cut(clean, caplog):
    run_id = _failed_run()
    path = journal_path(run_id)
    data = path.read_bytes()
    path.write_bytes(data + data[: len(data) // 2])  # a second batch, torn by a kill while written
    with caplog.at_level(logging.WARNING, logger="ferroflow.resume"):
        assert two_steps(resume=run_id) == 203
    assert calls == [("finish", 203)]
    assert "is cut short" in caplog.text


def test_two_resumes_of_one_run_at_once_exactly_one_goes_ahead(tmp_path):
    script = tmp_path / "pipeline.py"
    script.write_text(SCRIPT)
    marks = tmp_path / "marks"
    done = subprocess.run([sys.executable, str(script), "run", "3"], env=_env(marks, FAIL_AT="1"),
                          capture_output=True, text=True, timeout=600)
    assert "RESULT Failed" in done.stdout, done.stderr
    run_id = [r for r in get_run_store(True).list_runs(limit=5) if r.flow_name == "resumable-eager"][0].run_id
    gate = tmp_path / "gate"
    gate.touch()
    held = subprocess.Popen([sys.executable, str(script), "resume", run_id], env=_env(marks, GATE=str(gate)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        store = get_run_store(True)
        while not [r for r in store.list_runs(limit=5) if r.resumed_from == run_id and r.state == "Running"]:
            assert held.poll() is None, held.communicate()
            time.sleep(0.02)
        second = subprocess.run([sys.executable, str(script), "resume", run_id], env=_env(marks),
                                capture_output=True, text=True, timeout=600)
        assert second.returncode != 0 and "ResumeError" in second.stderr
        assert "is already being resumed by run" in second.stderr
    finally:
        gate.unlink()
        out, err = held.communicate(timeout=600)
    assert "RESULT Completed 30" in out, err


def test_resume_inside_a_flow_is_refused():
    @flow
    def outer():
        return two_steps(resume="anything")

    with pytest.raises(ResumeError, match="not a subflow run"):
        outer()


def test_a_journal_is_written_while_the_run_goes_on(clean):
    seen = {}

    @task
    def slow(i):
        time.sleep(0.06)
        return i

    @task
    def look():
        seen["journal"] = read_journal(_last_run("goes-on"))

    @flow(name="goes-on")
    def goes_on():
        for i in range(3):
            slow(i)
        look()

    goes_on()
    assert seen["journal"] is not None and {("slow", 0), ("slow", 1)} <= set(seen["journal"])


def test_checkpoints_are_thread_safe_with_calls_from_threads(clean):
    @task
    def square(x):
        return x * x

    @flow(name="threads")
    def threaded():
        out = {}

        def worker(k):
            out[k] = [square(k * 100 + i) for i in range(200)]

        threads = [threading.Thread(target=contextvars.copy_context().run, args=(worker, k)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        raise RuntimeError("after the threads")

    assert threaded(return_state=True).is_failed()
    entries = read_journal(_last_run("threads"))
    assert len(entries) == 800


def test_a_journal_that_cannot_be_written_warns_once_and_the_run_goes_on(clean, caplog, monkeypatch):
    # A full disk: the first batch that fails stops the journal (one warning, not one
    # per batch); the run's calls and its outcome are not touched.
    import errno

    from ferroflow.eager import resume

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(resume.os, "write", full)

    @task
    def slow(i):
        time.sleep(0.06)  # (each call ends a batch)
        return i

    @flow(name="disk-full")
    def disk_full():
        return sum(slow(i) for i in range(4))

    with caplog.at_level(logging.WARNING, logger="ferroflow"):
        assert disk_full() == 6
    warnings = [r for r in caplog.records if "could not write the journal" in r.getMessage()]
    assert len(warnings) == 1 and "No space left on device" in warnings[0].getMessage()


# ----- subflows under a resumed parent ---------------------------------------------------------


@flow(name="sub-load")
def sub_load(x: int):
    calls.append(("sub-load", x))
    return step(x)


@flow(name="sub-publish")
def sub_publish(y: int):
    first = step(y)
    return finish(first)


@flow(name="parent-of-subflows")
def parent_of_subflows(n: int = 2):
    loaded = [sub_load(i) for i in range(n)]
    return sub_publish(sum(loaded))


def test_a_resumed_parent_returns_completed_subflows_and_resumes_the_failed_one(clean):
    EXTERNAL["fail"] = True
    state = parent_of_subflows(2, return_state=True)
    assert state.is_failed()
    store = get_run_store(True)
    run_id = _last_run("parent-of-subflows")
    earlier_children = store.child_runs(run_id)
    assert [(c.flow_name, c.state) for c in earlier_children] == [
        ("sub-load", "Success"), ("sub-load", "Success"), ("sub-publish", "Failed")]
    del EXTERNAL["fail"]
    calls.clear()

    assert parent_of_subflows(resume=run_id) == 201 + 100
    # The completed subflows did not run again; the failed one was resumed: its first
    # call returned from its own journal, its failed call ran.
    assert calls == [("finish", 301)]
    resumed = _last_run("parent-of-subflows")
    assert store.get_run(resumed).resumed_from == run_id
    (child,) = store.child_runs(resumed)
    assert child.flow_name == "sub-publish" and child.state == "Success"
    assert child.resumed_from == earlier_children[2].run_id
    # Every journal is gone once the runs completed.
    for done in (run_id, resumed, child.run_id, *(c.run_id for c in earlier_children)):
        assert not journal_path(done).exists(), done


def test_subflow_calls_with_other_arguments_run_again(clean, caplog):
    EXTERNAL["fail"] = True
    parent_of_subflows(2, return_state=True)
    run_id = _last_run("parent-of-subflows")
    del EXTERNAL["fail"]
    calls.clear()
    with caplog.at_level(logging.WARNING, logger="ferroflow.resume"):
        assert parent_of_subflows(resume=run_id, n=3) == 100 + 101 + 102 + 100
    # sub-load 0 and 1 returned; sub-load 2 was never called before: it runs; the
    # resumed sub-publish gets another sum, so its step runs again, and finish.
    assert calls == [("sub-load", 2), ("step", 2), ("step", 303), ("finish", 403)]
    assert "call 0 of task 'step' runs again: its arguments differ" in caplog.text


def test_a_parent_resumed_twice_keeps_returned_subflows_in_its_own_journal(clean):
    EXTERNAL["fail"] = True
    parent_of_subflows(2, return_state=True)
    first = _last_run("parent-of-subflows")
    parent_of_subflows(resume=first, return_state=True)  # fails again: publish still fails
    second = _last_run("parent-of-subflows")
    assert second != first
    assert {name for name, _ in read_journal(second)} >= {("flow", "sub-load")}
    del EXTERNAL["fail"]
    calls.clear()
    assert parent_of_subflows(resume=second) == 301
    assert calls == [("finish", 301)]


def test_a_completed_subflow_is_in_its_parents_journal_on_disk_before_the_parent_goes_on(clean):
    """So that a kill right after a subflow completed (its own journal deleted) loses
    nothing: the parent's journal holds its value already."""
    seen = {}

    @flow(name="journaled-parent")
    def parent():
        value = sub_load(1)
        from ferroflow.runtime import flow_run

        seen["journal"] = read_journal(flow_run.id)
        return value

    assert parent() == 101
    assert (("flow", "sub-load"), 0) in seen["journal"]
