"""Flow runs are recorded in the run store: states of tasks and mapped children,
messages, logs, the final state; recording can be turned off and a broken store never
changes a run's outcome."""

import logging

import pytest

from ferroflow import Flow, Parameter, get_logger, task
from ferroflow.cli import main as cli_main
from ferroflow.store import HOME_ENV, RECORD_ENV, get_run_store


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(RECORD_ENV, raising=False)
    return tmp_path / "home"


@task
def check(x):
    get_logger().info("checking %s", x)
    if x % 3 == 0:
        raise ValueError(f"bad item {x}")
    return x


@task(trigger=lambda states: True)
def count(xs):
    return sum(1 for x in xs if not isinstance(x, Exception))


def build():
    with Flow("recorded") as flow:
        n = Parameter("n", default=7)
        items = task(lambda n: list(range(n)), name="items")(n)
        checked = check.map(items)
        total = count(checked)
    return flow, checked, total


def test_a_run_is_recorded_with_its_tasks_children_and_logs(home):
    flow, checked, total = build()
    state = flow.run(n=7)
    assert state.is_successful()  # children 0, 3 and 6 failed, but the leaf `count` ran
    store = get_run_store()
    run = store.get_run(state.flow_run_id)
    assert (run.flow_name, run.state, run.parameters) == ("recorded", "Success", {"n": 7})
    assert run.ended_at is not None
    tasks = {t.name: t for t in store.task_states(state.flow_run_id)}
    assert list(tasks) == ["n", "items", "check", "count"]  # topological order
    mapped = tasks["check"]
    assert mapped.is_mapped and mapped.width == 7 and mapped.state == "Mapped"
    assert mapped.counts == {"Success": 4, "Failed": 3}
    assert [c.map_index for c in mapped.failed_children] == [0, 3, 6]
    assert "bad item 3" in mapped.failed_children[1].message
    assert tasks["count"].state == "Success"
    child = store.child_state(state.flow_run_id, tasks["check"].task_id, 3)
    assert child.state == "Failed"
    lines = store.logs(state.flow_run_id, task_name="check", map_index=4)
    assert [line.message for line in lines] == ["checking 4"]
    assert lines[0].levelname == "INFO"


def test_states_the_core_decided_are_recorded(home):
    @task
    def maybe(x):
        from ferroflow import signals

        if x == 1:
            raise signals.SKIP("not this one")
        return x

    @task
    def after(x):
        return x

    with Flow("skips") as flow:
        after.map(maybe.map([0, 1, 2]))
    state = flow.run()
    tasks = {t.name: t for t in get_run_store().task_states(state.flow_run_id)}
    assert tasks["maybe"].counts == {"Success": 2, "Skipped": 1}
    assert tasks["after"].counts == {"Success": 2, "Skipped": 1}  # skipped by the core, no Python


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_recording_can_be_turned_off(home, monkeypatch, how):
    flow, _, _ = build()
    if how == "argument":
        state = flow.run(record=False)
    else:
        monkeypatch.setenv(RECORD_ENV, "0")
        state = flow.run()
    monkeypatch.delenv(RECORD_ENV, raising=False)
    assert state.flow_run_id
    assert get_run_store().get_run(state.flow_run_id) is None


def test_a_store_that_cannot_be_opened_is_a_warning_not_a_failed_run(tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the home directory should be")
    monkeypatch.setenv(HOME_ENV, str(blocker))
    monkeypatch.delenv(RECORD_ENV, raising=False)
    flow, _, total = build()
    with caplog.at_level(logging.WARNING, logger="ferroflow.store"):
        state = flow.run(n=4)
    assert state.result[total].result == 2
    assert any("not recorded" in r.getMessage() and str(blocker) in r.getMessage() for r in caplog.records)


def test_the_cli_shows_a_recorded_run(home, capsys):
    flow, _, _ = build()
    state = flow.run(n=5)
    capsys.readouterr()
    assert cli_main(["runs"]) == 0
    assert state.flow_run_id in capsys.readouterr().out
    cli_main(["runs", "show", state.flow_run_id[:10]])
    out = capsys.readouterr().out
    assert "check" in out and "bad item 3" in out
    assert cli_main(["logs", state.flow_run_id, "--task", "check", "--map-index", "2"]) == 0
    assert "checking 2" in capsys.readouterr().out
