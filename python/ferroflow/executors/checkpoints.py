"""Checkpointed results and targets, inside a work unit (so they run wherever the
executor runs the unit, and a unit's results are written in one batch).

* ``target=``: before running, each task run whose target location already holds a
  record is ``Cached`` with the value read from it, and is not run.
* ``result=`` / ``checkpoint=``: after running, every successful task run's value is
  written (serialized, then written atomically by the store) and its location kept;
  a write that fails fails that task run with the error (never a silent success).

Locations are formatted from the run's context (``flow_name``, ``task_name``,
``map_index``, ``today``...), the parameters and the task run's inputs.

A resumed run that cannot read a checkpoint back runs that task run again and says so
(:class:`UnreadCheckpoints`).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Optional

from ferroflow._core import CACHED, FAILED, SUCCESS
from ferroflow.engine.context import _frame_values
from ferroflow.executors.caching import read_cache, settle
from ferroflow.results import LocationTemplate, Result, ResultError, template_context

__all__ = ["Checkpoint", "UNREAD_LISTED", "UnreadCheckpoints", "run_checkpointed"]

log = logging.getLogger("ferroflow.resume")

#: Unreadable checkpoints a resumed run lists one line each; the rest are counted and
#: summed up in one line when the run ends.
UNREAD_LISTED = 20


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """How a task's results are kept: where (``result``; None: not checkpointed), the
    ``target`` template whose existing record makes a task run Cached, and the
    task's ``cache`` (:class:`ferroflow.executors.caching.Cache`)."""

    result: Optional[Result]
    target: Optional[LocationTemplate] = None
    cache: Any = None

    def location_of(self, unit: Any, j: int, kwargs: dict) -> str:
        """The target location of task run ``j`` of ``unit`` (inputs ``kwargs``)."""
        return self.target.format(_keys(unit, j, kwargs))  # type: ignore[union-attr]


class UnreadCheckpoints:
    """Warnings (logger ``ferroflow.resume``) about the checkpoints of an earlier run
    that a resumed run cannot read back, so it runs those task runs again.

    The first ``listed`` of the run get one line each, naming the task, the map index,
    the location and why it cannot be read; :meth:`finish` then counts the others in
    one line, per task, so a million corrupt children cost a bounded number of lines.
    """

    def __init__(self, run_id: str, listed: int = UNREAD_LISTED):
        self.run_id = run_id
        self.listed = listed
        self.count = 0
        self.unlisted: dict = {}  # task label -> how many were counted, not listed

    def add(self, label: str, index: Optional[int], location: str, error: BaseException) -> None:
        """Checkpoint ``location`` of task ``label`` (child ``index``, None: the task
        itself) could not be read (``error``)."""
        self.count += 1
        if self.count > self.listed:
            self.unlisted[label] = self.unlisted.get(label, 0) + 1
            return
        who = f"task {label!r}" + ("" if index is None else f", map index {index},")
        text = str(error).strip()
        reason = text.splitlines()[0] if text else type(error).__name__
        log.warning("resuming run %s: %s runs again: its checkpoint %r could not be read: %s%s",
                    self.run_id, who, location, reason,
                    " (further unreadable checkpoints are counted, not listed)" if self.count == self.listed else "")

    def finish(self) -> None:
        """Sum up, in one line, the unreadable checkpoints that were not listed."""
        if not self.unlisted:
            return
        per_task = ", ".join(f"task {label!r}: {n:,}" for label, n in self.unlisted.items())
        log.warning("resuming run %s: %s more checkpoints could not be read (%s); in all, %s task runs had "
                    "to run again because their checkpoint could not be read", self.run_id,
                    f"{self.count - self.listed:,}", per_task, f"{self.count:,}")


def _keys(unit: Any, j: int, kwargs: dict) -> dict:
    frame = unit.frame
    frame.j = j
    context = _frame_values(frame)
    return template_context(context, parameters=frame.run.parameters, inputs=kwargs)


def _index(unit: Any, j: int) -> Optional[int]:
    return None if unit.indices is None else unit.indices[j]


def _failed(error: ResultError, unit: Any, j: int, what: str) -> tuple:
    from ferroflow.executors.base import _retry_rule, _retryable

    error.with_task(unit.label, _index(unit, j))
    return _retryable((FAILED, error, (f"{what}: {error}", None)), _retry_rule(unit))


def run_checkpointed(unit: Any, run: Any) -> Any:
    """Run ``unit`` (``run(sub_unit)`` runs task runs the plain way) with its
    checkpoint: targets first, then the task runs left, then their writes."""
    checkpoint: Checkpoint = unit.checkpoint
    n = unit.size
    codes = bytearray([SUCCESS]) * n
    values: list = [None] * n
    details: dict = {}
    locations: list = [None] * n
    from ferroflow.executors.base import UnitResult

    result = UnitResult(codes, values, details, locations=locations)
    todo = list(range(n))
    if checkpoint.target is not None:
        todo = _read_targets(unit, checkpoint, codes, values, details, locations)
    keys: dict = {}
    if checkpoint.cache is not None and todo:
        todo = read_cache(unit, checkpoint.cache, todo, keys, codes, values, details)
    if todo:
        # (run() runs plain task runs: no targets, no writes, whatever the unit says)
        result.place(todo, run(unit if len(todo) == n else unit.subset(todo)))
        if checkpoint.result is not None:
            _write(unit, checkpoint, todo, codes, values, details, locations)
        if keys:
            settle(unit, checkpoint.cache, keys, codes, values, details)
    return result


def _read_targets(unit, checkpoint, codes, values, details, locations) -> list:
    """Mark Cached every task run whose target exists; return the positions to run."""
    todo = []
    found: list = []
    for j in range(unit.size):
        try:
            location = checkpoint.location_of(unit, j, unit.inputs(j))
            exists = checkpoint.result.store.exists(location)
        except ResultError as exc:
            codes[j], values[j], details[j] = _failed(exc, unit, j, "Could not check the task's target")
            continue
        except Exception as exc:  # noqa: BLE001 - a template's or store's own error
            codes[j], values[j], details[j] = _failed(_wrap(exc), unit, j, "Could not check the task's target")
            continue
        if exists:
            found.append((j, location))
        else:
            todo.append(j)
            locations[j] = location
    if found:
        read = checkpoint.result.read_many([loc for _, loc in found])
        for (j, location), value in zip(found, read):
            if isinstance(value, ResultError):
                codes[j], values[j], details[j] = _failed(value, unit, j, "Could not read the task's target")
            else:
                codes[j], values[j], locations[j] = CACHED, value, location
                details[j] = (f"Result found at task target {location}", None)
    return todo


def _write(unit, checkpoint, todo, codes, values, details, locations) -> None:
    """Write the values of the successful task runs among ``todo``."""
    ok = [j for j in todo if codes[j] == SUCCESS]
    if not ok:
        return
    result = checkpoint.result
    if checkpoint.target is not None:
        # The location is the target (already formatted before the run).
        written = []
        for j in ok:
            try:
                written.append(result.write_to(locations[j], values[j]))
            except ResultError as exc:
                written.append(exc)
    else:
        contexts = [_keys(unit, j, unit.inputs(j)) for j in ok]
        written = result.write_many([values[j] for j in ok], contexts)
    for j, outcome in zip(ok, written):
        if isinstance(outcome, ResultError):
            locations[j] = None
            codes[j], values[j], details[j] = _failed(outcome, unit, j, "Could not checkpoint the task's result")
        else:
            locations[j] = outcome


def _wrap(exc: BaseException) -> ResultError:
    error = ResultError(f"{type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error
