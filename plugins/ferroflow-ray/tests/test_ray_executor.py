"""RayExecutor on a real local Ray instance: lost worker processes, resources from
tags, payload sizes, cancellation, and ``ferroflow run --executor ray``.

Tasks here are self-contained (they import what they use): they travel by value to
Ray's worker processes, which cannot import this test module.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import psutil
import pytest

from ferroflow import Flow, Parameter, task, unmapped
from ferroflow.executors.base import Executor
from ferroflow.executors.remote import WorkerCrashedError
from ferroflow.testing.conformance import inc, total
from ferroflow_ray import RayExecutor

pytestmark = pytest.mark.usefixtures("ray_cluster")

#: Children of the mapped task whose worker is killed, and seconds each takes: long
#: enough that the kill lands while a child runs, short enough for a quick test.
CHILDREN = 60
NAP = 0.03


@task
def marked_inc(x, marks):
    """x + 1, after noting (a file named after this process) that this process runs it."""
    import os
    import time

    with open(os.path.join(marks, str(os.getpid())), "a") as f:
        f.write(f"{x}\n")
    time.sleep(0.03)
    return x + 1


marked_inc_retried = marked_inc.copy(max_retries=1, retry_delay=timedelta(0))


@task
def assigned(x):
    """The Ray resources assigned to the Ray task running this task run."""
    import ray

    return {name: amount for name, amount in ray.get_runtime_context().get_assigned_resources().items()
            if amount}


@task
def _suffix(word):
    return word + "!"


class Recording(Executor):
    """Wraps an executor; counts how many times each submitted unit came back."""

    def __init__(self, inner: Executor):
        self.inner = inner
        self.name = inner.name
        self.units: list = []
        self.returned: dict = {}
        self.submitted = 0

    def start(self):
        self.inner.start()

    def slots(self):
        return self.inner.slots()

    def submit(self, unit):
        self.submitted += 1
        self.units.append(unit)
        self.returned[id(unit)] = 0
        self.inner.submit(unit)

    def wait(self):
        done = self.inner.wait()
        for unit, _ in done:
            self.returned[id(unit)] += 1
        return done

    def shutdown(self):
        self.inner.shutdown()


def ray_getpid():
    """A Ray remote function returning the process id of the worker running it (defined
    here, inside a function, so that it travels by value)."""
    import ray

    def getpid():
        import os

        return os.getpid()

    return ray.remote(getpid)


def ray_worker_pids() -> set:
    """Process ids of the instance's worker processes, as Ray tasks see them."""
    import ray

    getpid = ray_getpid()
    return set(ray.get([getpid.remote() for _ in range(8)]))


def is_ray_worker(pid: int, known: set) -> bool:
    """Whether ``pid`` is one of the ``known`` Ray workers, or one Ray started since
    (the raylet starts workers as they are needed)."""
    if pid in known:
        return True
    try:
        parent = psutil.Process(pid).parent()
    except psutil.Error:
        return False
    return parent is not None and parent.name() == "raylet"


def kill_first_worker(marks, known: set, killed: list, stop: threading.Event) -> None:
    """SIGKILL the first Ray worker process that has run part of a marked task run.
    (A mark file exists from its open(), but holds its line only once closed: a kill in
    between would leave no trace that the unit had begun.)"""
    while not stop.is_set():
        for name in os.listdir(marks):
            if os.path.getsize(os.path.join(marks, name)) and is_ray_worker(int(name), known):
                os.kill(int(name), signal.SIGKILL)
                killed.append(int(name))
                return
        stop.wait(0.002)


def run_with_a_worker_killed(flow, executor, marks):
    known = ray_worker_pids()
    killed: list = []
    stop = threading.Event()
    killer = threading.Thread(target=kill_first_worker, args=(marks, known, killed, stop), daemon=True)
    recording = Recording(executor)
    killer.start()
    try:
        state = flow.run(executor=recording)
    finally:
        stop.set()
        killer.join()
    assert len(killed) == 1, "no Ray worker process ran the mapped task"
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)  # it is gone
    assert recording.submitted >= 2 and all(n == 1 for n in recording.returned.values()), \
        f"every unit must come back exactly once: {sorted(recording.returned.values())}"
    return state


def mapped_flow(fn, marks):
    with Flow("killed") as flow:
        m = fn.map(list(range(CHILDREN)), marks=unmapped(str(marks)))
        t = total(m)
    return flow, m, t


# ----- a worker process killed in the middle of a mapped flow ------------------------------------


def test_a_killed_worker_is_replaced_and_ray_runs_its_unit_again(tmp_path):
    flow, m, t = mapped_flow(marked_inc, tmp_path)
    executor = RayExecutor()
    state = run_with_a_worker_killed(flow, executor, tmp_path)
    assert state.is_successful(), state.message
    assert state.result[m].result == list(range(1, CHILDREN + 1))
    assert state.result[t].result == sum(range(1, CHILDREN + 1))
    assert executor.stats["lost"] == 0  # Ray's own retry (max_retries=3) took care of it
    # The unit ran again: some children ran twice, in two processes.
    runs = [int(line) for path in tmp_path.iterdir() for line in path.read_text().split()]
    assert len(runs) > CHILDREN and set(runs) == set(range(CHILDREN))


def test_a_lost_unit_runs_again_in_halves(tmp_path):
    flow, m, t = mapped_flow(marked_inc_retried, tmp_path)
    executor = RayExecutor(max_retries=0)
    state = run_with_a_worker_killed(flow, executor, tmp_path)
    assert state.is_successful(), state.message
    assert state.result[m].result == list(range(1, CHILDREN + 1))
    assert state.result[t].result == sum(range(1, CHILDREN + 1))
    assert executor.stats["lost"] == 1
    counts = [child.run_count for child in state.result[m].map_states]
    if executor.stats["split"]:  # the lost unit ran again in two halves: no retry needed
        assert executor.stats["split"] == 1 and set(counts) == {1}
    else:  # the lost unit held one task run: it failed, and ferroflow retried it
        assert sorted(counts)[-2:] == [1, 2]


@task
def poison_7(x):
    """x + 1, but item 7 kills the process running it."""
    import os
    import signal

    if x == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    return x + 1


def test_a_task_run_that_kills_its_worker_fails_alone_naming_the_task():
    with Flow("poison") as flow:
        m = poison_7.map(list(range(20)))
    executor = RayExecutor(max_retries=0)
    state = flow.run(executor=executor)
    assert state.is_failed()
    children = state.result[m].map_states
    assert [i for i, child in enumerate(children) if not child.is_successful()] == [7]
    error = children[7].result
    assert isinstance(error, WorkerCrashedError) and error.task_name == "poison_7"
    assert "The Ray worker running a work unit of task 'poison_7' (1 task run(s)) was lost" in str(error)
    assert "max_retries=0" in str(error)
    assert [child.result for i, child in enumerate(children) if i != 7] == [x + 1 for x in range(20) if x != 7]
    # lost: the unit, each half that held item 7, and item 7 alone once more
    assert executor.stats["lost"] >= 2 and executor.stats["lost"] == executor.stats["split"] + 2


# ----- resources from tags --------------------------------------------------------------------


def test_tags_ask_ray_for_resources():
    gpu = assigned.copy(name="gpu", tags=["ray-num-gpus:1", "ray-resource:custom=1", "team-ml"])
    two_cpus = assigned.copy(name="two_cpus", tags=["ray-num-cpus:2"])
    with Flow("resources") as flow:
        plain = assigned(0)
        g = gpu.map([1, 2, 3])
        c = two_cpus(4)
    state = flow.run(executor=RayExecutor())
    assert state.is_successful(), state.message
    assert state.result[plain].result == {"CPU": 1.0}
    assert state.result[g].result == [{"CPU": 1.0, "GPU": 1.0, "custom": 1.0}] * 3
    assert state.result[c].result == {"CPU": 2.0}


def test_num_cpus_per_unit_and_tags_off():
    gpu = assigned.copy(name="gpu", tags=["ray-num-gpus:1"])
    with Flow("per-unit") as flow:
        plain = assigned(0)
        g = gpu(1)
    executor = RayExecutor(num_cpus_per_unit=0.5, resources_from_tags=False)
    state = flow.run(executor=executor)
    assert state.result[plain].result == {"CPU": 0.5}
    assert state.result[g].result == {"CPU": 0.5}  # its tag is not read
    executor.start()
    try:
        assert executor.slots() == 4  # 2 CPUs, half a CPU per unit
    finally:
        executor.shutdown()


def test_resources_no_node_has_fail_the_task_clearly():
    tpu = assigned.copy(name="needs_tpu", tags=["ray-resource:tpu=1"])
    many = assigned.copy(name="needs_8_cpus", tags=["ray-num-cpus:8"])
    with Flow("infeasible") as flow:
        a = tpu(1)
        b = many(2)
        ok = assigned(3)
    state = flow.run(executor=RayExecutor())
    assert state.is_failed() and state.result[ok].is_successful()
    for ref, asked, tag in ((a, "tpu=1", "'ray-resource:tpu=1'"), (b, "CPU=8", "'ray-num-cpus:8'")):
        failed = state.result[ref]
        assert failed.is_failed()
        message = str(failed.result)
        assert asked in message and tag in message and "which no node of the Ray cluster has" in message
        assert "the largest has CPU=2, GPU=1, custom=2" in message and "check_resources=False" in message


def test_a_bad_resource_tag_fails_its_task_naming_the_tag():
    bad = assigned.copy(name="bad", tags=["ray-num-cpus:lots"])
    with Flow("bad-tag") as flow:
        b = bad(1)
        ok = assigned(2)
    state = flow.run(executor=RayExecutor())
    assert state.result[ok].is_successful()
    assert "Task 'bad' has the tag 'ray-num-cpus:lots': 'lots' is not an amount" in str(state.result[b].result)


# ----- what travels -----------------------------------------------------------------------------


def test_each_unit_carries_only_its_own_children():
    words = [f"{i:06d}" * 20 for i in range(40_000)]  # 120 bytes each, about 5 MB in all
    with Flow("payload") as flow:
        given = Parameter("words")
        m = _suffix.map(given)
        s = _suffix.map(given, upstream_tasks=[unmapped(m)])
    executor = RayExecutor()
    state = flow.run(executor=executor, parameters={"words": words})
    assert state.result[m].result == state.result[s].result == [w + "!" for w in words]
    whole = len(pickle.dumps(words))
    stats = executor.stats
    assert stats["units"] >= 10
    # A unit carries its own children; the run's parameters (all the words) went to the
    # object store once per task, not with each of its units.
    assert stats["max_bytes"] < whole / 3, stats
    assert stats["bytes"] < 2 * 1.2 * whole, stats  # each child about once per task
    assert 1 <= stats["shared"] <= 2 and stats["shared_bytes"] < 2 * 1.2 * whole, stats


def test_an_argument_that_does_not_pickle_fails_only_its_task():
    with Flow("unpicklable") as flow:
        bad = _suffix(threading.Lock())
        good = _suffix("ok")
    state = flow.run(executor=RayExecutor())
    assert state.result[good].result == "ok!"
    failed = state.result[bad]
    assert failed.is_failed() and "Task '_suffix' cannot be sent" in str(failed.result)
    assert "'word'" in str(failed.result)


# ----- lifecycle -------------------------------------------------------------------------------


def test_uses_this_processes_connection_and_leaves_it_open(ray_cluster):
    import ray

    executor = RayExecutor()
    executor.start()
    try:
        assert executor.slots() == 2
    finally:
        executor.shutdown()
    assert ray.is_initialized() and ray.get_runtime_context().gcs_address == ray_cluster
    assert RayExecutor(max_in_flight=7).slots() == 7


@task
def marked_nap(x, marks):
    """Note that this process runs it, then sleep far longer than any test."""
    import os
    import time

    open(os.path.join(marks, str(os.getpid())), "w").close()
    time.sleep(60)
    return x


class CtrlCWhenRunning(Recording):
    """Raises KeyboardInterrupt from wait(), as a Ctrl-C would, once ``count`` processes
    run a marked nap."""

    def __init__(self, inner, marks, count):
        super().__init__(inner)
        self.marks = marks
        self.count = count

    def wait(self):
        if any(unit.label == "marked_nap" for unit in self.units):
            while len(os.listdir(self.marks)) < self.count:
                time.sleep(0.005)
            raise KeyboardInterrupt
        return super().wait()


def test_ctrl_c_stops_the_running_ray_tasks(tmp_path):
    with Flow("interrupted") as flow:
        first = inc(1)
        marked_nap.map([1, 2, 3, 4, 5, 6], marks=unmapped(str(tmp_path)), upstream_tasks=[unmapped(first)])
    executor = RayExecutor()
    wrapper = CtrlCWhenRunning(executor, tmp_path, 2)
    state = flow.run(executor=wrapper)
    assert state.is_cancelled()
    # Every unit in flight was cancelled: the two running ones and any waiting.
    in_flight = [u for u in wrapper.units if not wrapper.returned[id(u)]]
    assert len(in_flight) >= 2 and {u.label for u in in_flight} == {"marked_nap"}
    assert executor.stats["cancelled"] == len(in_flight), executor.stats
    # The worker processes running the naps are stopped (not left sleeping for a minute).
    for name in os.listdir(tmp_path):
        while _alive(int(name)):
            time.sleep(0.01)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ----- the command line ----------------------------------------------------------------------


FLOW_FILE = """
from ferroflow import Flow, task

@task
def inc(x):
    return x + 1

@task
def total(xs):
    return sum(xs)

with Flow("cli") as flow:
    total(inc.map(list(range(1000))))
"""


def test_ferroflow_run_with_the_ray_executor(tmp_path, ray_cluster):
    (tmp_path / "flow.py").write_text(FLOW_FILE)
    done = subprocess.run(
        [sys.executable, "-m", "ferroflow", "run", "flow.py", "--executor", "ray", "-o", f"address={ray_cluster}",
         "--no-progress", "--no-record"],
        cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout


# ----- batches of ordinary task runs, and what travels once ------------------------------------


class Returned(RayExecutor):
    """Counts the units the engine handed over (each comes back once)."""

    def start(self):
        super().start()
        self.returned = []

    def wait(self):
        done = super().wait()
        self.returned.extend(unit for unit, _ in done)
        return done


@task
def _join(a, b):
    return a + b


def test_a_grid_of_ordinary_tasks_runs_in_batches():
    width = 20
    with Flow("grid") as flow:
        layer = [inc(i) for i in range(width)]
        for _ in range(4):
            layer = [_join(layer[i], layer[(i + 1) % width]) for i in range(width)]
    executor = Returned()
    state = flow.run(executor=executor)
    assert state.is_successful(), state.message
    expected = [i + 1 for i in range(width)]
    for _ in range(4):
        expected = [expected[i] + expected[(i + 1) % width] for i in range(width)]
    assert [state.result[t].result for t in layer] == expected
    assert len(executor.returned) < 100 and executor.stats["units"] == len(executor.returned)


@task
def poison_plain_7(x):
    """x + 1, but the run of 7 kills the process running it."""
    import os
    import signal

    if x == 7:
        os.kill(os.getpid(), signal.SIGKILL)
    return x + 1


def test_a_task_run_that_kills_its_worker_inside_a_batch_fails_alone():
    with Flow("poison-batch") as flow:
        runs = [poison_plain_7(i) for i in range(12)]
    executor = Returned(max_retries=0)
    state = flow.run(executor=executor)
    assert len(executor.returned) < 12  # the runs were handed over in batches
    assert [i for i, r in enumerate(runs) if not state.result[r].is_successful()] == [7]
    error = state.result[runs[7]].result
    assert isinstance(error, WorkerCrashedError) and error.task_name == "poison_plain_7"
    assert "The Ray worker running a work unit of task 'poison_plain_7' (1 task run(s)) was lost" in str(error)
    assert [state.result[r].result for i, r in enumerate(runs) if i != 7] == [x + 1 for x in range(12) if x != 7]
    assert executor.stats["split"] >= 1


def test_a_mapped_tasks_plan_goes_to_the_object_store_once():
    table = [f"{i:08d}" for i in range(4_000)]  # in the task's function: its plan is about 50 KB

    def look_up(x):
        return table[x]

    looked_up = task(look_up, name="look_up")
    with Flow("plan-once") as flow:
        m = looked_up.map(list(range(1_000)))
    executor = RayExecutor()
    state = flow.run(executor=executor)
    assert state.result[m].result == table[:1_000]
    stats = executor.stats
    plan = len(pickle.dumps(table))
    assert stats["units"] >= 4, stats
    # The plan went to the object store once, not with each unit.
    assert stats["plans"] == 1 and stats["bytes"] < plan, (plan, stats)
