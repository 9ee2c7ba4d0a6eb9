"""Calls of ``async def`` tasks in eager flows (Prefect 3's behaviour).

Inside an ``@flow`` function, calling a task whose function is an ``async def``
numbers the call at once (call order, as for any call) and returns an awaitable;
``await my_task(x)`` runs it on the running event loop, with the bookkeeping of a
plain call: the ledger, the run's record, retries (``await asyncio.sleep`` between
attempts), timeouts (the call is cancelled: ``TaskRunTimeoutError``), hooks,
``return_state`` and the run's checkpoints (resume). Calls awaited together
(``asyncio.gather(t(1), t(2))``) run concurrently, each in a frame of its own: the
context of one never shows in another.

A call whose task has options that the runtime applies around a call on a thread
(state handlers, ``result=``/``target``, caching, limited tags) runs
that machinery on a helper thread of its own, while its coroutine runs on the loop:
what it does is the same, at the cost of a thread per attempt.

A call made but never awaited (Python warns "coroutine ... was never awaited") is
booked ``Cancelled`` when the flow run ends. An ``asyncio.CancelledError`` ends a call
``Cancelled`` and propagates.

``task.submit()`` and ``task.map()`` of an ``async def`` task run each call on the
flow's executor, its coroutine to completion on an event loop of its own
(:class:`ToCompletion`), as Prefect 3's thread pool does.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from ferroflow import _core
from ferroflow._core import SUCCESS
from ferroflow.eager import states as eager_states
from ferroflow.eager.parameters import bind_task_call
from ferroflow.eager.run import _CAUGHT
from ferroflow.errors import ParameterBindError, TaskTimeout
from ferroflow.runtime.context import CURRENT_FRAME, Frame
from ferroflow.runtime.unit import UnitResult, WorkUnit, outcome_of_exception, retry_rule

__all__ = ["ToCompletion", "call", "cancel_unawaited", "run_to_completion", "within"]


def call(run: Any, slot: Any, index: int, task: Any, args: tuple, kwargs: dict, return_state: bool) -> Any:
    """Call ``index`` of ``slot``'s ``async def`` task, numbered already: an awaitable
    that runs it."""
    key = (slot.task_id, index)
    run.unawaited[key] = None
    return _call(run, slot, index, task, args, kwargs, return_state, key)


async def _call(run: Any, slot: Any, index: int, task: Any, args: tuple, kwargs: dict, return_state: bool,
                key: tuple) -> Any:
    if run.unawaited.pop(key, None) is True:  # (the run ended first: booked Cancelled)
        raise RuntimeError(f"Task {slot.name!r}: call {index} was awaited after its flow run ended")
    digest = None
    checkpoints = run.checkpoints
    if checkpoints is not None:  # (resume: ferroflow.eager.resume)
        digest, found = checkpoints.lookup(slot, index, args, kwargs)
        if found is not None:
            return run._resumed(slot, index, digest, found, return_state)
    if slot.plain:
        return await _plain(run, slot, index, args, kwargs, return_state, digest)
    try:
        inputs = bind_task_call(task, args, kwargs)
    except ParameterBindError as exc:
        return run._raised(slot, index, exc, return_state)
    state = await _attempts(run, slot, index, inputs)
    if digest is not None and state.is_completed():
        checkpoints.kept(slot, index, digest, state.data)
    return eager_states.deliver(state, return_state)


async def _plain(run: Any, slot: Any, index: int, args: tuple, kwargs: dict, return_state: bool,
                 digest: Any) -> Any:
    """A call with nothing around it (``EagerRun._plain``, awaited)."""
    frame = Frame(run.info, slot.task_id, slot.name, slot.slug, slot.tags, (index,), b"\x01")
    frame.call = (slot.task, args, kwargs)
    token = CURRENT_FRAME.set(frame)
    try:
        value = await slot.task.run(*args, **kwargs)
    except _CAUGHT as exc:
        CURRENT_FRAME.reset(token)
        return run._raised(slot, index, exc, return_state)
    except asyncio.CancelledError:
        CURRENT_FRAME.reset(token)
        _cancelled(run, slot, index, 1)
        raise
    CURRENT_FRAME.reset(token)
    return run._succeeded(slot, index, value, return_state, digest)


async def _attempts(run: Any, slot: Any, index: int, inputs: dict) -> Any:
    """A call with something around it, attempt after attempt while the ledger says to
    retry (``EagerRun._run_unit``, awaited); its final state."""
    threaded = slot.handlers or slot.checkpoint is not None or slot.limits is not None
    runs = 1
    retried_from = None
    while True:
        unit = run.unit_of(slot, [index], inputs, run_counts=bytes([runs]), retried_from=retried_from, awaited=True)
        try:
            result = await (_on_a_thread(unit) if threaded else _attempt(unit))
        except asyncio.CancelledError:
            _cancelled(run, slot, index, runs)
            raise
        state, wait, retried_from = run.settle(slot, index, unit, result, 0, runs)
        if state is not None:
            return state
        if wait:
            await asyncio.sleep(wait / 1000)
        runs += 1


async def _attempt(unit: WorkUnit) -> UnitResult:
    """One attempt of the call of ``unit`` (a unit of one call whose ``fn`` is the
    ``async def``), awaited in the unit's frame: what ``WorkUnit.run`` gives for it."""
    frame = unit.frame
    assert frame is not None
    if frame.run_name is not None:
        frame.unit = unit  # (task_run_name reads the inputs)
    token = CURRENT_FRAME.set(frame)
    try:
        awaitable = unit.fn(**unit.static)
        if unit.timeout is not None:
            awaitable = within(awaitable, unit.timeout)
        if unit.log_stdout:
            from ferroflow.runtime.logs import StdoutToLogger, get_logger
            from ferroflow.runtime.stdout import prints_in_context

            stream = StdoutToLogger(get_logger(frame.task_name))
            with prints_in_context(stream):  # (this call's prints only, not the loop's)
                try:
                    value = await awaitable
                finally:
                    stream.flush()
        else:
            value = await awaitable
    except _CAUGHT as exc:
        code, value, detail = outcome_of_exception(exc, retry_rule(unit))
        return UnitResult(bytearray([code]), [value], {0: detail} if detail is not None else {})
    finally:
        CURRENT_FRAME.reset(token)
    return UnitResult(bytearray([SUCCESS]), [value])


async def _on_a_thread(unit: WorkUnit) -> UnitResult:
    """One attempt of ``unit`` through ``WorkUnit.run`` (handlers, results, caching,
    slots, printed output) on a helper thread, its coroutine awaited on this loop."""
    loop = asyncio.get_running_loop()
    coroutine_fn, seconds = unit.fn, unit.timeout
    running: list = []  # the coroutine's future on this loop, once started

    def bridged(**kwargs: Any) -> Any:
        awaitable = coroutine_fn(**kwargs)
        future = asyncio.run_coroutine_threadsafe(_awaited(awaitable, seconds), loop)  # (in this frame's context)
        running.append(future)
        return future.result()

    unit.fn, unit.timeout = bridged, None
    ended: asyncio.Future = loop.create_future()
    context = contextvars.copy_context()

    def work() -> None:
        try:
            outcome: tuple = (context.run(unit.run), None)
        except BaseException as exc:
            outcome = (None, exc)
        loop.call_soon_threadsafe(_resolve, ended, outcome)

    threading.Thread(target=work, name=f"ferroflow-async-{unit.label}", daemon=True).start()
    try:
        return await ended
    except asyncio.CancelledError:
        for future in running:
            future.cancel()
        raise


async def _awaited(awaitable: Awaitable, seconds: float | None) -> Any:
    return await (awaitable if seconds is None else within(awaitable, seconds))


def _resolve(future: asyncio.Future, outcome: tuple) -> None:
    if future.cancelled():
        return
    value, error = outcome
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


async def within(awaitable: Awaitable, seconds: float) -> Any:
    """Await ``awaitable`` (in a task of its own, in a copy of this context) for at most
    ``seconds``; then cancel it and raise :class:`~ferroflow.errors.TaskTimeout`. Its
    own ``TimeoutError`` is not taken for the timeout."""
    inner = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait((inner,), timeout=seconds)
    except asyncio.CancelledError:
        inner.cancel()
        raise
    if done:
        return inner.result()
    inner.cancel()
    await asyncio.wait((inner,))  # (it ends: cancelled, or whatever it does when cancelled)
    raise TaskTimeout(f"Timed out after {seconds:g} s")


def _cancelled(run: Any, slot: Any, index: int, runs: int) -> None:
    """Book call ``index`` of ``slot``'s task Cancelled (its asyncio task was)."""
    run.ledger.outcome(slot.task_id, index, runs, _core.CANCELLED)
    run.cancelled(slot.task_id, index, "Task run was cancelled: its asyncio task was cancelled.")
    run.recorder.ended(slot.task_id, run.logs)


def cancel_unawaited(run: Any) -> None:
    """The run ends: book the calls of ``async def`` tasks never awaited Cancelled (an
    awaitable awaited later raises)."""
    for (task_id, index) in list(run.unawaited):
        run.unawaited[(task_id, index)] = True
        run.ledger.outcome(task_id, index, 1, _core.CANCELLED)
        run.cancelled(task_id, index, "Task run was cancelled: its call was never awaited (an async task call "
                                      "returns an awaitable: `await` it).")
        run.recorder.ended(task_id, run.logs)


# ----- running a coroutine to completion ------------------------------------------------


def run_to_completion(awaitable: Awaitable) -> Any:
    """Run ``awaitable`` to completion on an event loop of its own, in this context: in
    this thread, or in a thread of its own when a loop already runs in this one."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_awaiting(awaitable))
    outcome: dict = {}
    context = contextvars.copy_context()

    def target() -> None:
        try:
            outcome["value"] = context.run(asyncio.run, _awaiting(awaitable))
        except BaseException as exc:  # handed back to the calling thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="ferroflow-async", daemon=True)
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


async def _awaiting(awaitable: Awaitable) -> Any:
    return await awaitable


class ToCompletion:
    """The function of an ``async def`` task as a plain function: calling it runs the
    coroutine to completion (what submitted calls and map children run, on any
    executor: picklable when the function is)."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Awaitable]):
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return run_to_completion(self.fn(*args, **kwargs))

    def __getstate__(self) -> Any:
        return self.fn

    def __setstate__(self, state: Any) -> None:
        self.fn = state
