"""The ``processes`` executor beyond the conformance suite: worker crashes (a real
``os._exit``, segfault, ``SIGKILL`` from inside and from outside) fail only the task
run that was running (its unit's other runs run again, up to ``allowed_crashes``) and
the flow goes on; values that do not pickle fail their task run; hard timeouts;
small payloads; workers never outlive the flow process."""

from __future__ import annotations

import ctypes
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
from datetime import timedelta
from pathlib import Path

import psutil
import pytest

from ferroflow import Flow, context, get_logger, signals, states, task, triggers, unmapped
from ferroflow.errors import ExecutorError
from ferroflow.executors import ProcessesExecutor
from ferroflow.executors import processes as processes_module
from ferroflow.executors.processes import RemoteTaskError, WorkerCrashedError, _Encoder
from ferroflow.plugins import get_executor
from ferroflow.results import SerializationError

HERE = Path(__file__).resolve()


@task
def crash_on_1(x, how):
    if x == 1:
        if how == "exit":
            os._exit(7)
        if how == "segfault":
            ctypes.string_at(0)
        if how == "sigkill":
            os.kill(os.getpid(), signal.SIGKILL)
    return x * 10


@task(trigger=triggers.all_finished)
def count_results(xs):
    return sum(1 for x in xs if isinstance(x, int))


@task
def after(x):
    return x + 1


@pytest.mark.parametrize(("how", "cause"), [
    ("exit", "exited with code 7"),
    ("segfault", "was killed by SIGSEGV (exit code -11)"),
    ("sigkill", "was killed by SIGKILL (exit code -9)"),
])
def test_a_crash_fails_its_task_run_only_and_the_flow_goes_on(how, cause):
    executor = ProcessesExecutor(max_workers=2)
    with Flow("crash") as flow:
        crashed = crash_on_1.map([0, 1, 2], how=unmapped(how))
        counted = count_results(crashed)
        more = after.map(list(range(100)))  # runs on the replacement worker(s)
    state = flow.run(executor=executor)
    children = state.result[crashed].map_states
    culprit = children[1]
    assert culprit.is_failed() and isinstance(culprit.result, WorkerCrashedError)
    assert culprit.message == f"Its worker process (pid {culprit.result.pid}) {cause} while running this task run"
    assert str(culprit.result) == (f"The worker process (pid {culprit.result.pid}) {cause} while running "
                                   f"task run 'crash_on_1[1]'")
    assert culprit.result.task_name == "crash_on_1" and culprit.result.map_index == 1
    # The other runs of the same unit ran again, in another worker.
    assert [c.result for c in children[::2]] == [0, 20] and all(c.run_count == 1 for c in children)
    assert executor.stats["reruns"] == 1
    # The flow went on: the downstream task ran, other tasks ran on a new worker.
    assert state.result[counted].is_successful()
    assert state.result[more].result == list(range(1, 101))
    assert executor.stats["workers"] >= 2


@task
def report_pid_then_sleep(x, path):
    if x == 1:
        Path(path).write_text(str(os.getpid()))
        time.sleep(3600)
    return x


def test_a_worker_killed_from_outside_fails_its_unit(tmp_path):
    path = tmp_path / "victim.pid"

    def killer():
        while not path.exists() or not path.read_text():
            time.sleep(0.01)
        os.kill(int(path.read_text()), signal.SIGKILL)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        with Flow("victim") as flow:
            m = report_pid_then_sleep.map([0, 1], path=unmapped(str(path)))
            more = after.map(list(range(10)))
        state = flow.run(executor=ProcessesExecutor(max_workers=2))
    finally:
        thread.join()
    victim = state.result[m].map_states[1]
    assert isinstance(victim.result, WorkerCrashedError)
    assert "was killed by SIGKILL (exit code -9)" in victim.message
    assert state.result[more].result == list(range(1, 11))


@task
def raise_memory_error(x):
    if x == 1:
        bytearray(1 << 60)  # a real allocation failure: MemoryError
    return x


def test_memory_error_fails_the_task_run_and_the_worker_goes_on():
    with Flow("memory") as flow:
        m = raise_memory_error.map([0, 1, 2])
    state = flow.run(executor=ProcessesExecutor(max_workers=1))
    ok, bad, ok2 = state.result[m].map_states
    assert isinstance(bad.result, MemoryError) and "MemoryError" in bad.traceback
    assert ok.result == 0 and ok2.result == 2


@task
def unpicklable_result(x):
    return threading.Lock() if x == 1 else x


def test_an_unpicklable_result_fails_that_task_run_only():
    with Flow("lock") as flow:
        m = unpicklable_result.map([0, 1, 2])
    state = flow.run(executor=ProcessesExecutor(max_workers=1))
    ok, bad, ok2 = state.result[m].map_states
    assert (ok.result, ok2.result) == (0, 2)
    assert bad.is_failed() and isinstance(bad.result, SerializationError)
    assert bad.result.task_name == "unpicklable_result" and bad.result.map_index == 1
    assert bad.result.type_name == "_thread.lock"
    assert bad.message.startswith("The result of task run 'unpicklable_result[1]' could not be sent back")


@task
def takes(x, lock):
    return x


def test_an_unpicklable_argument_fails_at_submit_naming_it():
    executor = ProcessesExecutor(max_workers=1)
    with Flow("arg") as flow:
        m = takes.map([0, 1], lock=unmapped(threading.Lock()))
        fine = after(1)
    state = flow.run(executor=executor)
    for child in state.result[m].map_states:
        assert child.is_failed() and isinstance(child.result, ExecutorError)
        assert child.message.startswith("Task 'takes' cannot be sent to a worker process: its argument 'lock' "
                                        "cannot be pickled")
    assert state.result[fine].result == 2


class Picky(Exception):
    def __init__(self, a, b):  # pickles, but does not unpickle (the classic trap)
        super().__init__(f"{a}/{b}")


@task
def raise_picky():
    raise Picky(1, 2)


def test_an_exception_that_cannot_come_back_travels_as_remote_task_error():
    with Flow("picky") as flow:
        p = raise_picky()
    state = flow.run(executor=ProcessesExecutor(max_workers=1))
    failed = state.result[p]
    assert isinstance(failed.result, RemoteTaskError) and failed.result.type_name.endswith("Picky")
    assert "1/2" in str(failed.result) and "Picky: 1/2" in failed.traceback


@task
def exits():
    sys.exit(3)


def test_system_exit_in_a_task_fails_it_clearly():
    with Flow("exit") as flow:
        e = exits()
        ok = after(1, upstream_tasks=[e])
    state = flow.run(executor=ProcessesExecutor(max_workers=1))
    assert state.result[e].is_failed()
    assert "task run 'exits' raised SystemExit(3)" in state.result[e].message
    assert isinstance(state.result[ok], states.TriggerFailed)


@task
def boom(x):
    raise ValueError(f"boom {x}")


def test_tracebacks_show_the_task_file_and_source():
    with Flow("tb") as flow:
        b = boom(1)
    text = flow.run(executor=ProcessesExecutor(max_workers=1)).result[b].traceback
    assert f'File "{HERE}"' in text and 'raise ValueError(f"boom {x}")' in text


@task(timeout=0.3)
def interrupted(path):
    try:
        time.sleep(3600)
    finally:
        Path(path).write_text("interrupted")  # runs only if the timeout stops the sleep


def test_timeouts_are_hard_in_worker_processes(tmp_path):
    path = tmp_path / "marker"
    with Flow("hard") as flow:
        t = interrupted(str(path))
    state = flow.run(executor=ProcessesExecutor(max_workers=1))
    assert isinstance(state.result[t], states.TimedOut)
    # The sleep was interrupted inside the worker before the flow run returned.
    assert path.read_text() == "interrupted"


@task(timeout=0.2)
def deaf(x):
    if x == 1:
        # SIGALRM blocked: like C code that never returns to Python.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(3600)
    return x


def test_a_task_run_deaf_to_its_timeout_gets_its_worker_killed():
    executor = ProcessesExecutor(max_workers=1, grace=0.2)
    with Flow("deaf") as flow:
        m = deaf.map([0, 1])
        more = after.map([1, 2])
    state = flow.run(executor=executor)
    ok, stuck = state.result[m].map_states
    assert isinstance(stuck, states.TimedOut)
    assert "hard: its worker process was killed" in str(stuck.result)
    assert ok.is_successful() and ok.result == 0  # run again in the replacement worker
    assert state.result[more].result == [2, 3]
    with Flow("deaf-alone") as flow:
        m = deaf.map([0, 1])
    state = flow.run(executor=ProcessesExecutor(max_workers=1, grace=0.2, allowed_crashes=0))
    first, stuck = state.result[m].map_states
    assert isinstance(stuck, states.TimedOut)
    assert "was still running 0.2 s after its timeout of 0.2 s" in first.message
    assert "allowed_crashes is 0" in first.message



def die_on(x, poison):
    """x * 10, unless x is poison: then the process exits at once, as a crash would."""
    if x in poison:
        os._exit(3)
    return x * 10


def run_one_unit(executor, poison, size=8):
    """Run one work unit of ``size`` task runs of die_on through ``executor``."""
    from ferroflow.runtime.context import Frame
    from ferroflow.runtime.unit import WorkUnit

    indices = list(range(100, 100 + size))
    unit = WorkUnit(task_id=0, label="die_on", fn=die_on, indices=indices, size=size,
                    static={"poison": frozenset(poison)}, mapped_keys=("x",), columns=(list(range(size)),),
                    frame=Frame(None, 0, "die_on", "die_on", frozenset(), indices, None))
    executor.start()
    try:
        executor.submit(unit)
        ((back, result),) = executor.wait()
    finally:
        executor.shutdown()
    assert back is unit
    return result


def test_a_poison_task_run_fails_alone_and_the_rest_of_its_unit_runs_again():
    from ferroflow._core import SUCCESS

    executor = ProcessesExecutor(max_workers=1)
    result = run_one_unit(executor, poison={3})
    crashed = result.values[3]
    assert isinstance(crashed, WorkerCrashedError) and crashed.map_index == 103
    assert "exited with code 3 while running task run 'die_on[103]'" in str(crashed)
    assert [result.codes[j] == SUCCESS for j in range(8)] == [j != 3 for j in range(8)]
    assert [result.values[j] for j in range(8) if j != 3] == [0, 10, 20, 40, 50, 60, 70]
    assert executor.stats["reruns"] == 1 and executor.stats["workers"] == 2


def test_past_allowed_crashes_the_rest_of_the_unit_fails_with_it():
    executor = ProcessesExecutor(max_workers=1, allowed_crashes=2)
    result = run_one_unit(executor, poison={1, 4, 6})
    errors = result.values
    assert all(isinstance(e, WorkerCrashedError) for e in errors)
    # Each death failed the run that was running; the third ended the unit (the runs
    # left fail with that last crash).
    assert [e.map_index for e in errors] == [106, 101, 106, 106, 104, 106, 106, 106]
    messages = {j: result.details[j][0] for j in range(8)}
    for j in (1, 4, 6):
        assert messages[j].startswith("Its worker process") and "while running this task run" in messages[j]
    for j in (0, 2, 3, 5, 7):
        assert messages[j].startswith("Lost with its worker process")
        assert "its work unit's workers died 3 time(s), and allowed_crashes is 2" in messages[j]
    assert executor.stats["reruns"] == 2 and executor.stats["workers"] == 3


def test_allowed_crashes_0_fails_the_whole_unit_at_once():
    executor = ProcessesExecutor(max_workers=1, allowed_crashes=0)
    result = run_one_unit(executor, poison={5})
    assert all(isinstance(e, WorkerCrashedError) for e in result.values)
    assert "allowed_crashes is 0" in result.details[0][0] and executor.stats["reruns"] == 0


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3", None])
def test_allowed_crashes_must_be_a_whole_number(bad):
    with pytest.raises(ValueError, match=f"allowed_crashes must be a whole number >= 0, got {bad!r}"):
        ProcessesExecutor(allowed_crashes=bad)


@task
def poison_771(x):
    if x == 771:
        os._exit(1)
    return x + 1


def test_a_poison_item_in_a_large_map_fails_alone():
    """RELIABILITY.md B2 on worker processes: one item of 1,000 kills its worker."""
    executor = ProcessesExecutor(max_workers=2)
    with Flow("poison") as flow:
        m = poison_771.map(list(range(1000)))
        counted = count_results(m)
    state = flow.run(executor=executor)
    children = state.result[m].map_states
    assert [i for i, c in enumerate(children) if not c.is_successful()] == [771]
    assert isinstance(children[771].result, WorkerCrashedError)
    assert state.result[counted].result == 999
    assert executor.stats["reruns"] <= 1  # (none if item 771 was a unit of its own)


def test_payloads_are_small_and_the_task_travels_once_per_worker():
    units = []

    class Capture(ProcessesExecutor):
        def submit(self, unit):
            units.append(unit)
            super().submit(unit)

    @task
    def uses_big(xs):
        return len(xs)

    n = 30_000
    with Flow("payload") as flow:
        uses_big(list(range(200_000)))  # another task's input: must not travel with `after`
        m = after.map(list(range(n)))
    executor = Capture(max_workers=2)
    state = flow.run(executor=executor)
    assert state.result[m].result == list(range(1, n + 1))
    # Shared parts (run info, each task) went once per worker, not once per unit.
    # (At most: the run info and the four tasks -- two constants, uses_big, after -- per worker.)
    stats = executor.stats
    assert stats["blobs"] <= 5 * stats["workers"] and stats["blobs"] < stats["units"], stats
    mapped = [u for u in units if u.label == "after"]
    encoder = _Encoder()
    jobs = [encoder.job(u, i) for i, u in enumerate(mapped)]
    assert sum(u.size for u in mapped) == n
    # Per unit: its column slice and frame, a few bytes per child, no flow, no other task.
    assert sum(len(job.body) for job in jobs) < 8 * n, [len(job.body) for job in jobs]
    assert len({job.refs[1] for job in jobs}) == 1 and len(jobs[0].refs[1][1]) < 5_000


@pytest.mark.parametrize("dead_before_init", [False, True])
def test_a_worker_that_cannot_start_is_an_executor_error(monkeypatch, dead_before_init):
    monkeypatch.setattr(processes_module, "_BOOT", "import sys; sys.exit(3)")
    if dead_before_init:  # the worker is gone before its first message: a broken pipe
        levels = processes_module.logging_levels

        def after_the_worker_died():
            deadline = time.monotonic() + 60  # a hang guard only
            while time.monotonic() < deadline and any(
                    child.status() != psutil.STATUS_ZOMBIE for child in psutil.Process().children()):
                time.sleep(0.01)
            return levels()

        monkeypatch.setattr(processes_module, "logging_levels", after_the_worker_died)
    with Flow("nostart") as flow:
        a = after(1)
    state = flow.run(executor=ProcessesExecutor(max_workers=1))
    assert state.is_failed()
    assert "could not start: it exited with code 3" in state.message
    assert isinstance(state.result, ExecutorError)
    assert not state.task_states[a].is_successful()


def test_a_task_the_worker_cannot_import_fails_clearly(monkeypatch):
    ghost = types.ModuleType("ferroflow_test_ghost")
    exec(textwrap.dedent("""
        from ferroflow import Task

        class Ghost(Task):
            def run(self, x):
                return x
    """), ghost.__dict__)
    monkeypatch.setitem(sys.modules, "ferroflow_test_ghost", ghost)
    with Flow("ghost") as flow:
        g = ghost.Ghost(name="ghost").map([1, 2])
        ok = after(1)
    state = flow.run(executor=ProcessesExecutor(max_workers=1))
    for child in state.result[g].map_states:
        assert child.is_failed()
        assert child.message.startswith("Task 'ghost' could not run in a worker process: could not load it: "
                                        "ModuleNotFoundError: No module named 'ferroflow_test_ghost'")
    assert state.result[ok].result == 2


@task
def logs_from_a_library(x):
    import logging

    logging.getLogger("ferroflow.task.lib").warning("lib says %s", x)
    get_logger().debug("not shown at INFO")
    return x


def test_worker_log_records_are_handled_in_the_flow_process(caplog):
    caplog.set_level("INFO", logger="ferroflow")
    with Flow("liblog") as flow:
        m = logs_from_a_library.map([1, 2])
    state = flow.run(executor=ProcessesExecutor(max_workers=1))
    assert [e.message for e in state.result[m].map_states[1].logs] == ["lib says 2"]
    records = [r for r in caplog.records if r.getMessage().startswith("lib says")]
    # Handled here, as records of the worker process that emitted them.
    assert [(r.name, r.process != os.getpid()) for r in records] == [("ferroflow.task.lib", True)] * 2


def test_registered_by_name_with_options():
    executor = get_executor("processes", max_workers=3, grace=1)
    assert isinstance(executor, ProcessesExecutor) and executor.slots() == 3
    with pytest.raises(Exception, match="max_workers must be a positive integer"):
        get_executor("processes", max_workers=0)


SCRIPT_WITHOUT_MAIN_GUARD = """
import os, sys
from ferroflow import Flow, task

@task
def pid(x):
    return os.getpid()

with Flow("noguard") as flow:
    m = pid.map(list(range(4)))

state = flow.run(executor="processes")
assert state.is_successful(), state
assert os.getpid() not in state.result[m].result
print("ran once", flush=True)
"""


def test_a_script_without_a_main_guard_works(tmp_path):
    script = tmp_path / "noguard.py"
    script.write_text(SCRIPT_WITHOUT_MAIN_GUARD)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ran once\n"


CLI_FLOW = """
import os, time
from pathlib import Path
from ferroflow import Flow, task

@task
def sleepy(x):
    with open(os.environ["PIDS"], "a") as f:
        f.write(f"{os.getpid()}\\n")
    print("started", flush=True)
    time.sleep(3600)
    return x

with Flow("sleepy") as flow:
    sleepy.map(list(range(4)))
"""


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _start_cli_run(tmp_path: Path, *args: str) -> tuple:
    flow = tmp_path / "sleepy_flow.py"
    flow.write_text(CLI_FLOW)
    pids = tmp_path / "pids"
    env = dict(os.environ, PIDS=str(pids), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "ferroflow", "run", str(flow), "--no-progress", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    line = proc.stdout.readline()
    if "started" not in line:  # both workers may print at once: "startedstarted"
        proc.kill()
        proc.communicate()
        raise AssertionError(f"the flow did not start: {line!r}")
    return proc, pids


def test_ctrl_c_on_the_cli_stops_the_workers(tmp_path):
    proc, pids = _start_cli_run(tmp_path, "--executor", "processes", "--executor-option", "max_workers=2")
    try:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)  # a hang guard, not a speed limit
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Flow 'sleepy': Cancelled" in out
    workers = [int(line) for line in pids.read_text().split()]
    assert workers and proc.pid not in workers
    assert not [pid for pid in workers if _alive(pid)]


def test_workers_die_with_a_killed_flow_process(tmp_path):
    proc, pids = _start_cli_run(tmp_path, "--executor", "processes", "--executor-option", "max_workers=2")
    workers = [int(line) for line in pids.read_text().split()]
    proc.kill()  # SIGKILL: no shutdown() runs; the lifeline pipe tells the workers
    proc.communicate(timeout=120)
    deadline = time.monotonic() + 60  # a hang guard: they go in milliseconds
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not [pid for pid in workers if _alive(pid)]


@task
def plain():
    return 1


def test_an_unpicklable_context_value_is_named():
    with Flow("ctx") as flow:
        p = plain()
    with context(lock=threading.Lock()):
        state = flow.run(executor=ProcessesExecutor(max_workers=1))
    assert state.result[p].message.startswith(
        "Task 'plain' cannot be sent to a worker process: the context value 'lock' (set with `with context(...)`) "
        "cannot be pickled")


def test_the_cli_builds_the_executor_from_its_options(tmp_path):
    flow = tmp_path / "small_flow.py"
    flow.write_text(textwrap.dedent("""
        import os
        from ferroflow import Flow, task

        @task
        def pid(x):
            return os.getpid()

        @task
        def distinct(pids):
            return len(set(pids))

        with Flow("small") as flow:
            distinct(pid.map(list(range(50))))
    """))
    proc = subprocess.run([sys.executable, "-m", "ferroflow", "run", str(flow), "--no-progress",
                           "--executor", "processes", "--executor-option", "max_workers=2"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Flow 'small': Success")
    bad = subprocess.run([sys.executable, "-m", "ferroflow", "run", str(flow), "--executor", "processes",
                          "--executor-option", "max_workers=0"], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "max_workers must be a positive integer, got 0" in bad.stderr


class FreshWorkers(ProcessesExecutor):
    """Every unit on a new worker process, so that no worker remembers anything."""

    def _dispatch(self):
        for worker in list(self._idle):
            self._idle.remove(worker)
            self._workers.remove(worker)
            worker.commands.send_bytes(pickle.dumps(("stop",)))
            worker.proc.wait()
            worker.close()
        super()._dispatch()


@task(max_retries=1, retry_delay=timedelta(0))
def loop_fails_at_3():
    history = context.get("loop_result", [])
    if context.loop_count == 3 and context.task_run_count == 1:
        raise RuntimeError("fails in iteration 3")
    if context.loop_count < 5:
        raise signals.LOOP(result=history + [(context.task_run_count, context.loop_count)])
    return history


def test_a_retried_loop_resumes_on_another_worker():
    executor = FreshWorkers(max_workers=1)
    with Flow("loop") as flow:
        t = loop_fails_at_3()
    state = flow.run(executor=executor)
    assert executor.stats["workers"] == 2  # the retry ran in a new process
    assert state.result[t].result == [(1, 1), (1, 2), (2, 3), (2, 4)]


# ----- batches of ordinary task runs -----------------------------------------------------


class Counting(ProcessesExecutor):
    """Counts the units it is given."""

    def start(self):
        super().start()
        self.submitted = 0

    def submit(self, unit):
        self.submitted += 1
        super().submit(unit)


@task
def join(a, b):
    return a + b


def grid(width: int, depth: int, first=after, then=join):
    """A layered DAG of ordinary tasks: ``width`` tasks per layer, each of a layer
    reading two of the layer before; returns the flow and its last layer."""
    with Flow("grid") as flow:
        layer = [first(i) for i in range(width)]
        for _ in range(depth - 1):
            layer = [then(layer[i], layer[(i + 1) % width]) for i in range(width)]
    return flow, layer


def grid_values(width: int, depth: int, start: int = 1) -> list:
    """What the last layer of :func:`grid` holds (the first layer: ``i + start``)."""
    layer = [i + start for i in range(width)]
    for _ in range(depth - 1):
        layer = [layer[i] + layer[(i + 1) % width] for i in range(width)]
    return layer


@pytest.mark.parametrize("workers", [1, 2])
def test_a_grid_of_ordinary_tasks_runs_in_batches(workers):
    flow, last = grid(20, 5)
    executor = Counting(max_workers=workers)
    state = flow.run(executor=executor)
    assert state.is_successful(), state.message
    assert [state.result[t].result for t in last] == grid_values(20, 5)
    assert executor.stats["units"] == executor.submitted
    if workers == 1:  # a layer of 20 tasks is one unit, not 20
        assert executor.submitted == 5
    else:  # units are cut for two workers as the runs of a layer become ready
        assert executor.submitted <= 100 // 2, executor.submitted


@task
def die_on_7(x):
    if x == 7:
        os._exit(5)
    return x * 10


def test_a_task_run_that_kills_its_worker_inside_a_batch_fails_alone():
    with Flow("batch-poison") as flow:
        runs = [die_on_7(i) for i in range(12)]
        more = [after(r) for r in runs]
    executor = Counting(max_workers=1)
    state = flow.run(executor=executor)
    assert executor.submitted < 12  # the twelve runs came in a batch
    failed = [i for i, r in enumerate(runs) if not state.result[r].is_successful()]
    assert failed == [7]
    culprit = state.result[runs[7]]
    assert isinstance(culprit.result, WorkerCrashedError) and culprit.result.task_name == "die_on_7"
    assert culprit.result.map_index is None and culprit.run_count == 1
    assert culprit.message == (f"Its worker process (pid {culprit.result.pid}) exited with code 5 while running "
                               f"this task run")
    assert str(culprit.result).endswith("exited with code 5 while running task run 'die_on_7'")
    assert [state.result[r].result for i, r in enumerate(runs) if i != 7] == [i * 10 for i in range(12) if i != 7]
    assert [state.result[m].result for i, m in enumerate(more) if i != 7] == [i * 10 + 1 for i in range(12) if i != 7]
    assert isinstance(state.result[more[7]], states.TriggerFailed)
    assert executor.stats["reruns"] == 1


@task
def takes_a_lock(lock):
    return 1


def test_an_unpicklable_argument_in_a_batch_fails_its_task_run_only():
    with Flow("batch-lock") as flow:
        bad = takes_a_lock(threading.Lock())
        good = [after(i) for i in range(5)]
    executor = Counting(max_workers=1)
    state = flow.run(executor=executor)
    assert executor.submitted == 1  # one batch: the six runs
    assert state.result[bad].message.startswith("Task 'takes_a_lock' cannot be sent to a worker process: its "
                                                 "argument 'lock' cannot be pickled")
    assert isinstance(state.result[bad].result, ExecutorError)
    assert [state.result[g].result for g in good] == [1, 2, 3, 4, 5]


class PickledInFlowProcess:
    """A task's function that counts how many times the flow process pickles it."""

    pickled = 0

    def __call__(self, a, b=0):
        return a + b

    def __reduce__(self):
        type(self).pickled += 1
        return (PickledInFlowProcess, ())


def test_a_function_many_tasks_share_is_pickled_once_per_batch():
    shared = task(PickledInFlowProcess(), name="add")
    PickledInFlowProcess.pickled = 0
    flow, last = grid(30, 3, first=shared, then=shared)
    executor = Counting(max_workers=2)
    state = flow.run(executor=executor)
    assert [state.result[t].result for t in last] == grid_values(30, 3, start=0)
    # Ninety tasks share the function: it was pickled once per unit (a batch), not
    # once per task.
    assert PickledInFlowProcess.pickled <= executor.submitted < 90, (PickledInFlowProcess.pickled,
                                                                    executor.submitted)
