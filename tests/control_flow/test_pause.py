"""signals.PAUSE, pause_task and manual_only: the run ends Paused, the rest of the flow
runs, and a resumed run with approval goes on."""

import pytest

from ferroflow import Flow, pause_task, signals, task, triggers
from ferroflow.cli import main as cli_main
from ferroflow.engine.resume import ResumeError
from ferroflow.results import MemoryResultStore, Result
from ferroflow.store import HOME_ENV, RECORD_ENV, get_run_store


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(RECORD_ENV, raising=False)


def release_flow(calls, result=None):
    @task
    def build():
        calls.append("build")
        return "v1"

    @task
    def deploy(version):
        pause_task("deploy to production?")
        calls.append("deploy")
        return f"deployed {version}"

    @task(trigger=triggers.manual_only)
    def announce(deployed):
        calls.append("announce")
        return f"announced {deployed}"

    @task
    def unrelated():
        calls.append("unrelated")
        return 1

    with Flow("release", result=result) as flow:
        a = announce(deploy(build()))
        u = unrelated()
    return flow, a, u


def test_a_pause_ends_the_run_paused_while_the_rest_runs():
    calls = []
    flow, announced, unrelated = release_flow(calls)
    state = flow.run()
    assert state.is_paused()
    assert "'deploy' wait(s) for approval" in state.message and state.flow_run_id in state.message
    assert sorted(calls) == ["build", "unrelated"]
    assert state.result[unrelated].is_successful()
    assert state.result[announced].is_pending()
    assert get_run_store().get_run(state.flow_run_id).state == "Paused"


def test_approvals_step_by_step_and_they_carry_over():
    calls = []
    flow, announced, _ = release_flow(calls)
    first = flow.run()
    second = flow.run(resume=first.flow_run_id, approve=["deploy"])
    assert second.is_paused() and "'announce'" in second.message
    assert second.result[announced].is_paused()
    assert second.result[announced].message == 'Trigger function is "manual_only"'
    calls.clear()
    third = flow.run(resume=second.flow_run_id, approve="announce")
    assert third.is_successful()
    assert third.result[announced].result == "announced deployed v1"
    assert "deploy" in calls  # no result: it ran again, still approved from the earlier run


def test_approve_everything_at_once_and_checkpointed_tasks_do_not_run_again():
    calls = []
    flow, announced, _ = release_flow(calls, Result(MemoryResultStore()))
    first = flow.run()
    calls.clear()
    state = flow.run(resume=first.flow_run_id, approve=True)
    assert state.is_successful()
    assert sorted(calls) == ["announce", "deploy"]  # build and unrelated were read back


def test_paused_mapped_children_wait_alone():
    @task
    def check(x):
        if x == 2:
            raise signals.PAUSE("look at 2")
        return x

    @task
    def after(x):
        return x * 10

    with Flow("children") as flow:
        out = after.map(check.map([1, 2, 3]))
    state = flow.run()
    assert state.is_paused()
    assert [type(s).__name__ for s in state.result[out].map_states] == ["Success", "Pending", "Success"]


def test_approval_errors_name_the_tasks():
    flow, _, _ = release_flow([])
    first = flow.run()
    with pytest.raises(ResumeError, match=r"cannot approve 'unrelated'.*those are: 'deploy', 'announce'"):
        flow.run(resume=first.flow_run_id, approve=["unrelated"])
    with pytest.raises(ValueError, match="give resume=RUN_ID too"):
        flow.run(approve=True)


def test_the_cli_exits_3_when_paused_and_resumes_with_approval(tmp_path, capsys):
    path = tmp_path / "release.py"
    path.write_text(
        "from ferroflow import Flow, pause_task, task\n"
        "@task\n"
        "def deploy():\n"
        "    pause_task('ship?')\n"
        "    return 'shipped'\n"
        "with Flow('cli-release') as flow:\n"
        "    deploy()\n"
    )
    assert cli_main(["run", str(path), "--no-progress"]) == 3
    run_id = get_run_store().list_runs(limit=1)[0].run_id
    assert cli_main(["run", str(path), "--no-progress", "--approve", "deploy"]) == 2
    assert "--approve and --approve-all need --resume" in capsys.readouterr().err
    assert cli_main(["run", str(path), "--no-progress", "--resume", run_id[:10], "--approve-all"]) == 0
