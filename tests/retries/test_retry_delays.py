"""retry_delay as per-attempt lists and exponential backoff with jitter: the waits the
core schedules, per task and per mapped child (each by its own attempt)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ferroflow import Flow, _core, retries, task
from ferroflow.engine.graph import freeze
from ferroflow.retries import exponential_backoff


def failing(times: int, name: str = "flaky", **options):
    """A task that fails its first ``times`` attempts (per map index), then returns."""
    calls: dict = {}

    @task(name=name, **options)
    def flaky(x=None):
        calls[x] = calls.get(x, 0) + 1
        if calls[x] <= times:
            raise ValueError(f"attempt {calls[x]} of {x}")
        return calls[x]

    return flaky, calls


def test_a_list_gives_one_delay_per_attempt_and_defaults_max_retries(scheduled):
    flaky, _ = failing(99, retry_delay=[0.002, timedelta(milliseconds=4), 0.006])
    assert flaky.max_retries == 3
    assert flaky.retry_delay == tuple(timedelta(milliseconds=ms) for ms in (2, 4, 6))
    with Flow("list") as flow:
        t = flaky()
    state = flow.run()
    assert state.result[t].is_failed() and state.result[t].run_count == 4
    assert scheduled.waits(flow, t) == [2, 4, 6]
    assert scheduled.attempts(flow, t) == [1, 2, 3]


def test_the_last_delay_repeats_when_max_retries_is_larger(scheduled):
    flaky, _ = failing(4, retry_delay=[0.001, 0.003], max_retries=5)
    with Flow("repeat") as flow:
        t = flaky()
    state = flow.run()
    assert state.result[t].is_successful() and state.result[t].result == 5
    assert scheduled.waits(flow, t) == [1, 3, 3, 3]


def test_extra_delays_are_unused_when_max_retries_is_smaller(scheduled):
    flaky, _ = failing(99, retry_delay=[0.001, 60, 60], max_retries=1)
    with Flow("fewer") as flow:
        t = flaky()
    state = flow.run()
    assert state.result[t].is_failed() and state.result[t].run_count == 2
    assert scheduled.waits(flow, t) == [1]


def test_a_single_delay_still_waits_the_same_every_time(scheduled):
    flaky, _ = failing(2, retry_delay=timedelta(milliseconds=3), max_retries=2)
    with Flow("fixed") as flow:
        t = flaky()
    assert flow.run().result[t].run_count == 3
    assert scheduled.waits(flow, t) == [3, 3]


def test_mapped_children_wait_by_their_own_attempt(scheduled):
    calls: dict = {}

    @task(retry_delay=[0.001, 0.002, 0.003])
    def per_child(x):
        calls[x] = calls.get(x, 0) + 1
        if calls[x] <= x:  # child x fails x times
            raise ValueError(x)
        return x

    with Flow("children") as flow:
        m = per_child.map([0, 1, 2, 3])
    state = flow.run()
    assert [c.run_count for c in state.result[m].map_states] == [1, 2, 3, 4]
    assert state.result[m].result == [0, 1, 2, 3]
    assert [scheduled.waits(flow, m, i) for i in range(4)] == [[], [1], [1, 2], [1, 2, 3]]
    assert scheduled.attempts(flow, m, 3) == [1, 2, 3]


def test_exponential_backoff_is_capped(scheduled):
    flaky, _ = failing(99, max_retries=5, retry_delay=exponential_backoff(base=0.001, factor=2, max_delay=0.005))
    with Flow("backoff") as flow:
        t = flaky()
    state = flow.run()
    assert state.result[t].run_count == 6
    assert scheduled.waits(flow, t) == [1, 2, 4, 5, 5]


def test_backoff_accepts_timedeltas_and_reports_its_delays():
    b = exponential_backoff(base=timedelta(milliseconds=500), factor=3, max_delay=timedelta(seconds=10))
    assert b.delays(5) == [0.5, 1.5, 4.5, 10.0, 10.0]
    assert b.delay(1) == 0.5
    assert exponential_backoff(base=0).delays(3) == [0, 0, 0]
    # a huge factor saturates instead of overflowing
    assert exponential_backoff(factor=1e300).delays(3)[-1] == retries.MAX_DELAY_SECONDS
    with pytest.raises(ValueError, match="from 1"):
        b.delay(0)


def _jittered_flow(seed=None, width=40):
    @task(max_retries=1, retry_delay=exponential_backoff(base=0.02, jitter=1.0, seed=seed))
    def once(x):
        from ferroflow import context

        if context.task_run_count == 1:
            raise ValueError(x)
        return x

    with Flow("jitter") as flow:
        m = once.map(list(range(width)))
    return flow, m


def test_jitter_stays_within_the_delay_and_a_seed_repeats_it(scheduled):
    flow, m = _jittered_flow(seed=1234)
    assert flow.run().result[m].is_successful()
    first = [scheduled.waits(flow, m, i) for i in range(40)]
    assert all(len(w) == 1 and 0 <= w[0] <= 20 for w in first)
    assert len({w[0] for w in first}) > 5, "full jitter spreads the waits"
    scheduled.clear()
    flow.run()
    assert [scheduled.waits(flow, m, i) for i in range(40)] == first, "a pinned seed repeats"


def test_each_flow_run_draws_its_own_jitter(scheduled):
    flow, m = _jittered_flow(seed=None)
    flow.run()
    first = [scheduled.waits(flow, m, i) for i in range(40)]
    scheduled.clear()
    flow.run()
    second = [scheduled.waits(flow, m, i) for i in range(40)]
    assert all(0 <= w[0] <= 20 for w in first + second)
    assert first != second


def test_jitter_never_lengthens_a_wait(scheduled):
    flaky, _ = failing(99, max_retries=4, retry_delay=exponential_backoff(base=0.004, factor=1, jitter=0.5))
    with Flow("half") as flow:
        t = flaky()
    flow.run()
    waits = scheduled.waits(flow, t)
    assert len(waits) == 4 and all(2 <= w <= 4 for w in waits)


def test_specs_carry_per_attempt_delays_jitter_and_seed():
    @task(retry_delay=[1, 2.5, timedelta(minutes=1)])
    def listed():
        pass

    @task(max_retries=4, retry_delay=exponential_backoff(base=1, max_delay=3, jitter=0.25))
    def backed():
        pass

    @task(max_retries=2, retry_delay=exponential_backoff(jitter=0.5, seed=99))
    def pinned():
        pass

    @task
    def plain():
        pass

    with Flow("specs") as flow:
        listed(), backed(), pinned(), plain()
    frozen = freeze(flow)
    by_name = {t.name: spec for t, spec in zip(frozen.tasks, frozen.specs(seed=7), strict=True)}

    def retry_fields(spec):
        return spec.max_retries, spec.retry_delays_ms, spec.retry_jitter, spec.retry_seed

    assert retry_fields(by_name["listed"]) == (3, [1000, 2500, 60000], 0.0, 7)
    assert retry_fields(by_name["backed"]) == (4, [1000, 2000, 3000], 0.25, 7), "trailing repeats are left to the core"
    assert retry_fields(by_name["pinned"]) == (2, [1000, 2000], 0.5, 99), "a backoff's own seed wins"
    assert retry_fields(by_name["plain"])[:3] == (0, [], 0.0)  # no retries: the seed is never used
    # the seed decides the jitter: same seed, same waits; the core previews them
    runs = [_core.Run(frozen.graph, frozen.specs(seed=s)) for s in (7, 7, 8)]
    backed_id = [t.name for t in frozen.tasks].index("backed")
    draws = [[r.retry_delay_ms(backed_id, i, a) for i in range(20) for a in (1, 2, 3, 4)] for r in runs]
    assert draws[0] == draws[1] != draws[2]
    assert all(750 <= d <= 1000 for d in draws[0][::4])


def test_sub_millisecond_delays_round_to_the_millisecond():
    flaky, _ = failing(1, retry_delay=[0.0004, 0.0006])
    with Flow("round") as flow:
        flaky()
    frozen = freeze(flow)
    assert frozen.specs(seed=0)[0].retry_delays_ms == [0, 1]


def test_copies_keep_and_replace_per_attempt_delays():
    flaky, _ = failing(0, retry_delay=[1, 2])
    copy = flaky.copy()
    assert (copy.max_retries, copy.retry_delay) == (2, flaky.retry_delay)
    other = flaky.copy(retry_delay=exponential_backoff(), max_retries=7)
    assert other.max_retries == 7 and isinstance(other.retry_delay, retries.ExponentialBackoff)
    fixed = flaky.copy(retry_delay=3)
    assert (fixed.max_retries, fixed.retry_delay) == (2, timedelta(seconds=3))



def test_a_list_of_delays_defaults_max_retries_in_copy_and_task_args_too():
    from ferroflow import Task

    base = Task(name="base")
    assert base.copy(retry_delay=[1, 2]).max_retries == 2
    assert base.copy(retry_delay=[1, 2], max_retries=5).max_retries == 5
    assert Task(name="kept", max_retries=1, retry_delay=1).copy(retry_delay=[1, 2, 3]).max_retries == 1
    with Flow("args"):
        called = task(lambda: 1, name="t")(task_args={"retry_delay": [1, 2, 3]})
    assert called.max_retries == 3
