"""Caching in eager flows (``@flow``) follows Prefect 3: global keys, Completed then
Cached with no message, no caching for keys that cannot be computed, expiration of
zero, ``persist_result`` and ``refresh_cache``. Entries are kept in a real result
store on disk (one per test), read back by a second flow run."""

from __future__ import annotations

import datetime
import threading

import pytest

from ferroflow import Flow, flow, task
from ferroflow.cache_policies import INPUTS
from ferroflow.results import Result, hash_value
from ferroflow.results.cache import CACHE_PREFIX, UnhashableValue, strict_hashing
from ferroflow.tasks import task_input_hash


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def kept(cache_dir):
    """The result store the tests' tasks cache in."""
    return Result(base=cache_dir.as_uri())


def entries(cache_dir) -> list:
    """The cache records on disk."""
    return sorted(p for p in cache_dir.rglob("*") if p.is_file() and CACHE_PREFIX in str(p))


def counted(calls: list, **options):
    @task(**options)
    def work(x):
        calls.append(x)
        return x * 10

    return work


def test_a_call_that_runs_ends_completed_and_a_hit_cached_within_and_across_runs(kept, cache_dir):
    calls: list = []
    work = counted(calls, cache_policy=INPUTS, result=kept)

    @flow
    def f(x):
        return [work(x, return_state=True), work(x, return_state=True)]

    first, second = f(1)
    assert (first.name, first.message, first.result()) == ("Completed", None, 10)
    assert (second.name, second.message, second.result()) == ("Cached", None, 10)
    assert second.is_completed()
    assert calls == [1]
    assert entries(cache_dir)  # kept on disk

    again = f(1)  # a second flow run reads the entry
    assert [s.name for s in again] == ["Cached", "Cached"] and calls == [1]
    assert [s.result() for s in f(2)] == [20, 20] and calls == [1, 2]


def test_an_inputs_key_is_shared_between_tasks_with_equal_inputs(kept):
    ran: list = []

    @task(cache_policy=INPUTS, result=kept)
    def a(x):
        ran.append("a")
        return x * 10

    @task(cache_policy=INPUTS, result=kept)
    def b(x):
        ran.append("b")
        return x * 1000

    @flow
    def f():
        return [a(1), b(1), b(2)]

    assert f() == [10, 10, 2000]  # b(1) is a's entry, as in Prefect 3
    assert ran == ["a", "b"]


def test_task_input_hash_keys_on_the_function_so_two_tasks_of_one_function_share(kept):
    calls: list = []
    one = counted(calls, cache_key_fn=task_input_hash, result=kept)
    two = counted(calls, cache_key_fn=task_input_hash, result=kept)

    @task(cache_key_fn=task_input_hash, result=kept)
    def other(x):
        calls.append(("other", x))
        return -x

    @flow
    def f():
        return [one(1), two(1), two(x=1), other(1)]

    assert f() == [10, 10, 10, -1]
    assert calls == [1, ("other", 1)]
    assert f() == [10, 10, 10, -1] and len(calls) == 2  # across runs too


def test_a_key_that_cannot_be_computed_means_no_caching_and_no_error(kept, caplog):
    calls: list = []

    @task(cache_policy=INPUTS, result=kept)
    def uses_lock(lock, x):
        calls.append(x)
        return x

    def broken(context, inputs):
        raise KeyError("no such input")

    raising = counted(calls, cache_key_fn=broken, result=kept)

    @flow
    def f():
        states = [uses_lock(threading.Lock(), 1, return_state=True) for _ in range(3)]
        return states + [raising(5, return_state=True), raising(5, return_state=True)]

    states = f()
    assert [s.name for s in states] == ["Completed"] * 5
    assert calls == [1, 1, 1, 5, 5]
    assert "cannot be pickled" not in caplog.text  # not hashed from its repr()


def test_strict_hashing_raises_for_what_cannot_be_pickled_and_only_inside_the_block():
    lock = threading.Lock()
    with strict_hashing(), pytest.raises(UnhashableValue, match="lock"):
        hash_value({"a": [lock]})
    assert isinstance(hash_value(lock), str)  # outside: its repr(), as before
    with strict_hashing():
        assert hash_value([1, "x"]) == hash_value([1, "x"])


def test_cache_expiration_of_zero_never_reuses(kept):
    calls: list = []
    work = counted(calls, cache_policy=INPUTS, cache_expiration=datetime.timedelta(0), result=kept)

    @flow
    def f():
        return [work(1, return_state=True), work(1, return_state=True)]

    assert [s.name for s in f() + f()] == ["Completed"] * 4
    assert calls == [1, 1, 1, 1]
    with Flow("deferred") as deferred:  # a deferred flow takes the option too and caches nothing
        r = work(1)
    assert deferred.run().result[r].result == 10 and len(calls) == 5
    with pytest.raises(ValueError, match="cache_for must be positive"):
        task(cache_for=datetime.timedelta(0))(lambda: 1)  # ferroflow's own option: as before


def test_persist_result_false_turns_caching_off_and_true_caches_within_a_run(kept):
    calls: list = []
    off = counted(calls, cache_policy=INPUTS, persist_result=False, result=kept)

    @flow
    def f():
        return [off(1), off(1)]

    f()
    assert calls == [1, 1]

    persisted: list = []
    on = counted(persisted, persist_result=True, result=kept)  # no policy: DEFAULT (with RUN_ID)

    @flow
    def g():
        return [on(3, return_state=True), on(3, return_state=True)]

    assert [s.name for s in g()] == ["Completed", "Cached"]
    assert [s.name for s in g()] == ["Completed", "Cached"]  # a new run: a new key
    assert persisted == [3, 3]


def test_refresh_cache_runs_the_call_and_overwrites_the_entry(kept):
    values = iter([1, 2, 3])
    calls: list = []

    @task(cache_policy=INPUTS, result=kept)
    def work(x):
        calls.append(x)
        return next(values)

    @flow
    def f():
        return [work(0), work.with_options(refresh_cache=True)(0), work(0)]

    assert f() == [1, 2, 2]  # the third call reads what the refresh wrote
    assert calls == [0, 0]
    assert f() == [2, 3, 3] and len(calls) == 3  # a refreshing call always runs


def test_failures_are_not_cached(kept):
    attempts: list = []

    @task(cache_policy=INPUTS, result=kept)
    def flaky(x):
        attempts.append(x)
        if len(attempts) == 1:
            raise ValueError("first time")
        return x

    @flow
    def f():
        first = flaky(1, return_state=True)
        return [first.name, flaky(1, return_state=True).name, flaky(1, return_state=True).name]

    assert f() == ["Failed", "Completed", "Cached"]
    assert len(attempts) == 2


def test_deferred_flows_keep_prefect_1_caching(kept):
    calls: list = []
    work = counted(calls, cache_policy=INPUTS, result=kept)
    with Flow("deferred") as deferred:
        r = work(1)
    state = deferred.run().result[r]
    assert state.is_cached() and state.message == "Task run succeeded." and calls == [1]
    assert deferred.run().result[r].is_cached() and calls == [1]

    @flow
    def f():  # deferred entries are the task's own: an eager call does not see them
        return [work(1, return_state=True)]

    assert f()[0].name == "Completed" and calls == [1, 1]
    assert f()[0].name == "Cached" and calls == [1, 1]
