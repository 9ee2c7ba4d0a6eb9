"""One eager flow run: the tasks it met, each call of them, and how a call runs.

A task called inside an ``@flow`` function runs at once, in the flow's thread, through
the same runtime as a deferred run's task runs (``ferroflow.runtime``: the context,
logging, timeouts, state handlers, checkpoints and caching, tag concurrency slots),
and its outcome is a state code the Rust core's ledger (``_core.Ledger``) books, with
the retry rule of deferred runs. A call with nothing around it (no retries, timeout,
handlers, cache, result, printed-output capture or limited tag) takes a short path:
the function is called in a frame of its own and its outcome booked, a few
microseconds in all.

Calls are numbered per task in call order: call ``k`` of task ``t`` is child ``k`` of
task ``t`` in the run's record (``ferroflow.eager.record``).
"""

from __future__ import annotations

import collections
import inspect
import threading
import time
import traceback as traceback_module
from typing import Any

from ferroflow import _core, retries, signals
from ferroflow._core import SUCCESS
from ferroflow.core.prefect3_options import eager_options
from ferroflow.eager import states as eager_states
from ferroflow.eager.hooks import call_hooks
from ferroflow.eager.parameters import bind_error, bind_task_call
from ferroflow.eager.record import EagerRecorder
from ferroflow.engine.persistence import checkpoint_of
from ferroflow.errors import FailedRun, ParameterBindError, TaskRunTimeoutError, TaskTimeout
from ferroflow.runtime.context import CURRENT_FRAME, Frame, RunInfo
from ferroflow.runtime.handlers import handlers_of
from ferroflow.runtime.unit import SIGNAL_CODES, WorkUnit

__all__ = ["EagerRun", "TaskSlot"]

_FAILED_CODES = frozenset({_core.FAILED, _core.TRIGGER_FAILED, _core.TIMED_OUT, _core.CANCELLED})
_CAUGHT = (Exception, signals.FerroflowSignal, TaskTimeout)


class TaskSlot:
    """A task the run met: its id in the run, its name there, and how its calls run."""

    __slots__ = ("task_id", "task", "name", "slug", "tags", "fn", "plain", "checkpoint", "handlers", "limits",
                 "hooks", "is_async", "retry_condition", "on_running", "uncaptured", "by_keyword",
                 "on_cancellation", "log_stdout")

    def __init__(self, task_id: int, task: Any, name: str, checkpoint: Any, handlers: tuple, limits: Any,
                 flow_log_prints: bool = False):
        self.task_id = task_id
        self.task = task  # (kept: the run's table is keyed by id(task))
        self.name = name
        self.slug = name
        self.tags = frozenset(task.__dict__.get("tags") or ())
        #: The function as a run calls it, with keywords (``*args`` spread back).
        info = task._run_info()
        self.by_keyword = task.run
        if info.var_positional is not None:
            self.by_keyword = _Spread(task.run, info.positional, info.var_positional)
        self.fn = self.by_keyword
        #: An ``async def`` task: a call returns an awaitable (``ferroflow.eager.aio``);
        #: its submitted calls and map children run ``fn``, which runs the coroutine to
        #: completion on an event loop of its own (Prefect 3 does the same).
        self.is_async = inspect.iscoroutinefunction(task.run)
        if self.is_async:
            from ferroflow.eager.aio import ToCompletion

            self.fn = ToCompletion(self.fn)
        self.checkpoint = checkpoint
        self.handlers = handlers
        self.limits = limits
        options = eager_options(task)
        self.hooks = (options.on_completion, options.on_failure) if options is not None else ((), ())
        self.on_running = options.on_running if options is not None else ()
        self.on_cancellation = options.on_cancellation if options is not None else ()
        #: The task said ``log_prints=False`` in a flow that logs prints: its calls'
        #: prints stay prints (Prefect 3: the task's own setting wins).
        self.uncaptured = flow_log_prints and options is not None and options.log_prints is False
        #: Its calls' prints are logged: its own ``log_prints``, or its flow's (which a
        #: call on another thread, submitted or mapped, does not inherit by itself).
        self.log_stdout = bool(task.log_stdout) or (flow_log_prints and not self.uncaptured)
        #: The task's retry condition as the runtime calls it, ``(task, state)``:
        #: Prefect 1's own, or Prefect 3's ``retry_condition_fn`` adapted.
        self.retry_condition = task.retry_condition
        if options is not None and options.retry_condition_fn is not None:
            self.retry_condition = _Prefect3Condition(options.retry_condition_fn)
        self.plain = not (info.var_positional is not None
                          or task.max_retries or task.timeout is not None or handlers or checkpoint is not None
                          or task.log_stdout or limits is not None or task.task_run_name is not None
                          or task.retry_on or self.retry_condition is not None or any(self.hooks)
                          or bool(self.on_running) or self.uncaptured)


class EagerRun:
    """One run of an eager flow (see the module docstring)."""

    def __init__(self, flow: Any, parameters: dict, store: Any, run_id: str, scheduled_start_time: Any,
                 lease: str | None = None):
        self.flow = flow
        self.info = RunInfo(flow.name, run_id, parameters, scheduled_start_time)
        self.ledger = _core.Ledger()
        self.slots: dict[int, TaskSlot] = {}
        self.by_task_id: list[TaskSlot] = []  # (the same slots, by task id)
        self.names: set[str] = set()
        #: Subflow calls so far, by the subflow's name (a call's index among them).
        self.subflow_calls: collections.Counter = collections.Counter()
        self.store = store
        self.recorder = EagerRecorder(store, run_id, self.ledger, lease)
        self.logs: Any = None  # the run's RunLogHandler, while it runs
        #: What the run keeps of its calls, and returns of an earlier run's when it
        #: resumes one (``ferroflow.eager.resume.Checkpoints``); None: nothing.
        self.checkpoints: Any = None
        #: The frame of the flow's own code (context and logging outside any task).
        self.frame = Frame(self.info, -1, None, None, frozenset(), None, None)
        #: The run's futures (``ferroflow.eager.futures.Dispatch``), once it made one.
        self.futures: Any = None
        #: Whether task calls look for futures among their arguments (once the run made
        #: a future or an ``allow_failure``: plain calls before that pay nothing).
        self.scan = False
        #: The thread of the flow's function: only it drives the executor (submit, map).
        #: A task calling a task from an executor's thread runs it inline; the booking
        #: is safe there (the ledger locks, the recorder and the table of tasks take
        #: ``lock``).
        self.thread = threading.get_ident()
        self.lock = threading.Lock()
        #: Calls of ``async def`` tasks made but not awaited yet: (task id, index) -> None.
        self.unawaited: dict = {}

    # ----- meeting tasks -----------------------------------------------------------------

    def slot(self, task: Any) -> TaskSlot:
        """The slot of ``task``, made the first time the run meets it."""
        found = self.slots.get(id(task))
        if found is not None:
            return found
        with self.lock:
            found = self.slots.get(id(task))
            return found if found is not None else self._meet(task)

    def _meet(self, task: Any) -> TaskSlot:
        name = task.name
        k = 1
        while name in self.names:  # two tasks of one name: name, name-2, name-3...
            k += 1
            name = f"{task.name}-{k}"
        self.names.add(name)
        delays, jitter, seed = retries.core_delays(task.retry_delay, task.max_retries)
        task_id = self.ledger.add_task(task.max_retries, delays, jitter, seed if seed is not None else 0)
        from ferroflow.engine.limits import task_slots

        limits = task_slots([task], self.store, self.info.flow_run_id).get(0)
        if limits is not None:
            limits.task_id = task_id
        checkpoint = checkpoint_of(task, self.flow, name, False, eager=True)
        slot = TaskSlot(task_id, task, name, checkpoint, handlers_of(task), limits,
                        bool(getattr(self.flow, "log_prints", False)))
        self.slots[id(task)] = slot
        self.by_task_id.append(slot)
        self.recorder.add_task(task_id, name, name)
        return slot

    # ----- a call ---------------------------------------------------------------------------

    def call(self, task: Any, args: tuple, kwargs: dict, task_args: dict | None = None, mapped: bool = False,
             upstream_tasks: Any = None) -> Any:
        """Run ``task(*args, **kwargs)`` now; its value, or its exception raised (or its
        state, with ``return_state=True``)."""
        return_state = kwargs.pop("return_state", False) if kwargs else False
        if task_args:
            task = task.copy(**task_args)
        if mapped:
            return self.map(task, args, kwargs, return_state=return_state)
        if self.scan or upstream_tasks is not None or (kwargs and "wait_for" in kwargs):
            # Futures may be among the arguments (only once the run made one): their values.
            args, kwargs, failed = self.dispatch().resolve(args, kwargs, upstream_tasks)
            if failed is not None:  # an upstream future did not complete: the call does not run
                state = self.dispatch().not_ready(self.slot(task), failed)
                return state if return_state else None
        slot = self.slot(task)
        task_id = slot.task_id
        ledger = self.ledger
        index = ledger.reserve(task_id, 1)
        if slot.is_async:  # (numbered now, run when awaited)
            from ferroflow.eager.aio import call

            return call(self, slot, index, task, args, kwargs, return_state)
        checkpoints = self.checkpoints
        if checkpoints is not None:  # (resume: ferroflow.eager.resume)
            digest, found = checkpoints.lookup(slot, index, args, kwargs)
            if found is not None:
                return self._resumed(slot, index, digest, found, return_state)
            if digest is not None:
                return self._kept(slot, index, digest, task, args, kwargs, return_state)
        if slot.plain:
            return self._plain(slot, index, args, kwargs, return_state)
        try:
            inputs = bind_task_call(task, args, kwargs)
        except ParameterBindError as exc:  # (the call ends Failed: it could not start)
            return self._raised(slot, index, exc, return_state)
        return self._run_unit(slot, index, inputs, return_state)

    def _plain(self, slot: TaskSlot, index: int, args: tuple, kwargs: dict, return_state: bool,
               digest: Any = None) -> Any:
        """A call with nothing around it: the function in a frame of its own, its
        outcome booked (its value checkpointed first, given its arguments' ``digest``)."""
        frame = Frame(self.info, slot.task_id, slot.name, slot.slug, slot.tags, (index,), b"\x01")
        frame.call = (slot.task, args, kwargs)
        token = CURRENT_FRAME.set(frame)
        try:
            value = slot.fn(*args, **kwargs)
        except _CAUGHT as exc:
            CURRENT_FRAME.reset(token)
            if type(exc) is TypeError:  # (arguments the signature cannot bind: the call could not start)
                exc = bind_error(slot.fn, slot.task._run_info().signature, args, kwargs) or exc
            return self._raised(slot, index, exc, return_state)
        CURRENT_FRAME.reset(token)
        return self._succeeded(slot, index, value, return_state, digest)

    def _succeeded(self, slot: TaskSlot, index: int, value: Any, return_state: bool, digest: Any) -> Any:
        """A plain call returned ``value``: book it (checkpointed first, given its
        arguments' ``digest``)."""
        if isinstance(value, eager_states.State):
            return self._returned_state(slot, index, value, 1, return_state)
        if digest is not None:
            try:
                self.checkpoints.kept(slot, index, digest, value)
            except Exception as exc:  # persist_result=True and it cannot be pickled: the call fails
                return self._raised(slot, index, exc, return_state)
        self.ledger.outcome(slot.task_id, index, 1, SUCCESS)
        self.recorder.ended(slot.task_id, self.logs)
        return eager_states.Completed(data=value) if return_state else value

    def _resumed(self, slot: TaskSlot, index: int, digest: Any, found: tuple, return_state: bool) -> Any:
        """The run resumed finished this call: its value, without running it."""
        value, blob = found
        self.ledger.outcome(slot.task_id, index, 1, SUCCESS)
        self.checkpoints.copied(slot, index, digest, blob)
        self.recorder.ended(slot.task_id, self.logs)
        return eager_states.Completed(data=value) if return_state else value

    def _kept(self, slot: TaskSlot, index: int, digest: Any, task: Any, args: tuple, kwargs: dict,
              return_state: bool) -> Any:
        """Run a call whose value is checkpointed when it succeeds."""
        if slot.plain:
            return self._plain(slot, index, args, kwargs, return_state, digest)
        try:
            inputs = bind_task_call(task, args, kwargs)
        except ParameterBindError as exc:
            return self._raised(slot, index, exc, return_state)
        state = self._run_unit(slot, index, inputs, True)
        if state.type is eager_states.StateType.COMPLETED:
            try:
                self.checkpoints.kept(slot, index, digest, state.data)
            except Exception as exc:  # persist_result=True and it cannot be pickled: the call fails
                message = eager_states.task_failure_message(exc)
                self.ledger.outcome(slot.task_id, index, 1, _core.FAILED)  # (booked Completed a moment ago)
                self.recorder.note(slot.task_id, index, message)
                self.recorder.ended(slot.task_id, self.logs)
                state = eager_states.of_code(_core.FAILED, message, exc)
        return eager_states.deliver(state, return_state)

    def _raised(self, slot: TaskSlot, index: int, exc: BaseException, return_state: bool) -> Any:
        """A plain call raised ``exc``: book it, then raise it again (keeping its
        traceback) or give its state."""
        if isinstance(exc, signals.FerroflowSignal):
            code = SIGNAL_CODES.get(exc.state_name, _core.FAILED)
            message = str(exc) or None
            value = exc.result if code != _core.FAILED else exc
        else:
            code, message, value = _core.FAILED, eager_states.task_failure_message(exc), exc
        text = "".join(traceback_module.format_exception(type(exc), exc, exc.__traceback__))
        code, _ = self.ledger.outcome(slot.task_id, index, 1, code)
        self.recorder.note(slot.task_id, index, message, traceback=text if code in _FAILED_CODES else None)
        self.recorder.ended(slot.task_id, self.logs)
        state = eager_states.of_code(code, message, value)
        if return_state:
            return state
        if code in _FAILED_CODES:
            raise exc
        return value

    def _returned_state(self, slot: TaskSlot, index: int, state: Any, runs: int, return_state: bool) -> Any:
        """The call returned a state (``Completed(...)``, ``Failed(...)``): it ends in it."""
        code, _ = self.ledger.outcome(slot.task_id, index, runs, state.ferroflow_code)
        if code in _FAILED_CODES or state.message is not None:
            self.recorder.note(slot.task_id, index, state.message, run_count=runs)
        self.recorder.ended(slot.task_id, self.logs)
        state._details["returned"] = state._details["of_run"] = True  # (given back as it is)
        state._details.pop("missing", None)  # (Completed() without data: its run's result is None, as Prefect 3)
        return state

    def unit_of(self, slot: TaskSlot, indices: Any, static: dict, keys: tuple = (), columns: tuple = (),
                run_counts: bytes = b"\x01", retried_from: dict | None = None, awaited: bool = False) -> WorkUnit:
        """The work unit of calls ``indices`` of ``slot``'s task (one call, or a map's
        children with one column per mapped keyword), each at its attempt in
        ``run_counts``: what an inline call, a submitted call and a map run alike.
        ``awaited``: the call of an ``async def`` awaited on the flow's loop (the unit's
        ``fn`` gives the coroutine; ``ferroflow.eager.aio``)."""
        task = slot.task
        frame = Frame(self.info, slot.task_id, slot.name, slot.slug, slot.tags, indices, run_counts,
                      task.task_run_name)
        fn = slot.by_keyword if awaited else slot.fn
        if slot.on_running:
            fn = _RunningHooks(fn, slot.on_running, task, slot.name)
        if slot.uncaptured:
            fn = _Uncaptured(fn, awaited)
        return WorkUnit(task_id=slot.task_id, label=slot.name, fn=fn, indices=indices, size=len(indices),
                        static=static, mapped_keys=keys, columns=columns, retry_on=tuple(task.retry_on or ()),
                        retry_condition=slot.retry_condition, frame=frame, log_stdout=slot.log_stdout,
                        timeout=task.timeout, handlers=slot.handlers, owner=task, checkpoint=slot.checkpoint,
                        retried_from=retried_from, slots=slot.limits)

    def _run_unit(self, slot: TaskSlot, index: int, inputs: dict, return_state: bool) -> Any:
        """A call with something around it: run as a work unit of one task run (the
        runtime a deferred run's task runs go through), again while the ledger says
        to retry."""
        runs = 1
        retried_from = None
        while True:
            unit = self.unit_of(slot, [index], inputs, run_counts=bytes([runs]), retried_from=retried_from)
            state, wait, retried_from = self.settle(slot, index, unit, unit.run(), 0, runs)
            if state is not None:
                return eager_states.deliver(state, return_state)
            if wait:
                time.sleep(wait / 1000)
            runs += 1

    def settle(self, slot: TaskSlot, index: int, unit: WorkUnit, result: Any, j: int, runs: int) -> tuple:
        """Book attempt ``runs`` of call ``index``, run ``j`` of ``unit``: ``(state,
        None, None)`` when the call ended (recorded, its hooks called), ``(None,
        wait_ms, retried_from)`` when the ledger says it runs again."""
        code, value = result.codes[j], result.values[j]
        detail = result.details.get(j)
        if isinstance(value, eager_states.State) and code & 0x7F == SUCCESS:
            state = self._returned_state(slot, index, value, runs, True)
            return self._finish_hooks(slot, index, state, True, unit.frame), None, None
        final, wait = self.ledger.outcome(slot.task_id, index, runs, code)
        if wait is not None:
            retried_from = {0: detail[0]} if detail is not None and code & 0x7F == _core.RETRYING else None
            return None, wait, retried_from
        location = result.locations[j] if result.locations else None
        message = None if detail is None else detail[0]
        if final == _core.FAILED and isinstance(value, Exception):
            message = eager_states.task_failure_message(value)
        if message is not None or location is not None or runs > 1:
            self.recorder.note(slot.task_id, index, message, location, runs,
                               detail[1] if detail is not None and final in _FAILED_CODES else None)
        self.recorder.ended(slot.task_id, self.logs)
        if final == _core.TIMED_OUT:
            message = eager_states.timeout_message("Task", slot.task.timeout)
            value = eager_states.timeout_error(TaskRunTimeoutError, slot.task.timeout)
        elif final in _FAILED_CODES and not isinstance(value, BaseException):
            value = FailedRun(message or f"Task run ended in state {_core.STATE_NAMES[final]}.")
        state = eager_states.of_code(final, message, value)
        return self._finish_hooks(slot, index, state, True, unit.frame), None, None

    def _finish_hooks(self, slot: TaskSlot, index: int, state: Any, return_state: bool, frame: Frame | None) -> Any:
        completed, failed = slot.hooks
        hooks = completed if state.is_completed() else failed if state.is_failed() else ()
        if hooks:
            call_hooks(hooks, slot.task, _TaskRun(self, slot, index, state), state, frame)
        return eager_states.deliver(state, return_state)

    def cancelled(self, task_id: int, index: int, message: str) -> None:
        """Call ``index`` of task ``task_id`` was booked Cancelled: note ``message`` for
        it, and call the task's ``on_cancellation`` hooks."""
        self.recorder.note(task_id, index, message)
        slot = self.by_task_id[task_id]
        if slot.on_cancellation:
            state = eager_states.Cancelled(message)
            call_hooks(slot.on_cancellation, slot.task, _TaskRun(self, slot, index, state), state, self.frame)

    def end_open_calls(self) -> None:
        """The run ends: the calls that have not ended (it was interrupted while they
        ran) are booked Cancelled (``_core.Ledger.end_open``)."""
        ended = self.ledger.end_open(_core.CANCELLED)
        for task_id, index in ended:
            self.cancelled(task_id, index, "Task run was cancelled: its flow run ended while it ran.")
        for task_id in {task_id for task_id, _ in ended}:
            self.recorder.ended(task_id, self.logs)

    # ----- the rest, built on calls ---------------------------------------------------------

    def dispatch(self) -> Any:
        """The run's futures (:class:`ferroflow.eager.futures.Dispatch`), made on first use."""
        futures = self.futures
        if futures is None:
            from ferroflow.eager.futures import Dispatch

            futures = self.futures = Dispatch(self)
            self.scan = True
        return futures

    def map(self, task: Any, args: tuple, kwargs: dict, task_args: dict | None = None,
            upstream_tasks: Any = None, return_state: bool = False) -> Any:
        """``task.map(...)``: one call per element, run on the flow's executor in units
        of many children; a lazy sequence of futures (a list of states with
        ``return_state=True``, once they ended)."""
        self._in_flow_thread("map")
        return_state = kwargs.pop("return_state", return_state) if kwargs else return_state
        wait_for = kwargs.pop("wait_for", None) if kwargs else None
        if task_args:
            task = task.copy(**task_args)
        slot = self.slot(task)
        inputs = bind_task_call(task, args, kwargs)
        star = task._run_info().var_positional
        if star in inputs:
            raise TypeError(f"Task {task.name!r}: .map() maps inputs by name, and these arguments go to "
                            f"*{star}: pass a list by a parameter's name instead")
        mapped = self.dispatch().map(slot, inputs, _after(wait_for, upstream_tasks))
        if return_state:
            mapped.wait()
            return [mapped.state_at(k) for k in range(len(mapped))]
        return mapped

    def submit(self, task: Any, args: tuple, kwargs: dict) -> Any:
        """``task.submit(...)``: the call runs on the flow's executor; a future at once
        (its state once it ended, with ``return_state=True``)."""
        self._in_flow_thread("submit")
        return_state = kwargs.pop("return_state", False) if kwargs else False
        wait_for = kwargs.pop("wait_for", None) if kwargs else None
        slot = self.slot(task)
        future = self.dispatch().submit(slot, bind_task_call(task, args, kwargs), _after(wait_for, None))
        if return_state:
            future.wait()
            return future.state
        return future

    def _in_flow_thread(self, what: str) -> None:
        if threading.get_ident() != self.thread:
            raise RuntimeError(f"task.{what}() was called from a task running on the flow's executor: only the "
                               f"flow's function hands calls to the executor. Call the task directly there (it "
                               f"runs at once), or return values and {what} from the flow.")

    def end_futures(self) -> None:
        """The flow function ended: wait for every submitted call (Prefect 3 does too)."""
        if self.futures is not None:
            self.futures.finish()

    def close_futures(self, cancelled: bool = False) -> None:
        """The run ends: shut the executor down (without waiting for running work when
        ``cancelled``: the calls not ended are recorded Cancelled)."""
        if self.futures is not None:
            self.futures.close(cancelled)

    def flush(self) -> None:
        if self.checkpoints is not None:
            self.checkpoints.flush()
        self.recorder.flush(self.logs)


def _after(wait_for: Any, upstream_tasks: Any) -> list:
    """What a call waits for: ``wait_for=`` (Prefect 3) and ``upstream_tasks=``."""
    after: list = []
    for given in (wait_for, upstream_tasks):
        if given is not None:
            after.extend(given if isinstance(given, (list, tuple, set, frozenset)) else [given])
    return after


class _RunningHooks:
    """A task's function with its ``on_running`` hooks called first, as each attempt
    starts (``Running``, then ``Retrying``), in the task run's frame (picklable: it
    travels with the unit to any executor)."""

    def __init__(self, fn: Any, hooks: tuple, task: Any, name: str):
        self.fn, self.hooks, self.task, self.name = fn, hooks, task, name

    def __call__(self, **kwargs: Any) -> Any:
        frame = CURRENT_FRAME.get()
        runs = frame.run_counts[frame.j] if frame is not None and frame.run_counts else 1
        state = eager_states.Running() if runs <= 1 else eager_states.Retrying()
        index = frame.map_index if frame is not None else None
        run = _HookRun(frame.run.flow_run_id if frame is not None and frame.run else None, self.name, index,
                       runs, state)
        call_hooks(self.hooks, self.task, run, state)
        return self.fn(**kwargs)


class _Spread:
    """A function taking ``*args``, called as every run is, with keywords (``*args``
    as a tuple under its name): the leading names and that tuple are passed by
    position again (picklable: it travels with the unit to any executor)."""

    def __init__(self, fn: Any, positional: tuple, star: str):
        self.fn, self.positional, self.star = fn, positional, star

    def __call__(self, **kwargs: Any) -> Any:
        extra = kwargs.pop(self.star, ())
        leading = []
        for name in self.positional:  # (up to the first one left to its default)
            if name not in kwargs:
                break
            leading.append(kwargs.pop(name))
        return self.fn(*leading, *extra, **kwargs)


class _Uncaptured:
    """A task's function whose prints are not captured by its flow's ``log_prints``
    (``awaited``: an ``async def`` whose coroutine is awaited on the flow's loop)."""

    def __init__(self, fn: Any, awaited: bool = False):
        self.fn, self.awaited = fn, awaited

    def __call__(self, **kwargs: Any) -> Any:
        from ferroflow.runtime.stdout import prints_uncaptured

        if self.awaited:
            return _awaited_uncaptured(self.fn(**kwargs))
        with prints_uncaptured():
            return self.fn(**kwargs)


async def _awaited_uncaptured(awaitable: Any) -> Any:
    from ferroflow.runtime.stdout import prints_uncaptured

    with prints_uncaptured(in_context=True):
        return await awaitable


class _HookRun:
    """``task_run`` as an ``on_running`` hook sees it (where the call runs)."""

    __slots__ = ("id", "name", "task_key", "flow_run_id", "run_count", "state")

    def __init__(self, flow_run_id: str | None, name: str, index: Any, runs: int, state: Any):
        self.flow_run_id = flow_run_id
        self.id = f"{flow_run_id}:{name}:{index}"
        self.name = f"{name}-{index}"
        self.task_key = name
        self.run_count = runs
        self.state = state


class _Prefect3Condition:
    """``retry_condition_fn(task, task_run, state)`` called as the runtime calls a
    retry condition, ``(task, state)``: the attempt's Failed state as an eager state
    (``state.result()`` raises its exception); ``task_run`` is None."""

    def __init__(self, fn: Any):
        self.fn = fn

    def __call__(self, task: Any, state: Any) -> bool:
        failed = eager_states.of_code(_core.FAILED, state.message, state.result)
        return bool(self.fn(task, None, failed))


class _TaskRun:
    """What a task's hooks get as ``task_run`` (Prefect 3's ``TaskRun``, the fields a
    hook reads): ``id``, ``name``, ``task_key``, ``flow_run_id``, ``run_count``,
    ``state``."""

    __slots__ = ("id", "name", "task_key", "flow_run_id", "run_count", "state")

    def __init__(self, run: EagerRun, slot: TaskSlot, index: int, state: Any):
        self.flow_run_id = run.info.flow_run_id
        self.id = f"{self.flow_run_id}:{slot.task_id}:{index}"
        self.name = f"{slot.name}-{index}"
        self.task_key = slot.name
        self.run_count = 1
        self.state = state
