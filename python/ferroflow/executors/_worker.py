"""The worker side of the ``processes`` executor: a process that runs the parcels
(:mod:`~ferroflow.executors.shipping`) the flow process sends it, one at a time.

A worker is a fresh interpreter started by :class:`~ferroflow.executors.processes.
ProcessesExecutor` with four inherited file descriptors: commands in, results out, a
*lifeline* (a pipe whose write end only the flow process holds: end of file means it
died) and a *mark*, eight shared bytes through which the worker says which task run of
its unit it is running (so a crash is attributed to the right task run).

Protocol (each message one ``Connection.send_bytes``, pickled):

* flow process -> worker: ``("init", levels, disable)`` once, then
  ``("unit", uid, head, blobs)`` per unit and ``("stop",)``. ``head`` is the parcel's
  own part; ``blobs`` hold, for each shared part it names (the run's context, a mapped
  task's plan, its unmapped arguments), the bytes the first time this worker sees it
  and None afterwards: both sides keep the same small LRU of keys, so a task's plan
  crosses the pipe once per worker, not once per unit.
* worker -> flow process: ``("ready", pid)`` once, then ``("done", uid, answer)`` per
  unit (``answer``: :func:`~ferroflow.executors.shipping.run_parcel`'s bytes: codes,
  values, details, the log records the unit emitted and its loop state, or why the
  unit could not run).
"""

from __future__ import annotations

import faulthandler
import mmap
import os
import pickle
import signal
import sys
import threading
from multiprocessing.connection import Connection

from ferroflow.executors.shipping import Dock, prepare_worker, run_parcel
from ferroflow.redaction import ScrubbingStream

__all__ = ["main"]

#: Shared parts each worker keeps (run info, plans, unmapped arguments), least recently
#: used out.
CACHE_SIZE = 16
#: Bytes of the shared mark: one signed 64-bit position.
MARK_BYTES = 8
#: Mark values besides a position ``j >= 0``: loading the unit, and sending it back.
LOADING, RETURNING = -1, -2


class Worker:
    """The loop of one worker process."""

    def __init__(self, commands: Connection, results: Connection, mark: memoryview):
        self.commands = commands
        self.results = results
        self.mark = mark
        self.dock = Dock(CACHE_SIZE, keep_broken=True)  # in step with the flow process's mirror

    def serve(self) -> None:
        kind, levels, disable = pickle.loads(self.commands.recv_bytes())
        assert kind == "init", kind
        prepare_worker((levels, disable), alone=True)
        self.results.send_bytes(pickle.dumps(("ready", os.getpid())))
        while True:
            try:
                data = self.commands.recv_bytes()
            except EOFError:
                return
            message = pickle.loads(data)
            if message[0] == "stop":
                return
            _, uid, head, blobs = message
            del message, data
            try:
                answer = run_parcel(head, blobs, self.dock, mark=self.mark, every_thread=True)
            finally:
                sys.stdout.flush()
            self.results.send_bytes(pickle.dumps(("done", uid, answer), protocol=pickle.HIGHEST_PROTOCOL))
            del answer, head, blobs


def _watch_lifeline(fd: int) -> None:
    """End this worker and every process it started once the flow process is gone."""

    def watch() -> None:
        while True:
            try:
                if not os.read(fd, 1):
                    break
            except OSError:
                break
        try:
            os.killpg(0, signal.SIGKILL)
        finally:
            os._exit(1)

    threading.Thread(target=watch, name="ferroflow-lifeline", daemon=True).start()


def main(argv: list) -> None:
    """Entry point of a worker: ``argv`` holds the four inherited descriptors."""
    commands_fd, results_fd, lifeline_fd, mark_fd = (int(a) for a in argv)
    for fd in (commands_fd, results_fd, lifeline_fd, mark_fd):
        os.set_inheritable(fd, False)  # never leak them into processes a task starts
    _watch_lifeline(lifeline_fd)
    faulthandler.enable()  # a segfault prints the Python stack on stderr
    try:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        pass
    # What tasks print here is scrubbed of the secret values this worker knows (those
    # sent with each unit, and those its tasks read).
    sys.stdout, sys.stderr = ScrubbingStream(sys.stdout), ScrubbingStream(sys.stderr)
    mapped = mmap.mmap(mark_fd, MARK_BYTES)
    os.close(mark_fd)
    mark = memoryview(mapped).cast("q")
    Worker(Connection(commands_fd, writable=False), Connection(results_fd, readable=False), mark).serve()
    # Told to stop (or the flow process closed the pipe): nothing of ours is left to
    # clean up, so skip the interpreter's slow teardown.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, OSError, ValueError):
            pass
    os._exit(0)
