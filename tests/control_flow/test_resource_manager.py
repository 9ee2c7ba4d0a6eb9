"""``resource_manager``: the init, setup and cleanup tasks it adds, how a block's tasks
are linked to them, their states when the block's tasks, the setup or the init fail or
skip, the task options it takes, and the flow's reference tasks. The states, messages,
edges and reference tasks expected here are those Prefect 1.4.1 gives for the same
flows (checked with /work/p1venv)."""

from __future__ import annotations

import datetime

import pytest

from ferroflow import Flow, Parameter, case, resource_manager, signals, task, unmapped
from ferroflow.control_flow.resource_manager import (
    ResourceCleanupTask,
    ResourceInitTask,
    ResourceManager,
    ResourceSetupTask,
    resource_cleanup_trigger,
)
from ferroflow.results import LocalResult
from ferroflow.triggers import all_successful

UPSTREAM_SKIPPED = ("Upstream task was skipped; if this was not the intended behavior, consider changing "
                    "`skip_on_upstream_skip=False` for this task.")
TRIGGER_FAILED = 'Trigger was "all_successful" but some of the upstream tasks failed.'

LOG: list = []


@pytest.fixture(autouse=True)
def _clear_log():
    LOG.clear()
    yield
    LOG.clear()


def make_resource(fail_init=False, fail_setup=False, skip_setup=False, fail_cleanup=False, with_setup=True):
    """A resource manager whose steps log what they do and fail or skip on demand."""

    class Res:
        def __init__(self, n):
            LOG.append(("init", n))
            if fail_init:
                raise ValueError("init boom")
            self.n = n

        def cleanup(self, resource):
            LOG.append(("cleanup", resource))
            if fail_cleanup:
                raise ValueError("cleanup boom")

    if with_setup:
        def setup(self):
            LOG.append(("setup", self.n))
            if fail_setup:
                raise ValueError("setup boom")
            if skip_setup:
                raise signals.SKIP("no resource today")
            return f"res{self.n}"

        Res.setup = setup
    return resource_manager(Res)


@task
def body(resource, fail=False):
    LOG.append(("body", resource))
    if fail:
        raise RuntimeError("body boom")
    return f"used {resource}"


@task
def after(x):
    return x


@task
def value_of(x):
    return x


def states_by_slug(flow, state):
    """slug -> (state class, message) of every task."""
    return {flow.slugs[t]: (type(state.result[t]).__name__, state.result[t].message) for t in flow.tasks}


def edges(flow):
    return sorted((flow.slugs[e.upstream_task], flow.slugs[e.downstream_task], e.key) for e in flow.edges)


def slugs(flow, tasks):
    return sorted(flow.slugs[t] for t in tasks)


def block_flow(resource, name="rm", fail=False):
    """init -> setup -> body -> cleanup, and ``after`` outside the block."""
    with Flow(name) as flow:
        with resource(2) as res:
            b = body(res, fail=fail)
        after(b)
    return flow


def test_a_block_adds_init_setup_and_cleanup_tasks_linked_to_its_tasks():
    flow = block_flow(make_resource())
    by_slug = {flow.slugs[t]: t for t in flow.tasks}
    assert isinstance(by_slug["Res-1"], ResourceInitTask)
    assert isinstance(by_slug["Res.setup-1"], ResourceSetupTask)
    assert isinstance(by_slug["Res.cleanup-1"], ResourceCleanupTask)
    assert edges(flow) == [
        ("Res-1", "Res.cleanup-1", "mgr"), ("Res-1", "Res.setup-1", "mgr"),
        ("Res.setup-1", "Res.cleanup-1", "resource"), ("Res.setup-1", "body-1", "resource"),
        ("body-1", "Res.cleanup-1", None), ("body-1", "after-1", "x"),
    ]
    cleanup = by_slug["Res.cleanup-1"]
    assert cleanup.trigger is resource_cleanup_trigger and cleanup.skip_on_upstream_skip is False
    assert cleanup.checkpoint is False and by_slug["Res.setup-1"].checkpoint is False
    assert by_slug["Res-1"].checkpoint is None  # the flow's default, as in Prefect


def test_a_successful_run():
    flow = block_flow(make_resource())
    state = flow.run()
    assert state.is_successful() and state.message == "All reference tasks succeeded."
    assert set(states_by_slug(flow, state).values()) == {("Success", "Task run succeeded.")}
    assert LOG == [("init", 2), ("setup", 2), ("body", "res2"), ("cleanup", "res2")]
    results = {flow.slugs[t]: state.result[t].result for t in flow.tasks}
    assert results["Res-1"].n == 2 and results["Res.setup-1"] == "res2" and results["Res.cleanup-1"] is None
    assert results["after-1"] == "used res2"
    assert slugs(flow, flow.reference_tasks()) == ["after-1"]


def test_cleanup_runs_when_a_task_of_the_block_fails():
    flow = block_flow(make_resource(), fail=True)
    state = flow.run()
    assert state.is_failed() and state.message == "Some reference tasks failed."
    got = states_by_slug(flow, state)
    assert got["Res.cleanup-1"] == ("Success", "Task run succeeded.")
    assert got["body-1"] == ("Failed", "Error during execution of task: RuntimeError('body boom')")
    assert got["after-1"] == ("TriggerFailed", TRIGGER_FAILED)
    assert LOG[-1] == ("cleanup", "res2")


def test_a_failing_block_task_fails_the_flow_though_only_the_cleanup_follows_it():
    # body's only downstream task is the cleanup: body is the reference task, not the
    # cleanup (whose success would otherwise make the run Successful).
    resource = make_resource()
    with Flow("alone") as flow:
        with resource(2) as res:
            body(res, fail=True)
    assert slugs(flow, flow.reference_tasks()) == ["body-1"]
    assert slugs(flow, flow.terminal_tasks()) == ["Res.cleanup-1"]
    state = flow.run()
    assert state.is_failed() and state.message == "Some reference tasks failed."
    assert states_by_slug(flow, state)["Res.cleanup-1"] == ("Success", "Task run succeeded.")


def test_a_failed_setup_skips_the_cleanup_and_fails_the_block():
    flow = block_flow(make_resource(fail_setup=True))
    state = flow.run()
    assert state.is_failed() and state.message == "Some reference tasks failed."
    got = states_by_slug(flow, state)
    assert got["Res-1"] == ("Success", "Task run succeeded.")
    assert got["Res.setup-1"] == ("Failed", "Error during execution of task: ValueError('setup boom')")
    assert got["body-1"] == ("TriggerFailed", TRIGGER_FAILED)
    assert got["Res.cleanup-1"] == ("Skipped", "Resource manager setup failed")
    assert LOG == [("init", 2), ("setup", 2)]  # cleanup(resource) is not called


def test_a_failed_init_skips_the_cleanup_naming_the_init():
    # Prefect 1.4.1 names the init or the setup here, depending on the order of a set
    # of edges in memory; ferroflow always names the init, the step that failed first.
    flow = block_flow(make_resource(fail_init=True))
    state = flow.run()
    assert state.is_failed()
    got = states_by_slug(flow, state)
    assert got["Res-1"] == ("Failed", "Error during execution of task: ValueError('init boom')")
    assert got["Res.setup-1"] == ("TriggerFailed", TRIGGER_FAILED)
    assert got["body-1"] == ("TriggerFailed", TRIGGER_FAILED)
    assert got["Res.cleanup-1"] == ("Skipped", "Resource manager init failed")
    assert LOG == [("init", 2)]


def test_a_skipped_setup_skips_the_block_and_the_cleanup():
    flow = block_flow(make_resource(skip_setup=True))
    state = flow.run()
    assert state.is_successful() and state.message == "All reference tasks succeeded."
    got = states_by_slug(flow, state)
    assert got["Res.setup-1"] == ("Skipped", "no resource today")
    assert got["body-1"] == ("Skipped", UPSTREAM_SKIPPED)
    assert got["after-1"] == ("Skipped", UPSTREAM_SKIPPED)
    assert got["Res.cleanup-1"] == ("Skipped", "Resource manager setup skipped")


def test_a_failing_cleanup_does_not_fail_the_flow():
    flow = block_flow(make_resource(fail_cleanup=True))
    state = flow.run()
    assert state.is_successful() and state.message == "All reference tasks succeeded."
    assert states_by_slug(flow, state)["Res.cleanup-1"] == (
        "Failed", "Error during execution of task: ValueError('cleanup boom')")


def test_a_class_without_setup_gives_no_setup_task_and_a_none_resource():
    resource = make_resource(with_setup=False)
    with Flow("no setup") as flow:
        with resource(2) as res:
            assert res is None
            b = body(res)
    assert edges(flow) == [("Res-1", "Res.cleanup-1", "mgr"), ("body-1", "Res.cleanup-1", None)]
    state = flow.run()
    assert state.is_successful()
    assert state.result[b].result == "used None"
    # body does not depend on the init task: only the cleanup waits for both
    assert sorted(LOG[:2]) == [("body", None), ("init", 2)] and LOG[2:] == [("cleanup", None)]


def test_the_cleanup_waits_for_every_mapped_child():
    resource = make_resource()
    with Flow("mapped") as flow:
        with resource(3) as res:
            m = body.map(unmapped(res), fail=[False, True, False])
    state = flow.run()
    assert state.is_failed() and slugs(flow, flow.reference_tasks()) == ["body-1"]
    assert [s.is_failed() for s in state.result[m].map_states] == [False, True, False]
    assert states_by_slug(flow, state)["Res.cleanup-1"] == ("Success", "Task run succeeded.")
    assert LOG[-1] == ("cleanup", "res3") and len(LOG) == 6


def test_task_options_of_each_step():
    class K:
        def __init__(self, a, b=1):
            self.a, self.b = a, b

        def setup(self):
            return self.a + self.b

        def cleanup(self, resource):
            LOG.append(("cleanup", resource))

    manager = resource_manager(
        K, name="kres",
        init_task_kwargs={"tags": ["x"], "name": "make-k"},
        setup_task_kwargs={"max_retries": 2, "retry_delay": datetime.timedelta(0)},
        cleanup_task_kwargs={"name": "bye"})
    assert isinstance(manager, ResourceManager) and manager.name == "kres"
    with Flow("kwargs") as flow:
        with manager(1, b=5) as res:
            body(res)
    options = sorted((flow.slugs[t], t.name, sorted(t.tags), t.max_retries, t.trigger.__name__,
                      t.skip_on_upstream_skip, t.checkpoint) for t in flow.tasks)
    assert options == [
        ("body-1", "body", [], 0, "all_successful", True, None),
        ("bye-1", "bye", [], 0, "resource_cleanup_trigger", False, False),
        ("kres.setup-1", "kres.setup", [], 2, "all_successful", True, False),
        ("make-k-x-1", "make-k", ["x"], 0, "all_successful", True, None),
    ]
    state = flow.run()
    assert state.is_successful()
    assert LOG == [("body", 6), ("cleanup", 6)]


def test_options_replace_the_defaults_of_the_cleanup():
    manager = make_resource()
    manager = resource_manager(manager.resource_class,
                               cleanup_task_kwargs={"trigger": all_successful, "skip_on_upstream_skip": True})
    flow = block_flow(manager, fail=True)
    state = flow.run()
    assert states_by_slug(flow, state)["Res.cleanup-1"] == ("TriggerFailed", TRIGGER_FAILED)
    assert ("cleanup", "res2") not in LOG


def test_the_decorator_with_arguments():
    @resource_manager(name="named")
    class Named:
        def cleanup(self, resource):
            LOG.append(("cleanup", resource))

    assert isinstance(Named, ResourceManager) and repr(Named) == "<ResourceManager: named>"
    with Flow("named") as flow:
        with Named() as res:
            body(res)
    assert edges(flow) == [("body-1", "named.cleanup-1", None), ("named-1", "named.cleanup-1", "mgr")]
    assert flow.run().is_successful()
    assert LOG == [("body", None), ("cleanup", None)]


def test_a_case_block_inside_a_resource_block():
    resource = make_resource()
    with Flow("case inside") as flow:
        c = value_of(True)
        with resource(2) as res:
            with case(c, True):
                body(res)
    assert edges(flow) == [
        ("Res-1", "Res.cleanup-1", "mgr"), ("Res-1", "Res.setup-1", "mgr"),
        ("Res.setup-1", "Res.cleanup-1", "resource"), ("Res.setup-1", "body-1", "resource"),
        ("Res.setup-1", "case(True)-1", None), ("body-1", "Res.cleanup-1", None),
        ("case(True)-1", "body-1", None), ("value_of-1", "case(True)-1", "value"),
    ]
    state = flow.run()
    assert state.is_successful() and slugs(flow, flow.reference_tasks()) == ["body-1"]


def test_a_resource_block_inside_a_case_that_does_not_match():
    resource = make_resource()
    with Flow("case outside") as flow:
        c = value_of(False)
        with case(c, True):
            with resource(2) as res:
                body(res)
    assert ("case(True)-1", "Res-1", None) in edges(flow)
    state = flow.run()
    assert state.is_successful()
    got = states_by_slug(flow, state)
    assert got["Res-1"] == got["Res.setup-1"] == got["body-1"] == ("Skipped", UPSTREAM_SKIPPED)
    assert got["Res.cleanup-1"] == ("Skipped", "Resource manager init skipped")
    assert LOG == []


def test_nested_resource_blocks():
    outer, inner = make_resource(), make_resource()
    with Flow("nested") as flow:
        with outer(1):
            with inner(2) as r2:
                body(r2)
    assert edges(flow) == [
        ("Res-1", "Res.cleanup-1", "mgr"), ("Res-1", "Res.setup-1", "mgr"),
        ("Res-2", "Res.cleanup-2", "mgr"), ("Res-2", "Res.setup-2", "mgr"),
        ("Res.cleanup-2", "Res.cleanup-1", None), ("Res.setup-1", "Res-2", None),
        ("Res.setup-1", "Res.cleanup-1", "resource"), ("Res.setup-2", "Res.cleanup-2", "resource"),
        ("Res.setup-2", "body-1", "resource"), ("body-1", "Res.cleanup-2", None),
    ]
    assert flow.run().is_successful()
    assert LOG == [("init", 1), ("setup", 1), ("init", 2), ("setup", 2), ("body", "res2"),
                   ("cleanup", "res2"), ("cleanup", "res1")]


def test_parameters_stay_outside_and_arguments_may_be_tasks():
    resource = make_resource()
    with Flow("params") as flow:
        n = Parameter("n", default=4)
        with resource(n) as res:
            label = Parameter("label", default="x")
            b = body(res, fail=label == "boom")
    assert ("Res.setup-1", "label", None) not in edges(flow)
    assert flow.upstream_tasks(flow.get_tasks(slug="Res-1")[0]) == {n}
    state = flow.run(n=7)
    assert state.result[b].result == "used res7"


def test_resumed_runs_set_the_resource_up_again(tmp_path):
    # setup and cleanup keep no checkpoint (as in Prefect, which reruns them), so a
    # resumed run makes a new resource for the tasks it runs again and cleans it up.
    # The init's manager object is checkpointed and read back (a copy, unpickled: its
    # steps write to a file, which the copy writes to as well).
    journal = tmp_path / "journal.txt"

    class Journaled:
        def __init__(self, path):
            self.path = path
            self._write("init")

        def _write(self, line):
            with open(self.path, "a") as f:
                f.write(line + "\n")

        def setup(self):
            self._write("setup")
            return "res"

        def cleanup(self, resource):
            self._write(f"cleanup {resource}")

    attempts = []

    @task
    def flaky(res):
        attempts.append(res)
        if len(attempts) == 1:
            raise RuntimeError("first time")
        return res

    with Flow("resume", result=LocalResult(dir=str(tmp_path / "results"))) as flow:
        with resource_manager(Journaled)(str(journal)) as res:
            flaky(res)
    first = flow.run()
    assert first.is_failed()
    assert journal.read_text().split("\n") == ["init", "setup", "cleanup res", ""]
    second = flow.run(resume=first.flow_run_id)
    assert second.is_successful()
    assert journal.read_text().split("\n")[3:] == ["setup", "cleanup res", ""]
    assert attempts == ["res", "res"]


def test_misuse():
    resource = make_resource()
    with pytest.raises(ValueError, match="^Could not infer an active Flow context.$"):
        resource(1)
    other = Flow("other")
    with Flow("one"):
        with pytest.raises(ValueError, match="^Multiple flows cannot be used with the same resource block$"):
            with resource(1):
                other.add_task(body.copy())


def test_the_trigger_reports_an_unfinished_upstream_task():
    from ferroflow.core.edge import Edge
    from ferroflow.states import Pending, Success

    mgr, res = ResourceInitTask(make_resource().resource_class), ResourceSetupTask()
    with pytest.raises(signals.TRIGGERFAIL, match="some of the upstream tasks were not finished"):
        resource_cleanup_trigger({Edge(mgr, res, key="mgr"): Success(), Edge(res, mgr, key="resource"): Pending()})


def test_reference_tasks_follow_changes_to_the_flow():
    resource = make_resource()
    with Flow("changing") as flow:
        with resource(2) as res:
            b = body(res)
    assert slugs(flow, flow.reference_tasks()) == ["body-1"]
    with flow:
        after(b)
    assert slugs(flow, flow.reference_tasks()) == ["after-1"]
    flow.set_reference_tasks([b])
    assert slugs(flow, flow.reference_tasks()) == ["body-1"]


def test_ferroflow_resource_manager_is_imported_on_first_use():
    import subprocess
    import sys

    code = ("import sys\n"
            "import ferroflow\n"
            "assert 'ferroflow.control_flow.resource_manager' not in sys.modules\n"
            "from ferroflow import resource_manager\n"
            "from ferroflow.control_flow.resource_manager import resource_manager as original\n"
            "assert resource_manager is original and ferroflow.resource_manager is original\n"
            "assert 'resource_manager' in ferroflow.__all__\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
