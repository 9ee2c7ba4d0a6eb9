"""The states of eager flows, with Prefect 3's API: ``from ferroflow.eager.states
import Completed, Failed``.

A deferred flow (``with Flow(...)``) keeps Prefect 1's states (:mod:`ferroflow.states`,
where ``state.result`` is an attribute). An eager flow (``@flow``) and its task calls
give these instead, as Prefect 3 does: ``state.type`` (a :class:`StateType`),
``state.name``, ``state.message``, ``state.data`` and ``state.result()``, a *method*
that returns the value, or raises the run's exception when it failed::

    state = my_flow(return_state=True)
    if state.is_failed():
        print(state.message)
    value = state.result(raise_on_failure=False)

A task may return :func:`Completed` or :func:`Failed` to set its own state.

How the names map onto the run store's (``ferroflow runs`` shows those): Completed is
``Success``, Cached ``Cached``, Failed ``Failed``, TimedOut ``TimedOut``, Crashed
``Crashed`` (a task run: ``Failed``), Cancelled ``Cancelled``; Pending, Running,
Scheduled, Paused and Retrying keep their names (AwaitingRetry is ``Retrying``).
"""

from __future__ import annotations

import datetime
import enum
from typing import Any

from ferroflow import _core
from ferroflow.errors import CancelledRun, CrashedRun, FailedRun, MissingResult, UnfinishedRun

__all__ = [
    "State",
    "StateType",
    "AwaitingRetry",
    "Cached",
    "Cancelled",
    "Cancelling",
    "Completed",
    "Crashed",
    "Failed",
    "Paused",
    "Pending",
    "Retrying",
    "Running",
    "Scheduled",
    "TimedOut",
]


class StateType(str, enum.Enum):
    """The kind of a state (its ``name`` may say more: ``Cached`` is a COMPLETED)."""

    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"
    PAUSED = "PAUSED"
    CANCELLING = "CANCELLING"

    def __str__(self) -> str:
        return self.value


FINAL_TYPES = frozenset({StateType.COMPLETED, StateType.FAILED, StateType.CANCELLED, StateType.CRASHED})

#: (state type, name) -> the core's state code it is recorded as.
_CODES = {
    "Completed": _core.SUCCESS,
    "Cached": _core.CACHED,
    "Failed": _core.FAILED,
    "TimedOut": _core.TIMED_OUT,
    "Crashed": _core.FAILED,
    "Cancelled": _core.CANCELLED,
    "Cancelling": _core.RUNNING,
    "Pending": _core.PENDING,
    "Running": _core.RUNNING,
    "Retrying": _core.RETRYING,
    "AwaitingRetry": _core.RETRYING,
    "Scheduled": _core.PENDING,
    "Paused": _core.PAUSED,
}
_TYPE_CODES = {
    StateType.COMPLETED: _core.SUCCESS,
    StateType.FAILED: _core.FAILED,
    StateType.CRASHED: _core.FAILED,
    StateType.CANCELLED: _core.CANCELLED,
    StateType.PENDING: _core.PENDING,
    StateType.SCHEDULED: _core.PENDING,
    StateType.RUNNING: _core.RUNNING,
    StateType.CANCELLING: _core.RUNNING,
    StateType.PAUSED: _core.PAUSED,
}
#: The run store's name of an eager flow run's final state.
STORE_NAMES = {"Completed": "Success", "Cached": "Cached", "TimedOut": "TimedOut", "Failed": "Failed",
               "Crashed": "Crashed", "Cancelled": "Cancelled"}


class State:
    """A state of an eager flow run or task call.

    ``data`` is the value of a completed run, or the exception of a failed one (or
    None); ``result()`` reads it. ``type`` and ``name`` say what happened; ``message``
    explains it.
    """

    __slots__ = ("type", "name", "message", "data", "timestamp", "flow_run_id", "_details")

    def __init__(self, type: StateType | str, name: str | None = None, message: str | None = None,
                 data: Any = None, timestamp: datetime.datetime | None = None):
        self.type = StateType(type)
        self.name = name if name is not None else self.type.value.capitalize()
        self.message = message
        self.data = data
        self.timestamp = timestamp or datetime.datetime.now(datetime.timezone.utc)
        #: The id of the flow run this is the final state of (set when a flow run ends;
        #: ``ferroflow runs show ID``, ``my_flow(resume=ID)``), else None.
        self.flow_run_id: str | None = None
        self._details: dict = {}

    def __str__(self) -> str:
        """For logs, as Prefect 3 writes it: ``Completed()``, ``Failed('boom')``,
        ``TimedOut('...', type=FAILED)``."""
        shown = [repr(self.message)] if self.message else []
        if self.type.value.lower() != self.name.lower():
            shown.append(f"type={self.type.value}")
        return f"{self.name}({', '.join(shown)})"

    def __repr__(self) -> str:
        """With the result, as Prefect 3 writes it: ``Completed(message=None,
        type=COMPLETED, result=1)``."""
        return f"{self.name}(message={self.message!r}, type={self.type.value}, result={self.data!r})"

    # ----- the value -----------------------------------------------------------------

    def result(self, raise_on_failure: bool = True, fetch: bool = True) -> Any:
        """The run's value. A failed, crashed or cancelled run raises its exception
        (or, when it has none, :class:`~ferroflow.errors.FailedRun`,
        :class:`~ferroflow.errors.CrashedRun` or :class:`~ferroflow.errors.CancelledRun`
        with its message) unless ``raise_on_failure=False``, which returns the
        exception (or the state's data, for a state without one). A run not finished
        raises :class:`~ferroflow.errors.UnfinishedRun` (even with
        ``raise_on_failure=False``, as Prefect 3).
        ``fetch`` is accepted for Prefect 3's signature (values are always at hand)."""
        if self.type in (StateType.FAILED, StateType.CRASHED, StateType.CANCELLED):
            data = self.data
            if isinstance(data, State):  # a flow that returned a failed future: its state
                return data.result(raise_on_failure=True) if raise_on_failure else data
            if isinstance(data, (list, tuple)) and data and all(isinstance(s, State) for s in data):
                return data  # a flow that returned states (Prefect 3 gives them back)
            if isinstance(data, BaseException):
                if raise_on_failure:
                    raise data
                return data
            if raise_on_failure:
                raise self._error()
            return data  # (a state made by Failed(message=...): its data, None, as Prefect 3)
        if self.type is not StateType.COMPLETED:  # (raised whatever raise_on_failure says, as Prefect 3)
            raise UnfinishedRun(f"Run is in {self.type.value} state, its result is not available.")
        if self._details.get("missing"):  # Completed() made without data, as Prefect 3 says
            raise MissingResult("State data is missing. Typically, this occurs when result persistence is "
                                "disabled and the state has been retrieved from the API.")
        return self.data

    def _error(self) -> BaseException:
        cls = {StateType.CRASHED: CrashedRun, StateType.CANCELLED: CancelledRun}.get(self.type, FailedRun)
        return cls(self.message or f"Run ended in state {self.name}.")

    # ----- what it is ----------------------------------------------------------------

    def is_scheduled(self) -> bool:
        return self.type is StateType.SCHEDULED

    def is_pending(self) -> bool:
        return self.type is StateType.PENDING

    def is_running(self) -> bool:
        return self.type is StateType.RUNNING

    def is_completed(self) -> bool:
        return self.type is StateType.COMPLETED

    def is_failed(self) -> bool:
        return self.type is StateType.FAILED

    def is_crashed(self) -> bool:
        return self.type is StateType.CRASHED

    def is_cancelled(self) -> bool:
        return self.type is StateType.CANCELLED

    def is_cancelling(self) -> bool:
        return self.type is StateType.CANCELLING

    def is_paused(self) -> bool:
        return self.type is StateType.PAUSED

    def is_final(self) -> bool:
        return self.type in FINAL_TYPES

    # ----- how ferroflow records it --------------------------------------------------

    @property
    def ferroflow_code(self) -> int:
        """The core's state code this state is recorded as (``ferroflow._core.SUCCESS``...)."""
        code = _CODES.get(self.name)
        return _TYPE_CODES[self.type] if code is None else code

    @property
    def store_name(self) -> str:
        """The name of this state in the run store (``Success`` for Completed...)."""
        return STORE_NAMES.get(self.name) or STORE_NAMES.get(self.type.value.capitalize(), self.name)

    def __reduce__(self) -> Any:
        return (_rebuild, (self.type.value, self.name, self.message, self.data, self.timestamp))


def _rebuild(type: str, name: str, message: str | None, data: Any, timestamp: datetime.datetime) -> State:
    return State(type, name, message, data, timestamp)


# ----- constructors, as Prefect 3's ---------------------------------------------------

_MISSING: Any = object()  # (no data given)


def Completed(message: str | None = None, data: Any = _MISSING, name: str = "Completed", **_: Any) -> State:
    """A successful end; a task returning it ends so, with ``data`` as its value
    (made without ``data``, its ``result()`` raises ``MissingResult``, as Prefect 3's)."""
    state = State(StateType.COMPLETED, name, message, None if data is _MISSING else data)
    if data is _MISSING:
        state._details["missing"] = True
    return state


def Cached(message: str | None = None, data: Any = None, name: str = "Cached", **_: Any) -> State:
    """A successful end whose value came from the cache."""
    return State(StateType.COMPLETED, name, message, data)


def Failed(message: str | None = None, data: Any = None, name: str = "Failed", **_: Any) -> State:
    """A failed end; a task returning it fails with ``message``."""
    return State(StateType.FAILED, name, message, data)


def TimedOut(message: str | None = None, data: Any = None, name: str = "TimedOut", **_: Any) -> State:
    """A run that took longer than its timeout (a FAILED)."""
    return State(StateType.FAILED, name, message, data)


def Crashed(message: str | None = None, data: Any = None, name: str = "Crashed", **_: Any) -> State:
    """A run ended by something outside the user's code (its process, an interrupt)."""
    return State(StateType.CRASHED, name, message, data)


def Cancelled(message: str | None = None, data: Any = None, name: str = "Cancelled", **_: Any) -> State:
    """A run stopped on request (Ctrl-C, ``ferroflow cancel``)."""
    return State(StateType.CANCELLED, name, message, data)


def Cancelling(message: str | None = None, data: Any = None, name: str = "Cancelling", **_: Any) -> State:
    return State(StateType.CANCELLING, name, message, data)


def Pending(message: str | None = None, data: Any = None, name: str = "Pending", **_: Any) -> State:
    return State(StateType.PENDING, name, message, data)


def Running(message: str | None = None, data: Any = None, name: str = "Running", **_: Any) -> State:
    return State(StateType.RUNNING, name, message, data)


def Retrying(message: str | None = None, data: Any = None, name: str = "Retrying", **_: Any) -> State:
    return State(StateType.RUNNING, name, message, data)


def Scheduled(message: str | None = None, data: Any = None, name: str = "Scheduled", **_: Any) -> State:
    return State(StateType.SCHEDULED, name, message, data)


def AwaitingRetry(message: str | None = None, data: Any = None, name: str = "AwaitingRetry", **_: Any) -> State:
    return State(StateType.SCHEDULED, name, message, data)


def Paused(message: str | None = None, data: Any = None, name: str = "Paused", **_: Any) -> State:
    return State(StateType.PAUSED, name, message, data)


#: The core's code of a task call's end -> (constructor, name) of its eager state.
BY_CODE = {
    _core.SUCCESS: Completed,
    _core.CACHED: Cached,
    _core.SKIPPED: Completed,
    _core.MAPPED: Completed,
    _core.FAILED: Failed,
    _core.TRIGGER_FAILED: Failed,
    _core.TIMED_OUT: TimedOut,
    _core.CANCELLED: Cancelled,
    _core.PAUSED: Paused,
    _core.RETRYING: AwaitingRetry,
    _core.PENDING: Pending,
    _core.RUNNING: Running,
}


def deliver(state: State, return_state: bool) -> Any:
    """What a task call gives back: its state with ``return_state=True`` or when the
    task itself returned that state (Prefect 3 hands it back as is), else its value
    (``state.result()``: a failure raises)."""
    if return_state or state._details.get("returned"):
        return state
    return state.result()


def exception_text(exc: BaseException) -> str:
    """``"ValueError: boom"``: how Prefect 3's messages name an exception (type, a colon,
    its ``str``, even when empty)."""
    return f"{type(exc).__name__}: {exc}"


def task_failure_message(exc: BaseException) -> str:
    """The message of a task call that raised ``exc`` (Prefect 3's words)."""
    return f"Task run encountered an exception {exception_text(exc)}"


def timeout_message(what: str, seconds: float) -> str:
    """``"Task run exceeded timeout of 0.2 second(s)"`` (``what``: Task or Flow)."""
    return f"{what} run exceeded timeout of {seconds:g} second(s)"


def timeout_error(cls: type, seconds: float) -> BaseException:
    """The exception a timed-out call or run carries: Prefect 3's text."""
    return cls(f"Scope timed out after {seconds:g} second(s).")


def of_code(code: int, message: str | None = None, data: Any = None) -> State:
    """The eager state of a task call that ended with the core's ``code``."""
    state = BY_CODE[code & 0x7F](message, data)
    state._details["of_run"] = True
    return state
