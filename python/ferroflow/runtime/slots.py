"""Tag concurrency limits where a task run runs: before its function is called, the
task run takes one slot of each limited tag its task carries (waiting while any is at
its limit), and frees them when the function returns or raises, whatever the outcome.
A task run about to be retried holds nothing while it waits for its retry.

The engine gives a :class:`TaskSlots` to the work units of a task that carries limited
tags (:attr:`ferroflow.runtime.unit.WorkUnit.slots`); the unit guards its function with
it (:meth:`TaskSlots.guard`). Units of other tasks have none and pay nothing. A
:class:`TaskSlots` is picklable: in a worker process it takes slots through its own
connection to the store (:mod:`ferroflow.store.slots`).

A task run's slots are held under ``"{flow_run_id}:{task_id}:{map_index}:{attempt}"``
(``map_index`` -1 for a task that is not mapped).

Waiting polls the store, 0.1 s at first, twice as long each time, at most 2 s; the
first wait of a task run is logged (``waiting for a concurrency slot of tag 'db'``).
The wait ends with :class:`SlotWaitInterrupted` when the flow run stops (it ended,
Ctrl-C) or the store says the flow run may take no slot any more (it is being
cancelled, or was marked ``Crashed``): the engine then ends the run as it would have.
In a worker process (the ``processes`` executor) a refused task run first waits
:data:`WORKER_GRACE` seconds, long enough for the flow's process to have heard of the
cancellation from its store (a server says so within a heartbeat, 2 s), then gives up
(:class:`SlotWaitInterrupted`, which fails its unit's task runs): the flow's process,
handed the unit back, then ends the run ``Cancelled`` (a worker process has no other way
to hand it a cancellation). A store that cannot be reached is waited for (a warning
once).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from ferroflow.runtime.context import Frame

__all__ = ["FIRST_DELAY", "MAX_DELAY", "WORKER_GRACE", "SlotWaitInterrupted", "TaskSlots"]

#: Seconds between the first two tries to take slots, and at most between two.
FIRST_DELAY = 0.1
MAX_DELAY = 2.0
#: Seconds a task run in a worker process, refused because its flow run is being
#: cancelled or ended, waits before it gives up (three server heartbeats: by then the
#: flow's process knows, and ends the run ``Cancelled`` when the unit comes back).
WORKER_GRACE = 6.0

log = logging.getLogger("ferroflow.concurrency")


class SlotWaitInterrupted(BaseException):
    """A task run stopped waiting for its slots because its flow run stops; ``error`` is
    why (what the engine ends the run with). A BaseException, so that no task run
    records it as its own failure."""

    def __init__(self, error: BaseException):
        super().__init__(str(error))
        self.error = error


class TaskSlots:
    """The slots of the task runs of task ``task_id`` of flow run ``run_id``: one of each
    of ``tags`` (its limited tags), taken through ``access``."""

    def __init__(self, access: Any, run_id: str, task_id: int, tags: tuple, home: int | None = None):
        self.access = access
        self.run_id = run_id
        self.task_id = task_id
        self.tags = tuple(sorted(tags))
        self.stopped = threading.Event()
        #: The flow's process (where the engine runs).
        self.home = os.getpid() if home is None else home

    def __repr__(self) -> str:
        return f"<TaskSlots task {self.task_id} tags {list(self.tags)}>"

    def __getstate__(self) -> dict:
        return {"access": self.access, "run_id": self.run_id, "task_id": self.task_id, "tags": self.tags,
                "home": self.home}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["access"], state["run_id"], state["task_id"], state["tags"],  # type: ignore[misc]
                      state["home"])

    def stop(self) -> None:
        """Stop every wait of this process for these slots (the flow run stops)."""
        self.stopped.set()

    def holder(self, frame: Frame) -> str:
        """The holder id of the task run at ``frame``'s position."""
        j = frame.j
        index = -1 if frame.indices is None else frame.indices[j]
        attempt = frame.run_counts[j] if frame.run_counts else 1
        return f"{self.run_id}:{self.task_id}:{index}:{max(1, attempt)}"

    def guard(self, fn: Callable[..., Any], frame: Frame) -> Callable[..., Any]:
        """``fn`` run only while holding the slots of the task run at ``frame``'s
        position (taken before, freed after, whatever it does)."""

        def guarded(**kwargs: Any) -> Any:
            holder = self.holder(frame)
            self.acquire(holder)
            try:
                return fn(**kwargs)
            finally:
                self.release(holder)

        return guarded

    def acquire(self, holder: str) -> None:
        """Take the slots for ``holder``, waiting as long as it takes (see the module
        docstring); :class:`SlotWaitInterrupted` when the flow run stops."""
        delay = FIRST_DELAY
        logged = warned = False
        refused_at: float | None = None
        while True:
            if self.stopped.is_set():
                raise SlotWaitInterrupted(KeyboardInterrupt("the flow run stopped"))
            try:
                answer = self.access.acquire(self.run_id, holder, self.tags)
            except Exception as exc:  # the store is away: wait for it
                if not warned:
                    log.warning("cannot take a concurrency slot of tags %s now (tried again until it can): %s",
                                ", ".join(map(repr, self.tags)), exc)
                    warned = True
            else:
                if answer.acquired:
                    return
                if answer.run_state is not None:
                    if os.getpid() == self.home:
                        raise SlotWaitInterrupted(_stopping(self.run_id, answer.run_state))
                    # a worker process: give the flow's process time to hear of it first
                    refused_at = time.monotonic() if refused_at is None else refused_at
                    if time.monotonic() - refused_at > WORKER_GRACE:
                        raise SlotWaitInterrupted(_stopping(self.run_id, answer.run_state))
                if not logged:
                    from ferroflow.runtime.logs import get_logger

                    tags = " and ".join(f"tag {t!r}" for t in answer.blocked_by)
                    get_logger().info("waiting for a concurrency slot of %s", tags)
                    logged = True
            self.stopped.wait(delay)
            delay = min(MAX_DELAY, delay * 2)

    def release(self, holder: str) -> None:
        """Free ``holder``'s slots. A store that cannot be reached is a warning: the
        slots are freed when the flow run ends."""
        try:
            self.access.release(holder)
        except Exception as exc:
            log.warning("could not free the concurrency slots of task run %s now (freed when the flow run ends): "
                        "%s", holder, exc)


def _stopping(run_id: str, state: str) -> BaseException:
    from ferroflow.store.errors import RunCancelledError, RunLostError

    if state == "Cancelling":
        return RunCancelledError(run_id)
    return RunLostError(run_id, state, None, None)
