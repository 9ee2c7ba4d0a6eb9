"""A batch of ordinary task runs: the single (non-mapped) runs of several tasks that are
ready at the same time (a layer of a grid, the branches of a fan-out), run one after
another as one work unit.

A mapped task's children already share a unit (:class:`~ferroflow.runtime.unit.WorkUnit`);
a batch gives ordinary tasks the same economy: one hand-over to the executor, one
result and one report to the core for the whole batch, instead of one of each per task.
Only *plain* tasks are batched: no state handlers, checkpoint, cache, timeout,
``log_stdout``, ``retry_condition`` or ``task_run_name`` (the engine decides which, once
per flow run; the others keep a unit of their own). What each task needs to run is in
its :class:`TaskPlan`, built once per flow run and shared by every batch.

A batch has the parts of a unit an executor uses: ``run()``, ``size``, ``label``,
``subset()``, ``task_id`` (-1: several tasks) and ``indices`` (None), so an executor that
calls ``unit.run()`` runs batches without knowing them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from ferroflow import signals
from ferroflow._core import SUCCESS
from ferroflow.debug import TaskRaised
from ferroflow.runtime.context import CURRENT_FRAME, Frame, RunInfo
from ferroflow.runtime.timeouts import TaskTimeout
from ferroflow.runtime.unit import UnitResult, outcome_of_exception, stopped_at

__all__ = ["TaskPlan", "TaskRuns", "run_plain"]

_CAUGHT = (Exception, signals.FerroflowSignal, TaskTimeout)


class TaskPlan:
    """What every run of one plain task needs, fixed for a flow run: the function, the
    names the context shows, and the exceptions that may be retried."""

    __slots__ = ("task_id", "name", "slug", "tags", "fn", "retry_on")

    def __init__(self, task_id: int, name: str, slug: str | None, tags: frozenset, fn: Callable[..., Any],
                 retry_on: tuple):
        self.task_id = task_id
        self.name = name
        self.slug = slug
        self.tags = tags
        self.fn = fn
        self.retry_on = retry_on


def run_plain(plan: TaskPlan, kwargs: dict, details: dict, j: int) -> tuple[int, Any]:
    """Run one run of a plain task in the current frame: ``(code, value)``; a failure's
    ``(message, traceback)`` goes to ``details[j]``. A user's exception fails the run
    (``KeyboardInterrupt``, ``SystemExit`` and ``TaskRaised`` propagate)."""
    try:
        return SUCCESS, plan.fn(**kwargs)
    except signals.LOOP as sig:  # iterations: ferroflow.runtime.loop
        from ferroflow.runtime.loop import keep_looping

        return keep_looping(plan.fn, kwargs, sig, plan.retry_on, details, j)
    except _CAUGHT as exc:
        code, value, details[j] = outcome_of_exception(exc, plan.retry_on)
        return code, value


class TaskRuns:
    """Single runs of several plain tasks: run ``j`` is a run of task ``task_ids[j]``
    with keyword arguments ``kwargs[j]``, its attempt number ``run_counts[j]``.

    ``plans`` maps task ids to :class:`TaskPlan` (the flow run's table, shared).
    """

    __slots__ = ("run_info", "plans", "task_ids", "kwargs", "run_counts")

    task_id = -1
    indices = None
    frame = None
    timeout = None

    def __init__(self, run_info: RunInfo | None, plans: Any, task_ids: list, kwargs: list, run_counts: bytes):
        self.run_info = run_info
        self.plans = plans
        self.task_ids = task_ids
        self.kwargs = kwargs
        self.run_counts = run_counts

    @property
    def size(self) -> int:
        return len(self.task_ids)

    @property
    def label(self) -> str:
        names = sorted({self.plans[t].name for t in self.task_ids})
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        return f"{len(self.task_ids)} task runs ({shown})"

    def subset(self, positions: Sequence[int]) -> TaskRuns:
        """A batch of only the runs at ``positions`` (in that order) of this one."""
        return TaskRuns(self.run_info, self.plans, [self.task_ids[j] for j in positions],
                        [self.kwargs[j] for j in positions], bytes(self.run_counts[j] for j in positions))

    def inputs(self, j: int) -> dict:
        """The keyword arguments of run ``j``."""
        return dict(self.kwargs[j])

    def run(self, frame: Frame | None = None) -> UnitResult:
        """Run every run of the batch; a user's exception fails that run only
        (``KeyboardInterrupt`` and ``SystemExit`` propagate). ``frame``: the frame to
        run in (a worker's own, that reports the position as it moves); a new one by
        default."""
        started = time.perf_counter()
        n = len(self.task_ids)
        codes = bytearray([SUCCESS]) * n
        values: list = [None] * n
        details: dict = {}
        plans, task_ids, all_kwargs = self.plans, self.task_ids, self.kwargs
        if frame is None:
            frame = Frame(self.run_info, -1, None, None, frozenset(), None, self.run_counts)
        lent = frame.unit is None
        if lent:
            frame.unit = self  # (ferroflow.runtime.task_run reads the inputs; for the run only: no cycle stays)
        token = CURRENT_FRAME.set(frame)
        j = 0
        try:
            for j in range(n):
                plan = plans[task_ids[j]]
                frame.task_id, frame.task_name, frame.task_slug, frame.task_tags = (
                    plan.task_id, plan.name, plan.slug, plan.tags)
                frame.j = j
                if frame.looped:  # (what an earlier run's loop left is not this run's)
                    frame.looped = {}
                codes[j], values[j] = run_plain(plan, all_kwargs[j], details, j)
        except TaskRaised as stop:  # raise_on_exception: the batch stops at run j
            result = stopped_at(j, stop, codes, values, details)
        else:
            result = UnitResult(codes, values, details)
        finally:
            CURRENT_FRAME.reset(token)
            if lent:
                frame.unit = None
        result.elapsed = time.perf_counter() - started
        return result

    def __getstate__(self):
        # Only the plans this batch uses travel with it.
        plans = {t: self.plans[t] for t in set(self.task_ids)}
        return (self.run_info, plans, self.task_ids, self.kwargs, self.run_counts)

    def __setstate__(self, state):
        self.run_info, self.plans, self.task_ids, self.kwargs, self.run_counts = state
