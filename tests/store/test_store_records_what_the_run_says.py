"""What the run store records for each task is what the run's own states say (state,
message, attempt), for every way a task can end: the recorder writes a task run that
simply succeeded once, with its final message, during the run, and at the end only what
changed since (decided by the core, retried, cancelled), so nothing may be lost."""

from __future__ import annotations

from ferroflow import Flow, Parameter, signals, task, triggers
from ferroflow.store import get_run_store


def test_every_task_is_recorded_as_the_flow_state_has_it(recording_home):
    attempts = {"n": 0}

    @task
    def ok(x):
        return x + 1

    @task
    def boom(x):
        raise ValueError("no")

    @task(max_retries=2, retry_delay=0)
    def flaky():
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise RuntimeError("again")
        return "fine"

    @task
    def skipper():
        raise signals.SKIP("skip me")

    @task(trigger=triggers.all_failed)
    def only_if_failed(x):
        return x

    @task
    def double(x):
        return 2 * x

    with Flow("everything") as flow:
        n = Parameter("n", default=1)
        a = ok(n)
        b = boom(a)
        c = ok(b)  # TriggerFailed, decided by the core
        d = flaky()
        s = skipper()
        after_skip = ok(s)  # Skipped, decided by the core
        never = only_if_failed(a)  # TriggerFailed: a succeeded
        m = double.map([a, 5, 7])
        ok(5)  # a constant input
    state = flow.run()
    assert state.recorded
    tasks = {t.task_id: t for t in get_run_store(True).task_states(state.flow_run_id)}
    frozen_ids = {t: i for i, t in enumerate(flow._tasks)}
    for t in (n, a, b, c, d, s, after_skip, never, m):
        recorded = tasks[frozen_ids[t]]
        expected = state.result[t]
        assert recorded.state == type(expected).__name__, t
        assert recorded.message == expected.message, t
        assert recorded.run_count == expected.run_count, t
    assert tasks[frozen_ids[d]].run_count == 3
    assert tasks[frozen_ids[a]].message == "Task run succeeded."


def test_both_ways_of_writing_many_rows_record_the_same(recording_home, monkeypatch):
    """The store writes a batch of many rows with ``executemany`` when nothing else may
    want the GIL, else through one JSON statement (no convoy behind a busy thread): both
    record the same thing."""
    from ferroflow.store import transaction

    @task
    def maybe(i):
        if i % 7 == 0:
            raise ValueError(f"bad {i}")
        return i

    with Flow("many rows") as flow:
        for i in range(300):
            maybe(i)
    recorded = []
    for alone in (True, False):
        monkeypatch.setattr(transaction.Transaction, "_alone", lambda self, alone=alone: alone)
        state = flow.run()
        rows = get_run_store(True).task_states(state.flow_run_id, failed_limit=None)
        recorded.append(sorted((t.task_id, t.state, t.message, t.run_count) for t in rows))
    assert len(recorded[0]) == 300
    assert sum(1 for r in recorded[0] if r[1] == "Failed") == 43
    assert recorded[0] == recorded[1]
