"""Task functions taking ``*args`` in eager flows (Prefect 3 runs them): every path a
call can take passes the extra positional arguments back by position: a plain call,
a call with retries (a work unit, called with keywords), a submitted call on threads
and on processes, ``async def`` tasks, caching on inputs and resuming. A map cannot
map over ``*args`` (its inputs are mapped by name): refused, saying so."""

from __future__ import annotations

import asyncio

import pytest

from ferroflow import flow, task
from ferroflow.cache_policies import INPUTS
from ferroflow.executors import ProcessesExecutor


@task
def fmt(a, b=2, *rest, c=3, **more):
    return [a, b, list(rest), c, sorted(more.items())]


@task(retries=1, retry_delay_seconds=0)
def flaky(a, *rest):
    flaky_calls.append((a, rest))
    if len(flaky_calls) == 1:
        raise RuntimeError("first attempt fails")
    return [a, list(rest)]


flaky_calls: list = []


def spread(a, *rest, scale=1):
    return [a * scale, [x * scale for x in rest]]


def test_a_plain_call_passes_star_args_keywords_and_defaults():
    @flow
    def f():
        return [fmt(1), fmt(1, 5, 6, 7, c=8, z=9), fmt(a=1, b=3), fmt(1, 2, 3)]

    assert f() == [[1, 2, [], 3, []], [1, 5, [6, 7], 8, [("z", 9)]], [1, 3, [], 3, []], [1, 2, [3], 3, []]]


def test_a_call_with_retries_runs_as_a_unit_and_passes_star_args_on_every_attempt():
    flaky_calls.clear()

    @flow
    def f():
        return flaky(1, 2, 3)

    assert f() == [1, [2, 3]]
    assert flaky_calls == [(1, (2, 3)), (1, (2, 3))]


@pytest.mark.parametrize("executor", ["threads", ProcessesExecutor(max_workers=2)])
def test_submitted_calls_pass_star_args_on_threads_and_processes(executor):
    scaled = task(spread)

    @flow(executor=executor)
    def f():
        futures = [scaled.submit(1, 2, 3, scale=10), scaled.submit(4)]
        return [future.result() for future in futures]

    assert f() == [[10, [20, 30]], [4, []]]


def test_async_tasks_take_star_args_plain_and_with_retries():
    @task
    async def plain(a, *rest):
        await asyncio.sleep(0)
        return [a, list(rest)]

    attempts: list = []

    @task(retries=1, retry_delay_seconds=0)
    async def retried(a, *rest):
        attempts.append(rest)
        if len(attempts) == 1:
            raise RuntimeError("again")
        return [a, list(rest)]

    @flow
    async def f():
        return [await plain(1, 2, 3), await retried(4, 5)]

    assert asyncio.run(f()) == [[1, [2, 3]], [4, [5]]]
    assert attempts == [(5,), (5,)]


def test_inputs_caching_tells_calls_apart_by_their_star_args():
    runs: list = []

    @task(cache_policy=INPUTS)
    def cached(*values):
        runs.append(values)
        return sum(values)

    @flow
    def f():
        return [cached(1, 2), cached(1, 2), cached(1, 2, 3)]

    assert f() == [3, 3, 6]
    assert runs == [(1, 2), (1, 2, 3)]


def test_a_map_over_star_args_is_refused_and_a_map_by_name_works():
    @flow
    def refused():
        return fmt.map([1, 2], 3, 4)

    state = refused(return_state=True)
    assert state.is_failed()
    with pytest.raises(TypeError, match=r"\.map\(\) maps inputs by name.*\*rest"):
        state.result()

    @flow
    def by_name():
        return fmt.map([1, 2], b=[5, 6]).result()

    assert by_name() == [[1, 5, [], 3, []], [2, 6, [], 3, []]]


def test_a_keyword_named_like_star_args_is_a_binding_error():
    @flow
    def f():
        return fmt(1, 2, 3, rest=(4,))

    with pytest.raises(TypeError, match="fmt"):
        f()
