"""``signals.LOOP``: run a task again at once, as the next iteration of a loop.

A task run that raises :class:`~ferroflow.signals.LOOP` is handed to
:func:`keep_looping` by the ``except signals.LOOP`` branch of the work unit's run
loop (:mod:`ferroflow.executors.base`). Task runs that never loop never reach this
module, so looping costs the others nothing.

What it does, as Prefect 1.4.1 does:

* iteration ``k + 1`` sees ``context.loop_count == k + 1`` and ``context.loop_result``
  equal to the ``result`` of the LOOP raised by iteration ``k`` (the first iteration
  sees ``loop_count == 1`` and no ``loop_result``);
* each iteration is one call of the task's (timeout-wrapped) function, so a
  ``timeout`` applies to each iteration;
* the task run ends with what the last iteration returned or raised; iterations are
  not attempts (``task_run_count`` does not change);
* when iteration ``k`` fails and the task run is retried, the retry resumes at
  iteration ``k`` with the same ``loop_result``: the loop state is kept in the flow
  run's :class:`~ferroflow.runtime.context.RunInfo` (``loops``); a unit run in another
  process takes its task runs' loop state along and brings it back with its results;
* state handlers see, per iteration, ``Running -> Looped("Task is looping (k)")`` and
  then ``Pending("Looping task (on loop index k)") -> Running``;
* once the loop is over, the context keeps the last iteration's ``task_loop_count`` and
  ``task_loop_result`` for that task run (``Frame.looped``): its result's location is
  formatted with them, as in Prefect 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ferroflow import signals, states
from ferroflow._core import FAILED, RETRY_OK, SUCCESS, TIMED_OUT
from ferroflow.runtime import unit as _base
from ferroflow.runtime.context import LOOP_STATE, current_frame
from ferroflow.runtime.timeouts import TaskTimeout

__all__ = ["keep_looping"]

_CAUGHT = (Exception, signals.FerroflowSignal, TaskTimeout)
# Outcomes a retry may follow: the loop state is kept for them.
_RESUMABLE = (FAILED, TIMED_OUT)


def keep_looping(
    fn: Callable[..., Any],
    kwargs: dict,
    sig: signals.LOOP,
    retry_on: tuple,
    details: dict,
    j: int,
    observed: tuple | None = None,
) -> tuple:
    """Run the task run whose call raised ``sig`` until a call returns or raises
    something other than ``LOOP``; return its ``(code, value)`` and record its details
    (message, traceback) in ``details[j]`` when it did not simply succeed.

    ``observed`` is ``(task, handlers, running_state)`` for a task with state handlers:
    every transition then passes through them, as in the work unit's observed loop.
    """
    frame = current_frame()
    loops = key = None
    if frame is not None and frame.run is not None:
        loops = frame.run.loops
        key = (frame.task_id, frame.map_index)
    # A retry of a run that failed while looping resumes at that iteration.
    resumed = loops.pop(key, None) if loops else None
    count = resumed[0] if resumed is not None else 1
    carried = resumed[1] if resumed is not None else None
    token = LOOP_STATE.get()
    try:
        while True:
            outcome = None
            result = sig.result
            if observed is not None:
                outcome, count, result = _handle_looped(observed, sig, count, result, retry_on)
                if outcome is not None:
                    break  # a handler ended the loop: a retry reruns this iteration
            count += 1
            carried = result
            LOOP_STATE.set((count, result))
            if observed is not None:
                outcome = _handle_restart(observed, count - 1)
                if outcome is not None:
                    break
            try:
                value = fn(**kwargs)
            except signals.LOOP as again:
                sig = again
                continue
            except _CAUGHT as exc:
                outcome = _base.outcome_of_exception(exc, retry_on)
            else:
                outcome = (SUCCESS, value, None)
            if observed is not None:
                outcome = _handle_end(observed, outcome, retry_on)
            break
    finally:
        LOOP_STATE.set(token)
    if frame is not None:
        # What the context says of this task run from now on (its result's location,
        # its handlers): Prefect 1 keeps the last iteration's loop keys too.
        frame.looped[frame.map_index] = (count, carried)
    if loops is not None and count > 1 and outcome[0] & ~RETRY_OK in _RESUMABLE:
        loops[key] = (count, carried)
    code, value, detail = outcome
    if detail is not None:
        details[j] = detail
    return code, value


# ----- state handlers ---------------------------------------------------------------


def _handle_looped(observed: tuple, sig: signals.LOOP, count: int, result: Any, retry_on: tuple):
    """Running -> Looped through the handlers: ``(None, count, result)`` to go on
    looping (a handler may change both by returning another Looped), or
    ``(outcome, ...)`` when a handler ended the run with another state."""
    from ferroflow.runtime.handlers import call_handlers, outcome_of

    task, handlers, running = observed
    proposed = states.Looped(sig.message or f"Task is looping ({count})", result, loop_count=count,
                      run_count=running.run_count)
    final = call_handlers(task, handlers, running, proposed)
    if isinstance(final, states.Looped):
        return None, final.loop_count, final.result
    return _base.retryable(outcome_of(final), retry_on), count, result


def _handle_restart(observed: tuple, loop_index: int):
    """Pending -> Running of the next iteration; an outcome when a handler finished
    the run instead (as for the first iteration, not retried)."""
    from ferroflow.runtime.handlers import call_handlers, outcome_of

    task, handlers, running = observed
    pending = states.Pending(f"Looping task (on loop index {loop_index})")
    started = call_handlers(task, handlers, pending, running)
    if started.is_finished():
        return outcome_of(started)
    return None


def _handle_end(observed: tuple, outcome: tuple, retry_on: tuple) -> tuple:
    """Running -> the last iteration's outcome, through the handlers."""
    from ferroflow.runtime.handlers import call_handlers, outcome_of, state_of

    task, handlers, running = observed
    code, value, detail = outcome
    new = state_of(code, value, detail, "Task run succeeded.", running.run_count)
    final = call_handlers(task, handlers, running, new)
    if final is new:
        return outcome
    return _base.retryable(outcome_of(final), retry_on)
