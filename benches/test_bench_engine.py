"""pytest-benchmark suites for the engine (not part of `make test`):

    .venv/bin/python -m pytest benches --benchmark-only
"""

from __future__ import annotations

import pytest

from ferroflow import Flow, task


@task
def inc(x):
    return x + 1


@task
def total(xs):
    return sum(xs)


def _mapped_flow(n: int) -> Flow:
    with Flow("bench-map") as flow:
        total(inc.map(inc.map(list(range(n)))))
    return flow


def _layered_flow(width: int, depth: int) -> Flow:
    with Flow("bench-layers") as flow:
        layer = [inc(i) for i in range(width)]
        for _ in range(depth - 1):
            layer = [inc(t) for t in layer]
    return flow


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_map_map_reduce(benchmark, n):
    flow = _mapped_flow(n)
    state = benchmark(flow.run)
    assert state.is_successful()


def test_layered_dag_100x100(benchmark):
    flow = _layered_flow(100, 100)
    state = benchmark(flow.run)
    assert state.is_successful()


def test_freeze_10000_task_chain(benchmark):
    from ferroflow.engine.graph import freeze

    with Flow("chain") as flow:
        t = inc(0)
        for _ in range(9_999):
            t = inc(t)
    frozen = benchmark(freeze, flow)
    assert len(frozen.sorted_tasks()) == 10_000


def test_build_100000_task_flow(benchmark):
    def build():
        with Flow("big") as flow:
            t = inc(0)
            for _ in range(49_999):
                t = inc(t)
            for i in range(50_000):
                inc(i)
        return flow

    flow = benchmark.pedantic(build, rounds=3, iterations=1)
    assert len(flow.tasks) == 100_000
