"""States: what happened to a flow run, a task run or a mapped child.

The hierarchy and the ``is_*`` family follow Prefect Core 1: ``is_successful()`` is
true for ``Success`` and its subclasses ``Cached``, ``Mapped`` and ``Skipped``;
``is_failed()`` for ``Failed``, ``TriggerFailed`` and ``TimedOut``.

``State.result`` is the value (a task's return value, or the exception of a failed
run). A failed state also keeps the formatted ``traceback``. ``State._result`` gives
the value with its checkpoint ``location``, for code written against Prefect 1.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any

from ferroflow import _core

__all__ = [
    "State",
    "Looped",
    "Pending",
    "Scheduled",
    "Paused",
    "Retrying",
    "Running",
    "Finished",
    "Success",
    "Cached",
    "Mapped",
    "Skipped",
    "Failed",
    "TriggerFailed",
    "TimedOut",
    "Cancelled",
]


class State:
    """Base state. ``message`` explains it, ``result`` carries its value."""

    color = "#000000"

    def __init__(self, message: str | None = None, result: Any = None, **attrs: Any):
        self.message = message
        self.result = result
        self.traceback: str | None = attrs.pop("traceback", None)
        self.run_count: int = attrs.pop("run_count", 1)
        #: What the task run logged (``ferroflow.runtime.logs.LogEntry`` tuples).
        self.logs: Sequence = attrs.pop("logs", ())
        #: Where the result was checkpointed (``result=``/``target=``), or None.
        self.location: str | None = attrs.pop("location", None)
        if attrs:
            raise TypeError(f"{type(self).__name__}() got unexpected arguments {sorted(attrs)}")

    def __repr__(self) -> str:
        name = type(self).__name__
        return f'<{name}: "{self.message}">' if self.message is not None else f"<{name}>"

    @property
    def _result(self) -> Any:
        """The result as Prefect 1 code reads it (``state._result.value``): a
        :class:`~ferroflow.results.ResultValue` with ``value`` (``state.result``) and
        ``location`` (``state.location``), or :data:`~ferroflow.results.NoResult` for
        a state without one (not finished, or skipped without running)."""
        if self.result is None and self.location is None and (self.is_skipped() or not self.is_finished()):
            return NoResult
        return ResultValue(self.result, self.location)

    def __eq__(self, other: object) -> bool:
        # Equal when of the same type with equal results, as in Prefect 1 (the
        # message is an explanation, not part of the state's identity).
        return type(self) is type(other) and same_value(self.result, other.result)

    __hash__ = object.__hash__

    def is_pending(self) -> bool:
        return isinstance(self, Pending)

    def is_scheduled(self) -> bool:
        return isinstance(self, Scheduled)

    def is_retrying(self) -> bool:
        return isinstance(self, Retrying)

    def is_paused(self) -> bool:
        return isinstance(self, Paused)

    def is_running(self) -> bool:
        return isinstance(self, Running)

    def is_finished(self) -> bool:
        return isinstance(self, Finished)

    def is_successful(self) -> bool:
        return isinstance(self, Success)

    def is_cached(self) -> bool:
        return isinstance(self, Cached)

    def is_mapped(self) -> bool:
        return isinstance(self, Mapped)

    def is_skipped(self) -> bool:
        return isinstance(self, Skipped)

    def is_failed(self) -> bool:
        return isinstance(self, Failed)

    def is_cancelled(self) -> bool:
        return isinstance(self, Cancelled)


def same_value(a: Any, b: Any) -> bool:
    """Whether two results are the same, as state equality (Prefect 1's) and
    :class:`~ferroflow.results.ResultValue` compare them: identical, or equal, and
    exceptions of the same type with the same arguments (exceptions do not compare
    equal by themselves); a comparison that raises counts as different."""
    if a is b:
        return True
    if isinstance(a, BaseException) or isinstance(b, BaseException):
        return type(a) is type(b) and a.args == b.args
    try:
        return bool(a == b)
    except Exception:
        return False


class Pending(State):
    """Not started yet: waiting for upstream tasks."""


class Scheduled(Pending):
    """Waiting for ``start_time``."""

    def __init__(self, message=None, result=None, start_time: datetime.datetime | None = None, **attrs):
        super().__init__(message, result, **attrs)
        self.start_time = start_time


class Paused(Scheduled):
    """Waiting to be resumed."""


class Retrying(Scheduled):
    """Failed, and waiting for ``start_time`` to run again (attempt ``run_count + 1``)."""


class Running(State):
    """Running now."""


class Finished(State):
    """Base of every terminal state."""


class Success(Finished):
    """Finished successfully; ``result`` is the task's return value."""


class Looped(Finished):
    """One iteration of a looping task finished (raised ``LOOP``); the next one runs
    at once. Only state handlers see it: a task run never ends ``Looped``.
    ``loop_count`` is the iteration that looped (1 for the first)."""

    def __init__(self, message: str | None = None, result: Any = None, loop_count: int = 1, **attrs: Any):
        super().__init__(message, result, **attrs)
        self.loop_count = loop_count

    def is_looped(self) -> bool:
        return True


class Cached(Success):
    """Finished successfully using a cached result.

    As Prefect 1's, a cached state offered to a cache validator
    (``validator(state, inputs, parameters)``) says what it was cached for:
    ``hashed_inputs`` (``{input name: digest}`` of the task's inputs, by
    :func:`ferroflow.results.hash_inputs`), ``cached_parameters`` (the flow run's
    parameters), ``cached_result_expiration`` (when it expires; None: never) and
    ``cached_inputs`` (input values, when known; else ``{}``, as in Prefect 1.4.1).
    """

    def __init__(self, message: str | None = None, result: Any = None, cached_inputs: dict | None = None,
                 cached_parameters: dict | None = None,
                 cached_result_expiration: datetime.datetime | None = None,
                 hashed_inputs: dict | None = None, **attrs: Any):
        super().__init__(message, result, **attrs)
        self.cached_inputs = {} if cached_inputs is None else cached_inputs
        self.cached_parameters = cached_parameters
        self.cached_result_expiration = cached_result_expiration
        self.hashed_inputs = hashed_inputs


class Skipped(Success):
    """Skipped (counts as a success for triggers and for the flow's state)."""


class Mapped(Success):
    """A mapped task whose children were created; says nothing about how the
    children did. ``map_states`` lists one state per child; ``result`` lists
    their results."""

    def __init__(self, message=None, result=None, map_states: Sequence[State] | None = None,
                 n_map_states: int | None = None, **attrs):
        super().__init__(message, result, **attrs)
        self._map_states = map_states if map_states is not None else []
        self._n_map_states = n_map_states

    @property
    def map_states(self) -> Sequence[State]:
        return self._map_states

    @map_states.setter
    def map_states(self, value: Sequence[State]) -> None:
        self._map_states = value
        self._n_map_states = None

    @property
    def n_map_states(self) -> int:
        return self._n_map_states if self._n_map_states is not None else len(self._map_states)

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and isinstance(other, Mapped) and list(self.map_states) == list(other.map_states)

    __hash__ = State.__hash__


class Failed(Finished):
    """Finished with an error; ``result`` is the exception, ``traceback`` its text."""


class TriggerFailed(Failed):
    """The task's trigger did not pass, so it did not run. Never retried."""


class TimedOut(Failed):
    """The task run exceeded its timeout (retried like any failure)."""


class Cancelled(Finished):
    """The run was cancelled (for instance by Ctrl-C) before this task finished."""


#: The State class of each state code of the core.
STATE_CLASSES = {
    _core.PENDING: Pending,
    _core.RUNNING: Running,
    _core.RETRYING: Retrying,
    _core.PAUSED: Paused,
    _core.SUCCESS: Success,
    _core.CACHED: Cached,
    _core.MAPPED: Mapped,
    _core.SKIPPED: Skipped,
    _core.FAILED: Failed,
    _core.TRIGGER_FAILED: TriggerFailed,
    _core.TIMED_OUT: TimedOut,
    _core.CANCELLED: Cancelled,
}


# ----- a state's result as Prefect 1 code reads it (``state._result``) ----------------
#
# A value together with where it was kept: what Prefect 1 code reads from
# ``state._result`` and from ``LocalResult.read()``/``write()``. A
# :class:`~ferroflow.results.Result` is configuration and holds no value; these small
# objects carry one: ``.value`` and ``.location`` (None when it was not written
# anywhere). :data:`NoResult` stands for a state that has no result at all (a task run
# that never ran, such as one skipped because an upstream task skipped). Exported as
# ``ferroflow.results.ResultValue`` and ``ferroflow.results.NoResult``.


class ResultValue:
    """``value``, and the ``location`` it was written at (or None)."""

    __slots__ = ("value", "location")

    def __init__(self, value: Any, location: str | None = None) -> None:
        self.value = value
        self.location = location

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResultValue):
            return NotImplemented
        return self.location == other.location and same_value(self.value, other.value)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Result: {self.value!r}>"


class _NoResultType:
    """The type of :data:`NoResult` (one instance, kept through pickling)."""

    __slots__ = ()
    value = None
    location = None

    def __repr__(self) -> str:
        return "<NoResult>"

    def __reduce__(self) -> str:
        return "NoResult"


#: The ``_result`` of a state without a result (``.value`` and ``.location`` are None).
NoResult = _NoResultType()
