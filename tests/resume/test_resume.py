"""flow.run(resume=RUN_ID) in one process: what is reused, what runs again, errors."""

import pytest

from ferroflow import Flow, Parameter, task
from ferroflow.engine.resume import ResumeError
from ferroflow.results import MemoryResultStore, Result
from ferroflow.store import HOME_ENV, RECORD_ENV, UnknownRunError


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(RECORD_ENV, raising=False)


def build(calls, broken, result):
    @task
    def items(n):
        calls.append("items")
        return list(range(n))

    @task
    def work(x):
        calls.append(x)
        if x in broken:
            raise RuntimeError(f"{x} is broken today")
        return x + 100

    @task
    def total(xs):
        return sum(xs)

    with Flow("resumable", result=result) as flow:
        done = work.map(items(Parameter("n")))
        t = total(done)
    return flow, done, t


def test_resume_reruns_only_failed_children_with_the_earlier_parameters():
    calls, broken = [], {1, 3}
    result = Result(MemoryResultStore())
    flow, done, t = build(calls, broken, result)
    first = flow.run(n=5)
    assert first.is_failed()
    calls.clear()
    broken.clear()
    second = flow.run(resume=first.flow_run_id[:8])
    assert second.is_successful() and second.result[t].result == sum(range(100, 105))
    assert calls == [1, 3]  # items and the children that succeeded were read back
    assert [s.location for s in second.result[done].map_states][0] is not None


def test_tasks_without_a_result_run_again():
    calls = []
    flow, _, t = build(calls, set(), None)
    first = flow.run(n=2)
    calls.clear()
    flow.run(resume=first.flow_run_id)
    assert calls == ["items", 0, 1]


def test_resume_a_missing_checkpoint_runs_again_with_a_warning(caplog):
    calls = []
    store = MemoryResultStore()
    flow, _, t = build(calls, set(), Result(store, location="{task_name}/{map_index}"))
    first = flow.run(n=3)
    del store.records["work/1"]
    calls.clear()
    with caplog.at_level("WARNING", logger="ferroflow.resume"):
        second = flow.run(resume=first.flow_run_id)
    assert second.result[t].result == 303 and calls == [1]
    assert any("could not be read" in r.getMessage() for r in caplog.records)


def test_resume_errors_name_the_run():
    flow, _, _ = build([], set(), None)
    with pytest.raises(UnknownRunError, match="no run with id 'nope'"):
        flow.run(resume="nope")
    with Flow("other") as other:
        task(lambda: 1, name="one")()
    run_id = other.run().flow_run_id
    with pytest.raises(ResumeError, match=f"run {run_id} is a run of flow 'other', not of 'resumable'"):
        flow.run(resume=run_id)


def test_a_run_still_running_elsewhere_is_not_resumed():
    from ferroflow.store import get_run_store

    flow, _, _ = build([], set(), None)
    store = get_run_store(True)
    store.start_run("alive0001", "resumable", {"n": 3}, [])  # live: this process keeps it alive
    store.flush()
    with pytest.raises(ResumeError, match=r"run alive0001 is still running \(pid \d+ on .*\): resume it once it "
                                          r"has ended, or after stopping that process"):
        flow.run(resume="alive0001")
    store.end_run("alive0001", "Failed")
    store.flush()
    assert flow.run(resume="alive0001").is_successful()  # ended: it may be resumed


def test_the_cli_names_an_unknown_or_foreign_run(tmp_path, capsys):
    from ferroflow.cli import main as cli_main

    path = tmp_path / "f.py"
    path.write_text("from ferroflow import Flow, task\n@task\ndef one():\n    return 1\n"
                    "with Flow('cli-resume') as flow:\n    one()\n")
    assert cli_main(["run", str(path), "--no-progress", "--resume", "nope"]) == 2
    assert "no run with id 'nope'" in capsys.readouterr().err
    with Flow("someone-else") as other:
        task(lambda: 1, name="one")()
    run_id = other.run().flow_run_id
    assert cli_main(["run", str(path), "--no-progress", "--resume", run_id]) == 2
    assert "is a run of flow 'someone-else', not of 'cli-resume'" in capsys.readouterr().err
