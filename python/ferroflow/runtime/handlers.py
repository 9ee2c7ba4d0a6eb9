"""State handlers: ``fn(obj, old_state, new_state) -> new_state | None``.

Handlers of a task run are chained as in Prefect 1: each receives the state the
previous one returned (``None`` keeps it). A handler may raise a signal to choose a
state; any other exception fails the task run with
``Failed("Unexpected error while calling state handlers: ...")`` (under
``ferroflow.debug.raise_on_exception``, it stops the run and ``flow.run()`` raises it).

Only tasks that have handlers pay for them: the engine marks them *observed* in the
core, which then proposes the states it would decide alone (skips, trigger failures)
instead of recording them, so every transition of an observed task passes through its
handlers. Tasks without handlers keep the fast path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ferroflow import _core, signals, states
from ferroflow.debug import TaskRaised, raising
from ferroflow.errors import formatted_traceback

__all__ = ["OnFailure", "call_handlers", "handlers_of", "on_failure_handler", "state_of", "outcome_of"]

Handler = Callable[[Any, states.State, states.State], states.State | None]

_SIGNAL_STATES = {
    "Failed": states.Failed,
    "TriggerFailed": states.TriggerFailed,
    "Success": states.Success,
    "Skipped": states.Skipped,
    "Retrying": states.Retrying,
}


def on_failure_handler(fn: Callable[[Any, states.State], Any]) -> Handler:
    """Turn ``on_failure=fn(obj, state)`` into a handler called for failed states."""
    return OnFailure(fn)


def handlers_of(task: Any) -> tuple:
    """The state handlers a task's (or flow's) runs pass through: its
    ``state_handlers``, then its ``on_failure`` callback as one."""
    handlers = list(getattr(task, "state_handlers", None) or ())
    callback = getattr(task, "on_failure", None)
    callback = getattr(callback, "callback", callback)  # (a task's: ferroflow.core.task.FailureHooks)
    if callback is not None:
        handlers.append(on_failure_handler(callback))
    return tuple(handlers)


class OnFailure:
    """The state handler of ``on_failure=fn``: calls ``fn(obj, new_state)`` when the
    new state is failed and keeps it. A class rather than a closure, so that it
    pickles with plain ``pickle`` when ``fn`` does."""

    def __init__(self, fn: Callable[[Any, states.State], Any]):
        self.fn = fn
        self.__name__ = f"on_failure({getattr(fn, '__name__', fn)!s})"

    def __call__(self, obj: Any, old: states.State, new: states.State) -> states.State:
        if new.is_failed():
            self.fn(obj, new)
        return new

    def __repr__(self) -> str:
        return f"<state handler {self.__name__}>"


def call_handlers(obj: Any, handlers: Sequence[Handler], old: states.State, new: states.State) -> states.State:
    """Run ``handlers`` in order on the transition ``old -> new``; return the final state."""
    for handler in handlers:
        try:
            returned = handler(obj, old, new)
        except signals.FerroflowSignal as sig:
            cls = _SIGNAL_STATES.get(sig.state_name, states.Failed)
            return cls(sig.message, sig.result)
        except Exception as exc:
            message = f"Unexpected error while calling state handlers: {exc!r}"
            if raising():  # raise_on_exception: the run stops here
                raise TaskRaised.here(exc, message) from None
            text = formatted_traceback(exc)
            return states.Failed(message, exc, traceback=text)
        if returned is not None:
            if not isinstance(returned, states.State):
                return states.Failed(
                    f"State handler {getattr(handler, '__name__', handler)!s} returned {returned!r}, "
                    "not a State or None"
                )
            new = returned
    return new


_CODES = {
    states.Cached: _core.CACHED,
    states.Skipped: _core.SKIPPED,
    states.Success: _core.SUCCESS,
    states.TriggerFailed: _core.TRIGGER_FAILED,
    states.TimedOut: _core.TIMED_OUT,
    states.Failed: _core.FAILED,
    states.Cancelled: _core.CANCELLED,
    states.Retrying: _core.RETRYING,
    states.Paused: _core.PAUSED,
}


def outcome_of(state: states.State) -> tuple:
    """``(code, value, (message, traceback))`` to report for a final handler state."""
    for cls, code in _CODES.items():
        if isinstance(state, cls):
            return code, state.result, (state.message, state.traceback)
    # Pending, Running, Mapped...: not an outcome a handler may end a task run with.
    message = f"A state handler returned {type(state).__name__}, which cannot end a task run"
    return _core.FAILED, None, (message, None)


def state_of(code: int, value: Any, detail: tuple | None, default_message: str | None, run_count: int) -> states.State:
    """The State a task run is about to be recorded in."""
    from ferroflow.states import STATE_CLASSES

    message, text = detail if detail is not None else (default_message, None)
    return STATE_CLASSES[code & ~_core.RETRY_OK](message, value, traceback=text, run_count=run_count)
