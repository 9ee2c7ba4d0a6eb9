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
from typing import Any

from ferroflow._core import CACHED, FAILED, SUCCESS
from ferroflow.results import LocationTemplate, Result, ResultError, template_context
from ferroflow.runtime.caching import read_cache, settle
from ferroflow.runtime.context import in_frame, task_run_context

__all__ = ["Checkpoint", "UNREAD_LISTED", "UnreadCheckpoints", "run_checkpointed"]

log = logging.getLogger("ferroflow.resume")

#: Unreadable checkpoints a resumed run lists one line each; the rest are counted and
#: summed up in one line when the run ends.
UNREAD_LISTED = 20


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """How a task's results are kept: where (``result``; None: not checkpointed), the
    ``target`` template whose existing record makes a task run Cached, and the
    task's ``cache`` (:class:`ferroflow.runtime.caching.Cache`)."""

    result: Result | None
    target: LocationTemplate | None = None
    cache: Any = None

    def location_of(self, unit: Any, j: int, kwargs: dict) -> str:
        """The target location of task run ``j`` of ``unit`` (inputs ``kwargs``)."""
        return self.target.format(_keys(unit, j, kwargs))  # type: ignore[union-attr]  # asked only with a target


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

    def add(self, label: str, index: int | None, location: str, error: BaseException) -> None:
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
    """The keys a location of task run ``j`` is formatted with, as Prefect 1's
    ``{**parameters, **context, **inputs}``; the unit's frame (current) moves to ``j``,
    so a location callable reading ``ferroflow.context`` sees that task run."""
    frame = unit.frame
    frame.j = j
    return template_context(task_run_context(frame), parameters=frame.run.parameters, inputs=kwargs)


class _Contexts:
    """The location keys of the task runs at ``positions`` of ``unit``, one by one:
    taking a task run's keys moves the unit's frame to it, so a location callable that
    reads ``ferroflow.context`` while ``Result.write_many`` formats that task run's
    location sees that task run (``task_loop_count`` included, as in Prefect 1)."""

    def __init__(self, unit: Any, positions: list):
        self.unit = unit
        self.positions = positions

    def __len__(self) -> int:
        return len(self.positions)

    def __iter__(self) -> Any:
        unit = self.unit
        for j in self.positions:
            yield _keys(unit, j, unit.inputs(j))


def _index(unit: Any, j: int) -> int | None:
    return None if unit.indices is None else unit.indices[j]


def _failed(error: ResultError, unit: Any, j: int, what: str) -> tuple:
    from ferroflow.runtime.unit import retry_rule, retryable

    error.with_task(unit.label, _index(unit, j))
    return retryable((FAILED, error, (f"{what}: {error}", None)), retry_rule(unit))


def run_checkpointed(unit: Any, run: Any) -> Any:
    """Run ``unit`` (``run(sub_unit)`` runs task runs the plain way) with its
    checkpoint: targets first, then the task runs left, then their writes."""
    checkpoint: Checkpoint = unit.checkpoint
    n = unit.size
    codes = bytearray([SUCCESS]) * n
    values: list = [None] * n
    details: dict = {}
    locations: list = [None] * n
    from ferroflow.runtime.unit import UnitResult

    result = UnitResult(codes, values, details, locations=locations)
    with in_frame(unit.frame):  # locations and caches see the task run being handled
        _run_checkpointed(unit, checkpoint, run, result)
    return result


def _run_checkpointed(unit: Any, checkpoint: Checkpoint, run: Any, result: Any) -> None:
    n = unit.size
    codes, values, details, locations = result.codes, result.values, result.details, result.locations
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
        except Exception as exc:  # a template's or store's own error
            codes[j], values[j], details[j] = _failed(_wrap(exc), unit, j, "Could not check the task's target")
            continue
        if exists:
            found.append((j, location))
        else:
            todo.append(j)
            locations[j] = location
    if found:
        read = checkpoint.result.read_many([loc for _, loc in found])
        for (j, location), value in zip(found, read, strict=True):
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
        written = result.write_many([values[j] for j in ok], _Contexts(unit, ok))
    for j, outcome in zip(ok, written, strict=True):
        if isinstance(outcome, ResultError):
            locations[j] = None
            codes[j], values[j], details[j] = _failed(outcome, unit, j, "Could not checkpoint the task's result")
        else:
            locations[j] = outcome


def _wrap(exc: BaseException) -> ResultError:
    error = ResultError(f"{type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error
