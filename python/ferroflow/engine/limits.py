"""Which tasks of a flow run take tag concurrency slots, worked out once when the run
starts: the tags every task carries are gathered, the store is asked once which of them
have a limit, and each task carrying a limited tag gets a
:class:`~ferroflow.runtime.slots.TaskSlots` for its work units. A flow with no tagged
task, or no limited tag, asks nothing more and its task runs pay nothing.

A limit set (or deleted) while a run is running applies to the runs started after.
When the store cannot say which tags have a limit, every tag is taken as limited (its
task runs ask for slots, and a tag without a limit is given at once): a limit is never
exceeded because the store was away when the run started.
"""

from __future__ import annotations

import logging
from typing import Any

from ferroflow.runtime.slots import TaskSlots

__all__ = ["release_all", "stop_waiting", "task_slots"]

log = logging.getLogger("ferroflow.engine")


def task_slots(tasks: list, store: Any, run_id: str) -> dict:
    """``{task id: TaskSlots}`` of the tasks (``tasks``, in task id order) that carry a
    tag with a limit in ``store``'s database ({} for most flows)."""
    access = None if store is None else store.concurrency_slots()
    if access is None:  # (recording off: no limit applies)
        return {}
    tagged: dict = {}
    for i, t in enumerate(tasks):
        tags = t.__dict__.get("tags")  # (read so: an untagged task gets no empty set)
        if tags:
            tagged[i] = tags
    if not tagged:
        return {}
    every: set = set().union(*tagged.values())
    try:
        limited = access.limited_tags(every)
    except Exception as exc:
        log.warning("cannot tell which tags have a concurrency limit (%s): every tagged task run asks for slots", exc)
        limited = every
    found: dict = {}
    if limited:
        for i, tags in tagged.items():
            mine = limited.intersection(tags)
            if mine:
                found[i] = TaskSlots(access, run_id, i, tuple(mine))
    return found


def stop_waiting(slots: dict) -> None:
    """End every wait for slots of this process (the run stops)."""
    for guard in slots.values():
        guard.stop()


def release_all(slots: dict, run_id: str) -> None:
    """Free every slot run ``run_id``'s task runs still hold (one killed in a worker
    process, say). A store that cannot be reached is a warning: the server or the next
    acquisition frees them once the run's end is recorded."""
    if not slots:
        return
    access = next(iter(slots.values())).access
    try:
        access.release_run(run_id)
    except Exception as exc:
        log.warning("could not free the concurrency slots of run %s now: %s", run_id, exc)
