"""The built-in ``threads`` executor: runs work units on a pool of threads of this
process. Good for task runs that wait (network, disk, subprocesses, C code that
releases the GIL); pure-Python CPU work gains nothing from threads (use ``processes``).

What it guarantees and what it cannot:

* ``slots()`` is the number of worker threads; ``wait()`` returns units as they finish,
  in completion order.
* Each unit runs in a copy of the submitting thread's ``contextvars`` context, so
  ``ferroflow.context`` (including ``with context(key=value):`` values) reads the same
  as with ``local``.
* ``timeout=`` is **soft** here: a task run that overruns is recorded ``TimedOut`` at
  its deadline, but its thread cannot be stopped and keeps running in the background
  (see :mod:`ferroflow.runtime.timeouts`).
* Ctrl-C (or any error) while the engine waits: ``wait()`` raises at once, the engine
  cancels the run and calls ``shutdown()``, which returns without waiting for running
  task runs. Units not started yet are dropped. Units already running cannot be
  interrupted (Python cannot stop a thread): they finish in the background (each
  finishes the task runs of its unit) and their results are discarded. The worker
  threads are daemon threads, so they never keep the interpreter from exiting.
* ``log_stdout=True``: what each worker thread prints goes to the task run that thread
  is running (prints from other threads go to the real stdout), so concurrent units
  never capture each other's output (:mod:`ferroflow.runtime.stdout`).
"""

from __future__ import annotations

import contextvars
import os
import queue
import threading
from typing import Any

from ferroflow.executors.base import Executor, WorkUnit
from ferroflow.plugins import hookimpl

__all__ = ["ThreadsExecutor", "default_thread_workers"]


def default_thread_workers() -> int:
    """The default pool size: ``min(32, cpus + 4)``, the rule of
    ``concurrent.futures.ThreadPoolExecutor`` (threads mostly wait on I/O)."""
    return min(32, (os.cpu_count() or 1) + 4)


def check_workers(max_workers: Any, default: int) -> int:
    """``max_workers`` as a positive int (``None`` gives ``default``)."""
    if max_workers is None:
        return default
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ValueError(f"max_workers must be a positive integer, got {max_workers!r}")
    return max_workers


class _State:
    """What the worker threads of one run share with the executor."""

    __slots__ = ("todo", "done", "stopped")

    def __init__(self) -> None:
        self.todo: queue.SimpleQueue = queue.SimpleQueue()
        self.done: queue.SimpleQueue = queue.SimpleQueue()
        self.stopped = False


class ThreadsExecutor(Executor):
    """Run work units on ``max_workers`` threads (default
    :func:`default_thread_workers`)."""

    name = "threads"
    batches = True  # it only calls unit.run()

    def __init__(self, max_workers: int | None = None) -> None:
        self.max_workers = check_workers(max_workers, default_thread_workers())
        self._state: _State | None = None
        self._threads: list[threading.Thread] = []
        self._in_flight = 0

    def __repr__(self) -> str:
        return f"ThreadsExecutor(max_workers={self.max_workers})"

    def start(self) -> None:
        self._state = _State()
        self._threads = []
        self._in_flight = 0

    def slots(self) -> int:
        return self.max_workers

    def submit(self, unit: WorkUnit) -> None:
        state = self._state
        if state is None:
            raise RuntimeError("ThreadsExecutor.submit() before start()")
        state.todo.put((unit, contextvars.copy_context()))
        self._in_flight += 1
        if len(self._threads) < min(self.max_workers, self._in_flight):
            thread = threading.Thread(target=_work, args=(state,), daemon=True,
                                      name=f"ferroflow-threads-{len(self._threads)}")
            thread.start()
            self._threads.append(thread)

    def wait(self) -> list:
        state = self._state
        if state is None or not self._in_flight:
            raise RuntimeError("ThreadsExecutor.wait() with no unit in flight")
        finished = [state.done.get()]  # blocks; Ctrl-C interrupts it
        while True:
            try:
                finished.append(state.done.get_nowait())
            except queue.Empty:
                break
        out = []
        for unit, result, error in finished:
            self._in_flight -= 1
            if error is not None:
                # KeyboardInterrupt / SystemExit raised by a task: the contract lets
                # them propagate, as they would from the local executor.
                raise error
            out.append((unit, result))
        return out

    def shutdown(self) -> None:
        state, self._state = self._state, None
        if state is not None:
            state.stopped = True
            while True:  # drop what has not started
                try:
                    unit_and_context = state.todo.get_nowait()
                except queue.Empty:
                    break
                if unit_and_context is not None:
                    self._in_flight -= 1
            for _ in self._threads:
                state.todo.put(None)
            if self._in_flight == 0:
                # Every thread is idle: let them end now rather than leak.
                for thread in self._threads:
                    thread.join()
            # Otherwise some threads are still running a unit: they cannot be
            # stopped, they end after it (daemon threads, results discarded).
        self._threads = []
        self._in_flight = 0


def _work(state: _State) -> None:
    todo, done = state.todo, state.done
    while True:
        item = todo.get()
        if item is None or state.stopped:
            return
        unit, context = item
        try:
            result = context.run(unit.run)
        except BaseException as exc:  # handed to wait() in the engine's thread
            done.put((unit, None, exc))
        else:
            done.put((unit, result, None))


@hookimpl
def register_executors(register) -> None:
    register("threads", ThreadsExecutor)
