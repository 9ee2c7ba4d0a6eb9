"""State handlers and on_failure on tasks: every transition passes through them,
including states the core decides alone (skips, trigger failures)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ferroflow import Flow, signals, states, task


def recorder(seen):
    def handler(obj, old, new):
        seen.append((obj.name, type(old).__name__, type(new).__name__))

    return handler


def test_transitions_of_a_successful_run():
    seen = []

    @task(state_handlers=[recorder(seen)])
    def ok():
        return 1

    with Flow("h") as flow:
        ok()
    assert flow.run().is_successful()
    assert seen == [("ok", "Pending", "Running"), ("ok", "Running", "Success")]


def test_handlers_see_core_decided_states_and_children():
    seen = []

    @task
    def boom():
        raise ValueError("no")

    @task(state_handlers=[recorder(seen)])
    def after(x):
        return x

    @task
    def skip():
        raise signals.SKIP("nothing to do")

    @task(state_handlers=[recorder(seen)])
    def child(x, y):
        return x

    with Flow("decided") as flow:
        after(boom())
        child.map([1, 2], y=skip())
    state = flow.run()
    assert ("after", "Pending", "TriggerFailed") in seen
    assert seen.count(("child", "Pending", "Skipped")) == 1  # the parent skips as a whole
    assert state.is_failed()


def test_handler_chain_can_rewrite_failure_into_success():
    def forgive(obj, old, new):
        if new.is_failed():
            return states.Success("forgiven", result="fallback")

    finals = []

    def check(obj, old, new):
        if isinstance(old, states.Running):
            finals.append(new.message)  # receives the previous handler's state

    @task(state_handlers=[forgive, check])
    def flaky(x):
        if x == 2:
            raise RuntimeError("bad")
        return x

    @task
    def total(xs):
        return xs

    with Flow("rewrite") as flow:
        t = total(flaky.map([1, 2, 3]))
    state = flow.run()
    assert state.is_successful()
    assert state.result[t].result == [1, "fallback", 3]
    assert sorted(finals) == ["Task run succeeded.", "Task run succeeded.", "forgiven"]


def test_on_failure_is_called_with_the_failed_state_of_each_child():
    failures = []

    @task(on_failure=lambda t, s: failures.append((t.name, str(s.result))), max_retries=1,
          retry_delay=timedelta(0))
    def work(x):
        if x:
            raise KeyError(x)
        return x

    with Flow("on-failure") as flow:
        work.map([0, 1, 2])
    flow.run()
    # Each failing child fails twice (the first failure is retried).
    assert sorted(failures) == [("work", "1"), ("work", "1"), ("work", "2"), ("work", "2")]


def test_a_handler_that_raises_fails_the_task_run():
    def broken(obj, old, new):
        if isinstance(new, states.Success):
            raise ZeroDivisionError("handler bug")

    @task(state_handlers=[broken])
    def fine():
        return 1

    with Flow("broken-handler") as flow:
        f = fine()
    st = flow.run().result[f]
    assert isinstance(st, states.Failed)
    assert st.message == "Unexpected error while calling state handlers: ZeroDivisionError('handler bug')"


def test_a_handler_signal_sets_the_state():
    def skip_it(obj, old, new):
        if isinstance(new, states.Running):
            raise signals.SKIP("maintenance window")

    ran = []

    @task(state_handlers=[skip_it])
    def job():
        ran.append(1)

    with Flow("signal-handler") as flow:
        j = job()
    st = flow.run().result[j]
    assert isinstance(st, states.Skipped) and st.message == "maintenance window"
    assert ran == []


@pytest.mark.parametrize("bad, match", [
    (dict(state_handlers=[1]), "state_handlers must be callables"),
    (dict(on_failure="x"), "on_failure must be a callable"),
])
def test_bad_handler_options(bad, match):
    with pytest.raises(TypeError, match=match):
        task(**bad)(lambda: None)


def test_tasks_without_handlers_keep_the_fast_path():
    from ferroflow.engine.graph import freeze

    @task
    def plain():
        pass

    with Flow("plain") as flow:
        plain()
    assert freeze(flow).specs()[0].observed is False


def test_flow_state_handlers_on_failure_and_terminal_state_handler():
    seen, failures, terminal_calls = [], [], []

    def terminal(flow, state, reference_states):
        terminal_calls.append(sorted(type(s).__name__ for s in reference_states))
        if state.is_failed():
            return states.Success("failure accepted", result=state.result)

    @task
    def boom():
        raise RuntimeError("x")

    with Flow("flow-handlers", state_handlers=[recorder(seen)], on_failure=lambda f, s: failures.append(s),
              terminal_state_handler=terminal) as flow:
        boom()
    state = flow.run()
    assert state.is_successful() and state.message == "failure accepted"
    assert terminal_calls == [["Failed"]]
    assert seen == [("flow-handlers", "Scheduled", "Running"), ("flow-handlers", "Running", "Success")]
    assert failures == []  # the terminal handler ran first and the flow ended Success


def test_flow_on_failure():
    failures = []

    @task
    def boom():
        raise RuntimeError("x")

    with Flow("flow-fail", on_failure=lambda f, s: failures.append((f.name, s.message))) as flow:
        boom()
    flow.run()
    assert failures == [("flow-fail", "Some reference tasks failed.")]


def test_bad_flow_handler_options():
    with pytest.raises(TypeError, match="Flow 'f': state_handlers must be callables"):
        Flow("f", state_handlers=[3])


def test_handlers_called_by_the_engine_see_the_run_context():
    from ferroflow import context

    seen = []

    def where(obj, old, new):
        seen.append((type(new).__name__, context.flow_name, context.get("task_full_name"), len(context.flow_run_id)))

    @task
    def boom():
        raise RuntimeError("x")

    @task(state_handlers=[where])
    def after(x, y):
        return x

    with Flow("ctx-handlers", state_handlers=[where]) as flow:
        after.map([1, 2], y=boom())
    flow.run()
    assert ("TriggerFailed", "ctx-handlers", "after[1]", 32) in seen
    assert ("Running", "ctx-handlers", None, 32) in seen


# ----- retried runs: what the handlers see (recorded on Prefect 1.4.1 in /work/p1venv) ----

def messages(seen):
    def handler(obj, old, new):
        seen.append(f"{type(old).__name__}({old.message!r}) -> {type(new).__name__}({new.message!r})")
        return new

    return handler


@pytest.mark.parametrize("max_retries", [0, 1])
def test_a_retry_signal_starts_the_next_attempt_from_its_own_state(max_retries):
    seen, calls = [], []

    @task(state_handlers=[messages(seen)], max_retries=max_retries,
          retry_delay=timedelta(0) if max_retries else None)
    def again(x=None):
        calls.append(1)
        if len(calls) == 1:
            raise signals.RETRY("try again")
        return "ok"

    with Flow("retry-signal") as flow:
        again.map([1]) if max_retries else again()  # (a mapped child, or the task itself)
    state = flow.run(record=False)
    assert state.is_successful() and len(calls) == 2
    transitions = [t for t in seen if "Mapped" not in t]
    assert transitions == [
        "Pending(None) -> Running('Starting task run.')",
        "Running('Starting task run.') -> Retrying('try again')",
        "Retrying('try again') -> Running('Starting task run.')",
        "Running('Starting task run.') -> Success('Task run succeeded.')",
    ]


def test_a_handlers_retrying_state_starts_the_next_attempt():
    seen, calls = [], []

    def retry_once(obj, old, new):
        seen.append(f"{type(old).__name__}({old.message!r}) -> {type(new).__name__}({new.message!r})")
        if new.is_failed() and len(calls) == 1:
            return states.Retrying("handler says again")
        return new

    @task(state_handlers=[retry_once])
    def flaky(x):
        calls.append(x)
        if len(calls) == 1:
            raise ValueError("first")
        return x

    with Flow("handler-retry") as flow:
        flaky.map([1])
    assert flow.run(record=False).is_successful()
    assert seen[3:] == ["Retrying('handler says again') -> Running('Starting task run.')",
                        "Running('Starting task run.') -> Success('Task run succeeded.')"]


def test_a_looping_task_that_fails_goes_through_failed_to_retrying():
    seen, calls = [], []

    @task(state_handlers=[messages(seen)], max_retries=1, retry_delay=timedelta(0))
    def looper():
        from ferroflow import context

        calls.append(1)
        k = context.get("task_loop_count", 1)
        if k < 3:
            raise signals.LOOP(result=k, message=f"loop {k}")
        if len(calls) <= 3:
            raise ValueError("boom in loop")
        return "ok"

    with Flow("loop-retry") as flow:
        looper()
    assert flow.run(record=False).is_successful() and len(calls) == 4
    failed = "Failed(\"Error during execution of task: ValueError('boom in loop')\")"
    assert seen == [
        "Pending(None) -> Running('Starting task run.')",
        "Running('Starting task run.') -> Looped('loop 1')",
        "Pending('Looping task (on loop index 1)') -> Running('Starting task run.')",
        "Running('Starting task run.') -> Looped('loop 2')",
        "Pending('Looping task (on loop index 2)') -> Running('Starting task run.')",
        f"Running('Starting task run.') -> {failed}",
        f"{failed} -> Retrying('Retrying Task (after attempt 1 of 2)')",
        "Retrying('Retrying Task (after attempt 1 of 2)') -> Running('Starting task run.')",
        "Running('Starting task run.') -> Success('Task run succeeded.')",
    ]


def _note_failure(obj, state):
    NOTED.append((obj.name, state.message))


NOTED: list = []


def test_the_on_failure_handler_pickles_with_plain_pickle():
    import pickle

    from ferroflow.runtime.handlers import on_failure_handler

    handler = pickle.loads(pickle.dumps(on_failure_handler(_note_failure)))
    assert handler.__name__ == "on_failure(_note_failure)"
    NOTED.clear()

    class Named:
        name = "t"

    failed = states.Failed("boom")
    assert handler(Named(), states.Running(), failed) is failed and NOTED == [("t", "boom")]
    ok = states.Success()
    assert handler(Named(), states.Running(), ok) is ok and len(NOTED) == 1
