"""DaskExecutor beyond the conformance suite, against a real LocalCluster (two worker
processes on 127.0.0.1): a worker killed in the middle of a mapped flow, KilledWorker
and retries, a unit's outcome recorded once, resources from tags, an external cluster
left running, a cluster of its own closed, small payloads, Ctrl-C, clear errors."""

from __future__ import annotations

import logging
import os
import pickle
import signal
import socket
import sys
import textwrap
import threading
import time
import types
from datetime import timedelta
from pathlib import Path

import pytest

from ferroflow import Flow, context, get_logger, signals, states, task, unmapped
from ferroflow.errors import ExecutorError
from ferroflow.executors.remote import RemoteTaskError, WorkerCrashedError, pack_unit
from ferroflow.plugins import get_executor
from ferroflow.results import SerializationError
from ferroflow.testing.conformance import Spy
from ferroflow_dask import CONNECT_TIMEOUT, DaskExecutor, resources_from_tags


@task
def inc(x):
    return x + 1


@task
def total(xs):
    return sum(xs)


@task
def stall_once(x, marker):
    """Item 5 of the first execution writes its worker's pid to ``marker`` and stalls
    there (until the test kills that worker); any later execution goes on."""
    if x == 5 and not os.path.exists(marker):
        with open(marker + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(marker + ".tmp", marker)
        time.sleep(120)
    return x * 2


def _kill_when_written(marker: str, pids: set, killed: list) -> threading.Thread:
    def kill() -> None:
        deadline = time.monotonic() + 120  # a hang guard only
        while not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.01)
        pid = int(Path(marker).read_text())
        killed.append(pid)
        if pid in pids:  # never kill anything but a worker of the test's cluster
            os.kill(pid, signal.SIGKILL)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


class Counting(DaskExecutor):
    """Counts the units it returns, per unit object, to prove none comes back twice."""

    def start(self):
        super().start()
        self.returned: dict = {}
        self.submitted = 0

    def submit(self, unit):
        self.submitted += 1
        super().submit(unit)

    def wait(self):
        out = super().wait()
        for unit, _ in out:  # (the unit is kept, so that its id is not reused)
            self.returned[id(unit)] = (unit, self.returned.get(id(unit), (unit, 0))[1] + 1)
        return out

    def counts(self) -> set:
        return {count for _, count in self.returned.values()}


def test_a_worker_killed_mid_map_is_rescheduled_and_results_are_right(address, client, tmp_path):
    marker = str(tmp_path / "pid")
    pids = set(client.run(os.getpid).values())
    assert len(pids) == 2
    n = 2_000
    with Flow("killed") as flow:
        doubled = stall_once.map(list(range(n)), marker=unmapped(marker))
        t = total(doubled)
    killed: list = []
    killer = _kill_when_written(marker, pids, killed)
    executor = Counting(address=address)
    state = flow.run(executor=executor)
    killer.join()
    assert killed and killed[0] in pids, (killed, pids)
    assert state.is_successful(), state.message
    assert state.result[doubled].result == [2 * x for x in range(n)]
    assert state.result[t].result == n * (n - 1)
    # Dask ran the lost unit again: no ferroflow retry was needed, no unit came back twice.
    assert all(s.run_count == 1 for s in state.result[doubled].map_states)
    assert executor.counts() == {1} and len(executor.returned) == executor.submitted
    assert os.getpid() not in pids  # the flow process was not touched


@task(max_retries=1, retry_delay=timedelta(0))
def dies_on_first_attempt(x):
    if x == 1 and context.task_run_count == 1:
        os.kill(os.getpid(), signal.SIGKILL)
    return (x, context.task_run_count)


def test_killed_worker_fails_the_unit_and_the_tasks_retries_apply(address, cluster):
    scheduler = cluster.scheduler
    allowed = scheduler.allowed_failures
    scheduler.allowed_failures = 0  # Dask gives up on the first death: KilledWorker
    try:
        with Flow("killed-worker") as flow:
            m = dies_on_first_attempt.map([0, 1, 2])
        executor = Counting(address=address)
        state = flow.run(executor=executor)
    finally:
        scheduler.allowed_failures = allowed
    assert state.is_successful(), state.message
    results = state.result[m].result
    assert [x for x, _ in results] == [0, 1, 2]
    # The unit holding item 1 failed with its worker (KilledWorker), ran again in halves
    # until item 1 was alone; it failed (a WorkerCrashedError) and was retried.
    assert results[1] == (1, 2)
    assert executor.counts() == {1}


@task
def poison_11(x):
    if x == 11:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * 3


def test_a_poison_item_fails_alone_and_the_rest_of_its_unit_completes():
    """RELIABILITY.md B2 on Dask: the unit Dask gives up on runs in halves, until the
    item that kills its workers is alone. On a cluster of its own whose workers hold
    one unit at a time: Dask gives up on every unit a dying worker holds, so with more
    the poison's neighbours could be given up on with it (and split in turn)."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0,
                          "distributed.scheduler.allowed-failures": 0}):  # one death per lost unit
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=":0") as cluster:
            with Flow("poison") as flow:
                m = poison_11.map(list(range(40)))
            executor = Counting(address=cluster.scheduler_address)
            state = flow.run(executor=executor)
    children = state.result[m].map_states
    assert [i for i, c in enumerate(children) if not c.is_successful()] == [11]
    crashed = children[11].result
    assert isinstance(crashed, WorkerCrashedError) and crashed.map_index == 11
    assert "task 'poison_11' (1 task run(s)) kept dying" in str(crashed)
    assert [c.result for i, c in enumerate(children) if i != 11] == [3 * i for i in range(40) if i != 11]
    assert all(c.run_count == 1 for c in children)
    assert 1 <= executor.stats["split"] <= 6  # log2 of the unit's size, at most
    assert executor.counts() == {1}  # each unit the engine gave came back once


@task(max_retries=0)
def dies_always():
    os.kill(os.getpid(), signal.SIGKILL)


def test_killed_worker_error_names_the_task(address, cluster):
    scheduler = cluster.scheduler
    allowed = scheduler.allowed_failures
    scheduler.allowed_failures = 0
    try:
        with Flow("dies") as flow:
            d = dies_always()
        state = flow.run(executor=DaskExecutor(address=address))
    finally:
        scheduler.allowed_failures = allowed
    failed = state.result[d]
    assert failed.is_failed() and isinstance(failed.result, WorkerCrashedError)
    assert failed.result.task_name == "dies_always"
    assert "task 'dies_always'" in str(failed.result) and "kept dying" in str(failed.result)
    assert "KilledWorker" in failed.traceback


class Duplicating(Counting):
    """Has Dask report every completion twice, as a recomputed task would be."""

    def _track(self, future):
        super()._track(future)
        super()._track(future)


def test_a_units_outcome_is_recorded_once(address):
    executor = Duplicating(address=address)
    with Flow("dups") as flow:
        m = inc.map(list(range(300)))
        t = total(m)
    state = flow.run(executor=executor)
    assert state.result[m].result == list(range(1, 301)) and state.result[t].result == sum(range(1, 301))
    assert executor.counts() == {1} and len(executor.returned) == executor.submitted
    assert executor.stats["ignored"] >= 1  # duplicates did arrive, and were dropped


@task(tags=["dask-resource:GPU=1"])
def on_gpu(x, path):
    start = time.monotonic()
    time.sleep(0.2)
    with open(path, "a") as f:
        f.write(f"{os.getpid()} {start} {time.monotonic()}\n")
    return x


def test_resources_from_tags_limit_concurrency(address, tmp_path):
    path = str(tmp_path / "intervals")
    with Flow("gpu") as flow:
        m = on_gpu.map(list(range(8)), path=unmapped(path))
    executor = DaskExecutor(address=address)
    state = flow.run(executor=executor)
    assert state.result[m].result == list(range(8))
    rows = [line.split() for line in Path(path).read_text().splitlines()]
    by_pid: dict = {}
    for pid, start, end in rows:
        by_pid.setdefault(pid, []).append((float(start), float(end)))
    # Each worker has two threads but one GPU: its GPU task runs never overlap.
    for intervals in by_pid.values():
        intervals.sort()
        pairs = zip(intervals, intervals[1:], strict=False)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairs), intervals


def test_resources_from_tags_parsing():
    assert resources_from_tags({"etl", "dask-resource:GPU=1", "dask-resource:memory=2.5e9"}) == \
        {"GPU": 1.0, "memory": 2.5e9}
    assert resources_from_tags({"etl"}) is None
    for bad in ("dask-resource:GPU", "dask-resource:=1"):
        with pytest.raises(ExecutorError, match=f"Task 'train' has the tag '{bad}', which is not a Dask resource"):
            resources_from_tags({bad}, "train")
    for bad, amount in (("dask-resource:GPU=lots", "lots"), ("dask-resource:GPU=-1", "-1"),
                        ("dask-resource:GPU=nan", "nan"), ("dask-resource:GPU=inf", "inf")):
        with pytest.raises(ExecutorError, match=f"Task 'train' has the tag '{bad}': '{amount}' is not an amount of a "
                                                f"Dask resource \\(a number >= 0"):
            resources_from_tags({bad}, "train")


def test_a_resource_tag_of_0_asks_for_none():
    """ferroflow's one rule for resource tags (as with Ray): 0 is an amount, and asking
    for 0 of a resource restricts nothing."""
    assert resources_from_tags({"dask-resource:GPU=0"}, "train") is None
    assert resources_from_tags({"dask-resource:GPU=0", "dask-resource:db=1"}, "train") == {"db": 1}


def test_two_amounts_of_one_resource_are_refused():
    assert resources_from_tags({"dask-resource:GPU=1", "dask-resource:GPU=1.0"}, "train") == {"GPU": 1}
    with pytest.raises(ExecutorError, match="Task 'train' has the tags 'dask-resource:GPU=1' and "
                                            "'dask-resource:GPU=2', which ask Dask for different amounts of "
                                            "resource 'GPU'"):
        resources_from_tags({"dask-resource:GPU=1", "dask-resource:GPU=2"}, "train")


@task(tags=["dask-resource:TPU=0"])
def needs_no_tpu(x):
    return x * 2


def test_a_task_asking_for_0_of_a_resource_no_worker_offers_runs(address):
    # The module's workers offer GPU only; with the TPU restriction Dask would hold the
    # units for ever, waiting for a worker that offers TPU.
    with Flow("no-tpu") as flow:
        m = needs_no_tpu.map([1, 2, 3])
    state = flow.run(executor=DaskExecutor(address=address))
    assert state.is_successful(), state
    assert state.result[m].result == [2, 4, 6]


@task(tags=["dask-resource:GPU"])
def badly_tagged(x):
    return x


def test_a_malformed_resource_tag_fails_its_task_runs_naming_it(address):
    with Flow("badtag") as flow:
        m = badly_tagged.map([1, 2])
        ok = inc(1)
    state = flow.run(executor=DaskExecutor(address=address))
    for child in state.result[m].map_states:
        assert child.is_failed() and isinstance(child.result, ExecutorError)
        assert "Task 'badly_tagged' has the tag 'dask-resource:GPU', which is not a Dask resource" in child.message
    assert state.result[ok].result == 2
    # Without resources from tags, the tag is only a tag.
    state = flow.run(executor=DaskExecutor(address=address, resources_from_tags=False))
    assert state.result[m].result == [1, 2]


@task(tags=["dask-resource:TPU=2"])
def on_tpu(x):
    return x


def test_a_resource_no_worker_offers_is_warned_about(address, caplog):
    caplog.set_level(logging.WARNING, logger="ferroflow.dask")
    with Flow("tpu") as flow:
        on_tpu(1)
    # Dask would hold the unit until a worker with a TPU joins: end the run at the first wait.
    spy = Spy(DaskExecutor(address=address), fail_at=1)
    state = flow.run(executor=spy)
    assert state.is_failed() and "injected executor failure" in state.message
    [message] = [r.getMessage() for r in caplog.records if r.name == "ferroflow.dask"]
    assert "task 'on_tpu' asks for Dask resource TPU=2 (tag 'dask-resource:TPU=2')" in message
    assert "offered: 0, 0" in message


def test_an_external_cluster_is_used_and_left_running(address, cluster, client):
    executor = DaskExecutor(address=address)
    executor.start()
    try:
        assert executor.slots() == 4  # two workers of two threads
        assert executor.cluster is None and executor.client.scheduler.address == address
    finally:
        executor.shutdown()
    with Flow("external") as flow:
        t = total(inc.map(list(range(1000))))
    assert flow.run(executor=executor).result[t].result == sum(range(1, 1001))
    assert len(client.nthreads()) == 2 and cluster.status.name == "running"
    assert executor.client is None


def test_a_cluster_of_its_own_is_closed_after_the_run():
    seen = []

    class Watch(DaskExecutor):
        def wait(self):
            seen.append(self.cluster)
            return super().wait()

    executor = Watch(cluster_kwargs={"n_workers": 1, "threads_per_worker": 2, "dashboard_address": ":0"})
    with Flow("own") as flow:
        t = total(inc.map(list(range(100))))
    state = flow.run(executor=executor)
    assert state.result[t].result == sum(range(1, 101))
    cluster = seen[0]
    assert type(cluster).__name__ == "LocalCluster" and cluster.status.name == "closed"
    assert executor.cluster is None and executor.client is None


def test_adaptive_cluster(tmp_path):
    executor = DaskExecutor(cluster_kwargs={"n_workers": 1, "threads_per_worker": 1, "dashboard_address": ":0"},
                            adapt_kwargs={"minimum": 1, "maximum": 2})
    executor.start()
    try:
        assert executor.slots() == 2  # what the maximum gives, not the one worker up now
    finally:
        executor.shutdown()
    with Flow("adaptive") as flow:
        t = total(inc.map(list(range(100))))
    assert flow.run(executor=executor).result[t].result == sum(range(1, 101))


def test_payloads_are_small(address):
    units = []

    class Capture(DaskExecutor):
        def submit(self, unit):
            units.append(unit)
            super().submit(unit)

    @task
    def uses_big(xs):
        return len(xs)

    n = 30_000
    with Flow("payload") as flow:
        uses_big(list(range(200_000)))  # another task's input: must not travel with `inc`
        m = inc.map(list(range(n)))
    executor = Capture(address=address)
    state = flow.run(executor=executor)
    assert state.result[m].result == list(range(1, n + 1))
    mapped = [u for u in units if u.label == "inc"]
    assert sum(u.size for u in mapped) == n
    sizes = [len(pack_unit(u)) for u in mapped]
    # Per unit: its slice of arguments (a few bytes per child) and the task (a few KB);
    # no flow, no other task's data.
    assert all(size < 8 * u.size + 8_000 for size, u in zip(sizes, mapped, strict=True)), sizes
    assert executor.stats["scattered"] == 0


@task
def lookup(x, table):
    return table[x]


def test_a_large_unmapped_argument_is_scattered_once_per_task(address):
    table = list(range(1_000_000))  # about 5 MB pickled: over SCATTER_BYTES
    with Flow("big-table") as flow:
        m = lookup.map(list(range(2_000)), table=unmapped(table))
    executor = DaskExecutor(address=address)
    state = flow.run(executor=executor)
    assert state.result[m].result == list(range(2_000))
    assert executor.stats["units"] > 1 and executor.stats["scattered"] == 1
    assert executor.stats["bytes"] < 1_000_000  # no unit carried the table in its graph


@task
def nap(x):
    time.sleep(x)
    return x


def test_ctrl_c_cancels_the_submitted_futures(address):
    futures = []

    class CtrlC(DaskExecutor):
        """Ctrl-C in wait() once naps are in flight."""

        def _track(self, future):
            futures.append(future)
            super()._track(future)

        def wait(self):
            if any(f.key.startswith("nap-") for f in futures):
                raise KeyboardInterrupt
            return super().wait()

    with Flow("ctrl-c") as flow:
        first = inc(1)
        nap.map([0.5] * 8, upstream_tasks=[unmapped(first)])
    state = flow.run(executor=CtrlC(address=address))
    assert state.is_cancelled()
    naps = [f for f in futures if f.key.startswith("nap-")]
    assert naps and all(f.status == "cancelled" for f in naps), [f.status for f in naps]


def test_a_fetched_result_stands_when_the_future_is_reset_after(address):
    """A worker that dies after a unit's result was fetched has Dask reset the future
    to "pending" (it computes the lost value again); the result in hand still counts."""

    class ResetAfterFetch(DaskExecutor):
        def _outcome(self, unit, future, result):
            future._state.reset()  # what the client does when the scheduler reports the data lost
            assert future.status == "pending"
            return super()._outcome(unit, future, result)

    with Flow("reset") as flow:
        m = inc.map([1, 2, 3])
        t = total(m)
    state = flow.run(executor=ResetAfterFetch(address=address))
    assert state.is_successful(), state.message
    assert state.result[t].result == 9


def test_a_unit_cancelled_outside_the_run_fails_its_task_runs_naming_the_task(address):
    class CancelNaps(DaskExecutor):
        """Someone cancels the naps' Dask tasks (client.cancel, the dashboard...)."""

        def _track(self, future):
            if future.key.startswith("nap-"):
                future.cancel(reason="cancelled by the test")
            super()._track(future)

    with Flow("cancelled") as flow:
        naps = nap.map([5.0, 5.0])
    state = flow.run(executor=CancelNaps(address=address))
    assert state.is_failed()
    messages = {child.message for child in state.result[naps].map_states}
    assert all("The Dask task of a work unit of 'nap' was cancelled" in m for m in messages), messages


@task
def unpicklable_result(x):
    return threading.Lock() if x == 1 else x


@task
def takes(x, lock):
    return x


@task
def exits():
    sys.exit(3)


class Picky(Exception):
    def __init__(self, a, b):  # pickles, but does not unpickle (the classic trap)
        super().__init__(f"{a}/{b}")


@task
def raise_picky():
    raise Picky(1, 2)


def test_what_does_not_travel_fails_clearly(address):
    with Flow("travel") as flow:
        r = unpicklable_result.map([0, 1, 2])
        a = takes.map([0, 1], lock=unmapped(threading.Lock()))
        e = exits()
        p = raise_picky()
    state = flow.run(executor=DaskExecutor(address=address))
    ok, bad, ok2 = state.result[r].map_states
    assert (ok.result, ok2.result) == (0, 2)
    assert isinstance(bad.result, SerializationError) and bad.result.map_index == 1
    assert bad.result.task_name == "unpicklable_result" and bad.result.type_name == "_thread.lock"
    for child in state.result[a].map_states:
        assert child.is_failed() and isinstance(child.result, ExecutorError)
        assert child.message.startswith("Task 'takes' cannot be sent to a worker: its argument 'lock' "
                                        "cannot be pickled")
    assert "task run 'exits' raised SystemExit(3)" in state.result[e].message
    picky = state.result[p]
    assert isinstance(picky.result, RemoteTaskError) and picky.result.type_name.endswith("Picky")


def test_a_task_the_workers_cannot_import_fails_clearly(address, monkeypatch):
    ghost = types.ModuleType("ferroflow_dask_test_ghost")
    exec(textwrap.dedent("""
        from ferroflow import Task

        class Ghost(Task):
            def run(self, x):
                return x
    """), ghost.__dict__)
    monkeypatch.setitem(sys.modules, "ferroflow_dask_test_ghost", ghost)
    with Flow("ghost") as flow:
        g = ghost.Ghost(name="ghost").map([1, 2])
        ok = inc(1)
    state = flow.run(executor=DaskExecutor(address=address))
    for child in state.result[g].map_states:
        assert child.is_failed() and isinstance(child.result, ExecutorError)
        assert child.message.startswith("Task 'ghost' could not run on a worker: could not load it: "
                                        "ModuleNotFoundError: No module named 'ferroflow_dask_test_ghost'")
    assert state.result[ok].result == 2


def _refused_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"  # nothing listens there any more


def test_a_bad_address_is_a_clear_executor_error():
    address = _refused_address()
    with Flow("nowhere") as flow:
        inc(1)
    state = flow.run(executor=DaskExecutor(address=address, client_kwargs={"timeout": 1}))
    assert state.is_failed() and isinstance(state.result, ExecutorError)
    assert f"Could not connect to the Dask scheduler at '{address}' within 1 s" in str(state.result)
    executor = DaskExecutor(address="nonsense://x")
    with pytest.raises(ExecutorError, match="'nonsense://x' is not a Dask scheduler address"):
        executor.start()
    with pytest.raises(ExecutorError, match="'127.0.0.1' is not a Dask scheduler address .*missing port"):
        DaskExecutor(address="127.0.0.1").start()
    assert DaskExecutor(address=address).connect_timeout == CONNECT_TIMEOUT  # bounded by default


def test_options_are_checked_when_built():
    with pytest.raises(ValueError, match="give one or the other"):
        DaskExecutor(address="tcp://127.0.0.1:8786", cluster_kwargs={"n_workers": 2})
    with pytest.raises(ValueError, match="cluster_class 'nowhere.Cluster': cannot import module 'nowhere'"):
        DaskExecutor(cluster_class="nowhere.Cluster")
    with pytest.raises(ValueError, match="module 'distributed' has no attribute 'NoCluster'"):
        DaskExecutor(cluster_class="distributed.NoCluster")
    with pytest.raises(ValueError, match="cluster_kwargs must be a dict"):
        DaskExecutor(cluster_kwargs=[1])
    with pytest.raises(ValueError, match=r"client_kwargs\['timeout'\] must be a positive number"):
        DaskExecutor(client_kwargs={"timeout": 0})
    executor = get_executor("dask", cluster_class="distributed.LocalCluster", cluster_kwargs={"n_workers": 1})
    assert isinstance(executor, DaskExecutor) and executor.cluster_class.__name__ == "LocalCluster"
    assert repr(executor) == "DaskExecutor(cluster_class=distributed.deploy.local.LocalCluster)"


@task(max_retries=1, retry_delay=timedelta(0))
def loops_and_fails(x):
    if context.loop_count == 2 and context.task_run_count == 1:
        raise RuntimeError("fails in iteration 2")
    if context.loop_count < 3:
        raise signals.LOOP(result=context.get("loop_result", []) + [context.task_run_count])
    return context.loop_result


@task(log_stdout=True)
def speaks(x):
    for i in range(3):
        print(f"item {x} line {i}")
        time.sleep(0.002)
    get_logger().info("item %s done", x)
    return x


def test_units_in_threads_of_one_worker_keep_their_own_loops_and_logs(address):
    # Small units on four threads at once: loop state, prints and records stay with
    # the task run that made them.
    with Flow("threads") as flow:
        m = loops_and_fails.map(list(range(40)))
        s = speaks.map(list(range(40)))
    state = flow.run(executor=DaskExecutor(address=address))
    assert state.result[m].result == [[1, 2]] * 40
    assert all(s.run_count == 2 and isinstance(s, states.Success) for s in state.result[m].map_states)
    for x, child in enumerate(state.result[s].map_states):
        assert [e.message for e in child.logs] == [f"item {x} line {i}" for i in range(3)] + [f"item {x} done"]


# ----- batches of ordinary task runs, and what travels once ------------------------------


@task
def join(a, b):
    return a + b


def test_a_grid_of_ordinary_tasks_runs_in_batches(address):
    width = 20
    with Flow("grid") as flow:
        layer = [inc(i) for i in range(width)]
        for _ in range(4):
            layer = [join(layer[i], layer[(i + 1) % width]) for i in range(width)]
    executor = Counting(address=address)
    state = flow.run(executor=executor)
    assert state.is_successful(), state.message
    expected = [i + 1 for i in range(width)]
    for _ in range(4):
        expected = [expected[i] + expected[(i + 1) % width] for i in range(width)]
    assert [state.result[t].result for t in layer] == expected
    # 100 tasks, handed over in batches (cut for the cluster's four threads as the runs
    # of a layer become ready).
    assert executor.submitted < 100, executor.submitted
    assert executor.counts() == {1} and executor.stats["units"] == executor.submitted


@task
def poison_plain(x):
    if x == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    return x * 3


def test_a_task_run_that_kills_its_worker_inside_a_batch_fails_alone():
    """As for a mapped task (the test above): the batch Dask gives up on runs in
    halves until the task run that kills its workers is alone."""
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.worker-saturation": 1.0,
                          "distributed.scheduler.allowed-failures": 0}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=":0") as cluster:
            with Flow("poison-batch") as flow:
                runs = [poison_plain(i) for i in range(16)]
            executor = Counting(address=cluster.scheduler_address)
            state = flow.run(executor=executor)
    assert len(executor.returned) < 16  # the engine handed the runs over in batches
    assert [i for i, r in enumerate(runs) if not state.result[r].is_successful()] == [7]
    crashed = state.result[runs[7]].result
    assert isinstance(crashed, WorkerCrashedError) and crashed.task_name == "poison_plain"
    assert "task 'poison_plain' (1 task run(s)) kept dying" in str(crashed)
    assert [state.result[r].result for i, r in enumerate(runs) if i != 7] == [3 * i for i in range(16) if i != 7]
    assert all(state.result[r].run_count == 1 for r in runs)
    assert executor.stats["split"] >= 1 and executor.counts() == {1}


def test_a_mapped_tasks_plan_goes_to_the_cluster_once(address):
    table = list(range(60_000))  # in the task's function: its plan is about 300 KB

    def look_up(x):
        return table[x]

    looked_up = task(look_up, name="look_up")
    with Flow("plan-once") as flow:
        m = looked_up.map(list(range(3_000)))
    executor = DaskExecutor(address=address)
    state = flow.run(executor=executor)
    assert state.result[m].result == list(range(3_000))
    stats = executor.stats
    plan = len(pickle.dumps(table))
    assert stats["units"] >= 4, stats
    # The plan went to the cluster once, not with each unit.
    assert stats["shared"] == 1 and stats["bytes"] < plan / 2, (plan, stats)
