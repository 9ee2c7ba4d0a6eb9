"""Finding the task run that kills its workers, for executors that cannot see inside a
unit (Dask, Ray): a unit lost as a whole is split in two halves that run again, a lost
half is split again, and so on, until the culprit is a unit of one task run that fails
alone while the rest of the unit completes. A piece of one task run lost once runs
once more alone before it is taken as the culprit: a worker that dies takes with it
every piece it held, the culprit's innocent neighbours too (seen on Dask, whose workers
may hold more than one task).

One *poison* task run in a unit of ``n`` costs ``2 + ceil(log2(n))`` lost units (each
costing what the executor spends before giving up on a unit: Dask's
``allowed-failures + 1`` worker deaths, Ray's ``max_retries + 1``) instead of the whole
unit. Splitting stops after :func:`lost_budget` losses per unit, enough to isolate two
poison runs: when every task run kills its worker (a broken environment, not a bad
item), the halves already made fail when lost, unsplit, so a unit of ``n`` loses at
most ``2 * lost_budget(n) + 1`` pieces (43 for 1,024 runs, not 2,047) and the rest of
its task runs fail without taking down hundreds of workers.

Usage, in an executor (see ``ferroflow_dask`` and ``ferroflow_ray``)::

    splitter = CrashSplitter()
    # in wait(), for every unit that came back (one the engine gave, or a half):
    splitter.handle(unit, result, lost, self.submit, out)
    # out gets (the unit the engine gave, its whole result) once all of it is back

where ``lost`` says the executor gave up on the unit as a whole (its workers kept
dying), and ``result`` then fails each of its task runs with that error.

The same bookkeeping runs a batch (:class:`~ferroflow.runtime.batch.TaskRuns`) in
parts for another reason: ``splitter.divide(unit, groups)`` (groups from
:func:`groups_by_task`, e.g. by the resources its tasks ask a cluster for) gives parts
to submit, whose results come back through ``handle`` like halves.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ferroflow.runtime.unit import UnitResult, WorkUnit

__all__ = ["CrashSplitter", "lost_budget", "groups_by_task"]

log = logging.getLogger("ferroflow.executors")


def lost_budget(size: int) -> int:
    """Lost pieces a unit of ``size`` task runs may have before splitting stops: enough
    to isolate two poison task runs (each: its halvings, and its run alone once more)."""
    return 1 + 2 * (math.ceil(math.log2(size)) + 1) if size > 1 else 1


def groups_by_task(unit: Any, key: Callable[[Any], Any]) -> list | None:
    """The positions of a batch (:class:`~ferroflow.runtime.batch.TaskRuns`) grouped by
    ``key(plan)`` of their tasks' plans (what they ask a cluster for, say), when that
    makes more than one group: parts for :meth:`CrashSplitter.divide`. None for a
    WorkUnit or a batch of one group."""
    if unit.task_id != -1:
        return None
    groups: dict = {}
    plans = unit.plans
    for j, task_id in enumerate(unit.task_ids):
        groups.setdefault(key(plans[task_id]), []).append(j)
    return list(groups.values()) if len(groups) > 1 else None


@dataclass
class _Split:
    unit: WorkUnit  # the unit that was split
    result: UnitResult  # its result, filled in by its halves
    pending: int  # halves not back yet
    root: _Root
    again: bool = False  # a piece of one task run, lost once, run once more alone


@dataclass
class _Root:
    size: int
    lost: int = 0


class CrashSplitter:
    """Splits units lost as a whole, and puts their halves' results back together."""

    def __init__(self, stats: dict | None = None) -> None:
        self._pieces: dict = {}  # id(half) -> (half, the _Split it belongs to, its positions)
        self._roots: dict = {}  # id(unit given by the engine) -> _Root, while split
        #: Counts units split as ``stats["split"]`` (an executor's stats, or its own).
        self.stats = stats if stats is not None else {}
        self.stats.setdefault("split", 0)

    def handle(self, unit: WorkUnit, result: UnitResult, lost: bool, submit: Callable[[WorkUnit], Any],
               out: list) -> None:
        """``unit`` came back with ``result`` (``lost``: its workers kept dying): submit
        its halves when it is to be split; append to ``out`` what goes back to the
        engine, ``(unit it gave, whole result)``, once all of it is back."""
        if lost:
            halves = self.split(unit, result)
            if halves and unit.size == 1:
                log.warning("a task run of task %r was lost with its workers: running it once more alone, to "
                            "tell the task run that kills them from one lost beside it", unit.label)
                submit(halves[0])
                return
            if halves:
                log.warning("the workers running a work unit of task %r (%d task runs) kept dying: running it "
                            "again in two halves, to find the task run that kills them", unit.label, unit.size)
                for half in halves:
                    submit(half)
                return
        done = self.settle(unit, result)
        if done is not None:
            out.append(done)

    def split(self, unit: WorkUnit, lost: UnitResult) -> list:
        """Two halves of ``unit`` to run instead (their results go to :meth:`settle`);
        for a piece of one task run (a half) lost for the first time, itself once more;
        or ``[]``: ``unit`` is a unit of one the engine gave, or a piece of one lost
        alone twice, or its unit lost too many pieces already; then settle ``lost`` as
        its result."""
        root = self._root(unit)
        root.lost += 1
        if root.lost > lost_budget(root.size):
            return []
        if unit.size < 2:
            piece = self._pieces.get(id(unit))
            if piece is None or piece[1].again:
                return []
            return self._parts(unit, lost, [range(1)], root, again=True)
        self.stats["split"] += 1
        middle = unit.size // 2
        return self._parts(unit, lost, [range(middle), range(middle, unit.size)], root)

    def divide(self, unit: WorkUnit, groups: list) -> list:
        """Parts of ``unit`` to run instead of it, one for each group of positions
        (together, every position once): a batch whose task runs need different
        resources, say. Each part comes back through :meth:`handle` like a half, and
        ``unit`` with its whole result once every part is back."""
        n = unit.size
        return self._parts(unit, UnitResult(bytearray(n), [None] * n, {}), groups, self._root(unit))

    def _root(self, unit: WorkUnit) -> _Root:
        piece = self._pieces.get(id(unit))
        return piece[1].root if piece is not None else self._roots.get(id(unit)) or _Root(unit.size)

    def _parts(self, unit: WorkUnit, result: UnitResult, groups: list, root: _Root, again: bool = False) -> list:
        if id(unit) not in self._pieces:
            self._roots[id(unit)] = root
        node = _Split(unit, result, len(groups), root, again)
        parts = []
        for positions in groups:
            part = unit.subset(positions)
            self._pieces[id(part)] = (part, node, positions)
            parts.append(part)
        return parts

    def settle(self, unit: WorkUnit, result: UnitResult) -> tuple | None:
        """``unit`` came back with ``result``: the ``(unit, result)`` to give the engine
        (``unit`` as it gave it), or None while other halves are still running."""
        while True:
            piece = self._pieces.pop(id(unit), None)
            if piece is None:
                self._roots.pop(id(unit), None)
                return unit, result
            _, node, positions = piece
            node.result.place(positions, result)
            node.pending -= 1
            if node.pending:
                return None
            unit, result = node.unit, node.result

    def clear(self) -> None:
        """Forget every split (the run ended)."""
        self._pieces.clear()
        self._roots.clear()

    def __len__(self) -> int:
        """Halves still expected."""
        return len(self._pieces)
