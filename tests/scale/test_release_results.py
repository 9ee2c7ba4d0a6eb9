"""keep_results=False: a mapped pipeline holds a bounded number of intermediate values,
whatever the width of the map; keep_results=True (the default) keeps them all."""

import gc
import threading

import pytest

from ferroflow import Flow, task
from ferroflow.engine import runner


class Payload:
    """Counts live instances (a stand-in for a large intermediate value)."""

    lock = threading.Lock()
    live = 0
    peak = 0

    def __init__(self, n):
        self.n = n
        with Payload.lock:
            Payload.live += 1
            Payload.peak = max(Payload.peak, Payload.live)

    def __del__(self):
        with Payload.lock:
            Payload.live -= 1


@pytest.fixture(autouse=True)
def reset():
    gc.collect()
    Payload.live = Payload.peak = 0


@task
def load(i):
    return Payload(i)


@task
def transform(p):
    return Payload(p.n * 2)


@task
def save(p):
    return p.n % 7


@task
def count(xs):
    return sum(xs)


N = 120_000


def pipeline():
    with Flow("pipeline") as flow:
        saved = save.map(transform.map(load.map(list(range(N)))))
        total = count(saved)
    return flow, saved, total


def test_released_pipeline_holds_a_bounded_number_of_values():
    flow, _, total = pipeline()
    state = flow.run(keep_results=False, record=False)
    assert state.result[total].result == sum((2 * i) % 7 for i in range(N))
    bound = 4 * runner.WINDOW_PER_SLOT  # a window of loads and transforms, and the units in hand
    assert Payload.peak <= bound < N


def test_by_default_every_value_is_kept_for_the_final_state():
    flow, _, total = pipeline()
    state = flow.run(record=False)
    assert Payload.peak >= 2 * N
    loads = [t for t in flow.tasks if t.name == "load"][0]
    assert state.result[loads].map_states[N - 1].result.n == N - 1


def test_reference_tasks_and_reduced_tasks_keep_their_values():
    @task
    def inc(x):
        return x + 1

    @task
    def double(x):
        return 2 * x

    with Flow("kept") as flow:
        a = inc.map(list(range(10)))
        b = double.map(a)
        c = count(a)  # a is also consumed whole: kept
        d = double.map(b)
    flow.set_reference_tasks([b, c, d])  # b is referenced: kept
    state = flow.run(keep_results=False, record=False)
    assert [s.result for s in state.result[a].map_states] == list(range(1, 11))
    assert [s.result for s in state.result[b].map_states] == [2 * x for x in range(1, 11)]
    assert state.result[c].result == 55


def test_an_intermediate_child_value_is_released_but_its_state_stays():
    @task
    def inc(x):
        return x + 1

    with Flow("released") as flow:
        a = inc.map(list(range(5)))
        b = inc.map(a)
    state = flow.run(keep_results=False, record=False)
    assert [s.result for s in state.result[b].map_states] == [2, 3, 4, 5, 6]
    assert [s.result for s in state.result[a].map_states] == [None] * 5
    assert all(s.is_successful() for s in state.result[a].map_states)


def test_a_list_returned_by_an_unmapped_task_is_never_touched():
    @task
    def items():
        return [1, 2, 3]

    @task
    def inc(x):
        return x + 1

    with Flow("shared") as flow:
        i = items()
        inc.map(i)
    state = flow.run(keep_results=False, record=False)
    assert state.result[i].result == [1, 2, 3]


def test_retried_children_keep_their_inputs_until_they_finish():
    from datetime import timedelta

    attempts = {}

    @task
    def inc(x):
        return x + 1

    @task(max_retries=2, retry_delay=timedelta(0))
    def flaky(x):
        attempts[x] = attempts.get(x, 0) + 1
        if attempts[x] < 3:
            raise ConnectionError("again")
        return x * 10

    with Flow("retries") as flow:
        out = flaky.map(inc.map(list(range(4))))
    state = flow.run(keep_results=False, record=False)
    assert [s.result for s in state.result[out].map_states] == [10, 20, 30, 40]


def test_keep_results_must_be_a_bool():
    flow, _, _ = pipeline()
    with pytest.raises(TypeError, match="keep_results must be True or False"):
        flow.run(keep_results="no")


def test_the_flow_default_and_the_cli_release():
    with Flow("declared-big", keep_results=False) as flow:
        a = transform.map(load.map(list(range(50))))
        save.map(a)
    state = flow.run(record=False)
    assert state.result[a].map_states[0].result is None  # released by the flow's default
    assert flow.run(record=False, keep_results=True).result[a].map_states[0].result.n == 0
    with pytest.raises(TypeError, match="keep_results must be True or False"):
        Flow("bad", keep_results="yes")


def test_the_cli_releases_unless_told_to_keep(tmp_path, monkeypatch):
    from ferroflow.cli import main as cli_main
    from ferroflow.engine import runner as runner_module

    seen = []
    real = runner_module.run_flow

    def spy(*args, **kwargs):
        seen.append(kwargs["keep_results"])
        return real(*args, **kwargs)

    monkeypatch.setattr(runner_module, "run_flow", spy)
    import ferroflow.engine

    monkeypatch.setattr(ferroflow.engine, "run_flow", spy)
    path = tmp_path / "f.py"
    path.write_text("from ferroflow import Flow, task\n@task\ndef one():\n    return 1\n"
                    "with Flow('f') as flow:\n    one()\n")
    assert cli_main(["run", str(path), "--no-progress", "--no-record"]) == 0
    assert cli_main(["run", str(path), "--no-progress", "--no-record", "--keep-results"]) == 0
    assert seen == [False, True]
