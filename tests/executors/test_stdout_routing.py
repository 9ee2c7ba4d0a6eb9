"""``log_stdout=True`` in any executor: what a task run prints reaches that task run's
log, even when an executor runs ``unit.run()`` in several threads at once (as a plugin's
thread pool would), and ``sys.stdout`` is restored afterwards."""

from __future__ import annotations

import concurrent.futures as cf
import io
import sys
import threading
import time

from ferroflow import Flow, task
from ferroflow.executors import Executor
from ferroflow.runtime.stdout import prints_to


class PoolExecutor(Executor):
    """The simplest threaded executor: unit.run() in a thread pool, nothing else."""

    name = "pool"

    def start(self):
        self.pool = cf.ThreadPoolExecutor(4)
        self.futures = {}

    def slots(self):
        return 4

    def submit(self, unit):
        self.futures[self.pool.submit(unit.run)] = unit

    def wait(self):
        done, _ = cf.wait(self.futures, return_when=cf.FIRST_COMPLETED)
        return [(self.futures.pop(f), f.result()) for f in done]

    def shutdown(self):
        self.pool.shutdown()


@task(log_stdout=True)
def chatter(x):
    for k in range(5):
        print(f"{x}:{k}")
        time.sleep(0.0005)  # let the other threads print in between
    return x


def test_prints_of_concurrent_units_reach_their_own_task_runs():
    before = sys.stdout
    with Flow("chatter") as flow:
        m = chatter.map(list(range(300)))
    for _ in range(3):  # (units overlap differently each time)
        state = flow.run(executor=PoolExecutor())
        assert state.is_successful(), state.message
        for x, child in enumerate(state.result[m].map_states):
            assert [e.message for e in child.logs] == [f"{x}:{k}" for k in range(5)]
        assert sys.stdout is before


def test_prints_of_other_threads_go_to_the_stdout_that_was_there():
    captured, other = io.StringIO(), io.StringIO()
    before = sys.stdout
    sys.stdout = other
    try:
        with prints_to(captured):
            thread = threading.Thread(target=print, args=("from another thread",))
            thread.start()
            thread.join()
            print("from this thread")
            with prints_to(io.StringIO()):  # nested: restores the outer stream
                print("inner")
            print("this thread again")
        assert sys.stdout is other
    finally:
        sys.stdout = before
    assert captured.getvalue() == "from this thread\nthis thread again\n"
    assert other.getvalue() == "from another thread\n"
