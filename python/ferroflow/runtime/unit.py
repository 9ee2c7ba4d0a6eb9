"""A work unit: task runs of one task, ready to run anywhere (in this thread, a worker
process, a Dask or Ray worker), and the outcome of each run (a state code, a value, a
message and traceback for the runs that did not simply succeed).

This is the runtime layer: it imports neither the engine nor the executors. The engine
builds units (``ferroflow.engine.runner``); executors run them (``unit.run()``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ferroflow import signals
from ferroflow._core import CANCELLED, FAILED, PAUSED, RETRY_OK, RETRYING, SKIPPED, SUCCESS, TIMED_OUT, TRIGGER_FAILED
from ferroflow.debug import TaskRaised, raising
from ferroflow.errors import formatted_traceback
from ferroflow.retries import RetryRule
from ferroflow.runtime.context import CURRENT_FRAME, Frame
from ferroflow.runtime.timeouts import TaskTimeout, call_with_timeout

__all__ = ["WorkUnit", "UnitResult", "SIGNAL_CODES", "outcome_of_exception", "retry_rule", "retryable"]


@dataclass
class UnitResult:
    """What running a unit produced: one state code and one value per task run, and
    details (message, traceback) for the runs that did not simply succeed, keyed by
    position in the unit."""

    codes: bytearray
    values: list
    details: dict = field(default_factory=dict)
    #: Seconds the unit took to run (the engine sizes later units from it).
    elapsed: float = 0.0
    #: Where each task run's result was checkpointed (None: not checkpointed).
    locations: list | None = None
    #: Under ``ferroflow.debug.raise_on_exception``: the position of the task run whose
    #: exception stops the flow run (its value); the unit's runs after it did not run
    #: and are ``CANCELLED``. None otherwise.
    raised: int | None = None

    def place(self, positions: Sequence[int], part: UnitResult) -> None:
        """Put ``part``, the result of :meth:`WorkUnit.subset` ``(positions)``, in its
        place: its k-th task run is this result's ``positions[k]``-th."""
        codes, values = self.codes, self.values
        for k, j in enumerate(positions):
            codes[j] = part.codes[k]
            values[j] = part.values[k]
        for k, detail in part.details.items():
            self.details[positions[k]] = detail
        if part.locations is not None:
            if self.locations is None:
                self.locations = [None] * len(codes)
            for k, location in enumerate(part.locations):
                self.locations[positions[k]] = location
        if part.raised is not None:
            self.raised = positions[part.raised]
        self.elapsed += part.elapsed


@dataclass
class WorkUnit:
    """Task runs of one task, ready to run anywhere (picklable with cloudpickle).

    ``static`` holds the keyword arguments shared by every run; ``columns`` holds, for
    each mapped keyword in ``mapped_keys``, one value per run. A non-mapped task run is
    a unit of one run with no columns.
    """

    task_id: int
    label: str
    fn: Callable[..., Any]
    indices: Sequence[int] | None
    size: int
    static: dict
    mapped_keys: tuple = ()
    columns: tuple = ()
    retry_on: tuple = ()
    #: The task's ``retry_condition(task, state) -> bool``, or None.
    retry_condition: Callable[..., Any] | None = None
    frame: Frame | None = None
    log_stdout: bool = False
    timeout: float | None = None
    handlers: tuple = ()
    owner: Any = None
    #: Results and target (``ferroflow.runtime.checkpoints.Checkpoint``), or None.
    checkpoint: Any = None
    #: Position -> message of the Retrying state a task run's previous attempt ended in
    #: by a RETRY signal or a state handler (what its handlers see it start from);
    #: None when there is none (only tasks with state handlers are told).
    retried_from: dict | None = None
    #: The task's tag concurrency slots (``ferroflow.runtime.slots.TaskSlots``): each
    #: task run takes them before its function runs. None: the task has no limited tag.
    slots: Any = None

    def subset(self, positions: Sequence[int]) -> WorkUnit:
        """A unit of only the task runs at ``positions`` (in that order) of this one."""
        indices = None if self.indices is None else [self.indices[j] for j in positions]
        retried = self.retried_from
        if retried:
            retried = {k: retried[j] for k, j in enumerate(positions) if j in retried}
        frame = self.frame
        if frame is not None:
            looped = frame.looped
            frame = Frame(frame.run, frame.task_id, frame.task_name, frame.task_slug, frame.task_tags, indices,
                          bytes(frame.run_counts[j] for j in positions) if frame.run_counts else None,
                          frame.run_name)
            frame.looped = looped  # shared: the whole unit's results are written with it
        columns = tuple([column[j] for j in positions] for column in self.columns)
        return replace(self, indices=indices, size=len(positions), columns=columns, frame=frame,
                       retried_from=retried)

    def inputs(self, j: int) -> dict:
        """The keyword arguments of the task run at position ``j``."""
        kwargs = dict(self.static)
        for key, column in zip(self.mapped_keys, self.columns, strict=True):
            kwargs[key] = column[j]
        return kwargs

    def run(self) -> UnitResult:
        """Run every task run of the unit. A user's exception fails that run only;
        ``KeyboardInterrupt`` and ``SystemExit`` propagate."""
        started = time.perf_counter()
        lent = self._lend_frame()
        try:
            if self.checkpoint is not None:
                from ferroflow.runtime.checkpoints import run_checkpointed

                result = run_checkpointed(self, WorkUnit._run_in_frame)
            else:
                result = self._run_in_frame()
        except TaskRaised as stop:  # raise_on_exception, outside the run loops (a cache's handler)
            n = self.size
            result = stopped_at(self._position(stop), stop, bytearray([CANCELLED]) * n, [None] * n, {})
        finally:
            if lent:
                self.frame.unit = None  # type: ignore[union-attr]
        result.elapsed = time.perf_counter() - started
        return result

    def _position(self, stop: TaskRaised) -> int:
        """The position in this unit of the task run ``stop`` comes from."""
        if self.indices is None or stop.index is None:
            return 0
        try:
            return list(self.indices).index(stop.index)
        except ValueError:
            return 0

    def _lend_frame(self) -> bool:
        """Make this unit its frame's (``task_run_name``, targets, cache key functions
        and ``ferroflow.runtime`` read the inputs through it); True when it is lent for
        this run only (no cycle stays), False when it stays (a ``task_run_name``) or the
        frame has a unit already."""
        frame = self.frame
        if frame is None or frame.unit is self:
            return False
        if frame.run_name is not None:
            frame.unit = self  # (a subset of the unit has a frame of its own)
            return False
        if frame.unit is None:
            frame.unit = self
            return True
        return False

    def _run_in_frame(self) -> UnitResult:
        frame = self.frame
        lent = self._lend_frame()
        token = CURRENT_FRAME.set(frame)
        try:
            if self.log_stdout:
                from ferroflow.runtime.logs import StdoutToLogger, get_logger
                from ferroflow.runtime.stdout import prints_to

                stream = StdoutToLogger(get_logger(None if self.frame is None else self.frame.task_name))
                with prints_to(stream):  # this thread's prints only: safe in any executor
                    try:
                        return self._run()
                    finally:
                        stream.flush()
            return self._run()
        finally:
            CURRENT_FRAME.reset(token)
            if lent:
                frame.unit = None  # type: ignore[union-attr]

    def _run(self) -> UnitResult:
        n = self.size
        fn = self.fn
        if self.timeout is not None:
            seconds, body = self.timeout, fn

            def fn(**kwargs):
                return call_with_timeout(body, seconds, kwargs)

        frame = self.frame
        if frame is None:
            frame = Frame(None, self.task_id, self.label, None, frozenset(), self.indices, None)
        if self.slots is not None:
            fn = self.slots.guard(fn, frame)  # (outside the timeout: waiting for a slot is not running)
        if self.handlers:
            return self._run_observed(fn, frame)
        codes = bytearray([SUCCESS]) * n
        values: list = [None] * n
        details: dict = {}
        kwargs = dict(self.static)
        keys = self.mapped_keys
        retry_on = retry_rule(self)
        caught = (Exception, signals.FerroflowSignal, TaskTimeout)
        j = 0
        try:
            if len(keys) == 1:
                # The common case, kept tight: one mapped argument.
                key, column = keys[0], self.columns[0]
                for j in range(n):
                    frame.j = j
                    kwargs[key] = column[j]
                    try:
                        values[j] = fn(**kwargs)
                    except signals.LOOP as sig:  # iterations: ferroflow.runtime.loop
                        from ferroflow.runtime.loop import keep_looping
                        codes[j], values[j] = keep_looping(fn, kwargs, sig, retry_on, details, j)
                    except caught as exc:
                        codes[j], values[j], details[j] = outcome_of_exception(exc, retry_on)
            else:
                columns = self.columns
                for j in range(n):
                    frame.j = j
                    for key, column in zip(keys, columns, strict=True):
                        kwargs[key] = column[j]
                    try:
                        values[j] = fn(**kwargs)
                    except signals.LOOP as sig:  # iterations: ferroflow.runtime.loop
                        from ferroflow.runtime.loop import keep_looping
                        codes[j], values[j] = keep_looping(fn, kwargs, sig, retry_on, details, j)
                    except caught as exc:
                        codes[j], values[j], details[j] = outcome_of_exception(exc, retry_on)
        except TaskRaised as stop:  # raise_on_exception: the unit stops at run j
            return stopped_at(j, stop, codes, values, details)
        return UnitResult(codes, values, details)

    def _run_observed(self, fn: Callable[..., Any], frame: Frame) -> UnitResult:
        """The run loop of a task with state handlers: every transition passes
        through them (Pending -> Running -> outcome, as in Prefect 1; a retried run
        starts from Retrying and a run about to be retried goes on to Retrying)."""
        n = self.size
        codes = bytearray(n)
        values: list = [None] * n
        details: dict = {}
        kwargs = dict(self.static)
        rule = retry_rule(self)
        try:
            self._observe_each(fn, frame, kwargs, rule, codes, values, details)
        except TaskRaised as stop:  # raise_on_exception: the unit stops at run frame.j
            return stopped_at(frame.j, stop, codes, values, details)
        return UnitResult(codes, values, details)

    def _observe_each(self, fn: Callable[..., Any], frame: Frame, kwargs: dict, rule: Any, codes: bytearray,
                      values: list, details: dict) -> None:
        """Run the unit's task runs one by one through the handlers (see
        :meth:`_run_observed`), filling ``codes``, ``values`` and ``details``."""
        from ferroflow import states
        from ferroflow.runtime.handlers import call_handlers, outcome_of, state_of

        for j in range(self.size):
            frame.j = j
            for key, column in zip(self.mapped_keys, self.columns, strict=True):
                kwargs[key] = column[j]
            run_count = max(1, frame.run_counts[j]) if frame.run_counts else 1
            running = states.Running("Starting task run.", run_count=run_count)
            started = call_handlers(self.owner, self.handlers, self._before(j, run_count), running)
            if started.is_finished():
                codes[j], values[j], details[j] = outcome_of(started)
                continue
            try:
                code, value, detail = SUCCESS, fn(**kwargs), None
            except signals.LOOP as sig:  # iterations: ferroflow.runtime.loop
                from ferroflow.runtime.loop import keep_looping

                # (each iteration and the last outcome went through the handlers there)
                code, value = keep_looping(fn, kwargs, sig, rule, details, j, (self.owner, self.handlers, running))
                detail = details.pop(j, None)
                final = state_of(code, value, detail, "Task run succeeded.", run_count)
            except (Exception, signals.FerroflowSignal, TaskTimeout) as exc:
                code, value, detail = outcome_of_exception(exc, rule)
                final = None
            else:
                final = None
            if final is None:
                new = state_of(code, value, detail, "Task run succeeded.", run_count)
                final = call_handlers(self.owner, self.handlers, running, new)
                if final is not new:
                    code, value, detail = retryable(outcome_of(final), rule)
            code, value, detail = self.check_for_retry(final, (code, value, detail), run_count)
            codes[j], values[j] = code, value
            if detail is not None:
                details[j] = detail

    def _before(self, j: int, run_count: int) -> Any:
        """The state task run ``j`` starts from: Pending, or for a retry the Retrying
        state the attempt before ended in (a RETRY signal's or a handler's own, with its
        message, else Prefect 1's "Retrying Task (after attempt k of n)")."""
        from ferroflow import states

        if run_count == 1:
            return states.Pending()
        if self.retried_from and j in self.retried_from:
            return states.Retrying(self.retried_from[j], run_count=run_count - 1)
        return self._retrying(run_count - 1)

    def _retrying(self, attempt: int, scheduled: bool = False) -> Any:
        """The Retrying state after attempt ``attempt`` (Prefect 1's message); with
        ``scheduled``, its ``start_time`` is now plus the task's delay for that attempt
        (the core may take a jittered share off it)."""
        import datetime

        from ferroflow import retries, states

        max_retries = getattr(self.owner, "max_retries", 0) or 0
        start_time = None
        if scheduled:
            delays_ms = retries.core_delays(getattr(self.owner, "retry_delay", None), max_retries)[0]
            delay_ms = delays_ms[min(attempt, len(delays_ms)) - 1] if delays_ms else 0
            start_time = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(milliseconds=delay_ms)
        return states.Retrying(f"Retrying Task (after attempt {attempt} of {max_retries + 1})",
                               start_time=start_time, run_count=attempt)

    def check_for_retry(self, state: Any, outcome: tuple, run_count: int) -> tuple:
        """Prefect 1's last step of a task run, for a task with state handlers: when
        ``outcome`` (the ``(code, value, detail)`` of ``state``) is a failure the core
        will retry (it may, and attempts are left), pass ``state -> Retrying`` through
        the handlers; a handler that chooses another state ends the run in it."""
        from ferroflow.runtime.handlers import call_handlers, outcome_of

        code = outcome[0]
        if not code & RETRY_OK or run_count > (getattr(self.owner, "max_retries", 0) or 0):
            return outcome
        retrying = self._retrying(run_count, scheduled=True)
        final = call_handlers(self.owner, self.handlers, state, retrying)
        return outcome if final is retrying else outcome_of(final)


def stopped_at(j: int, stop: TaskRaised, codes: bytearray, values: list, details: dict) -> UnitResult:
    """The result of a unit that ``stop`` (raise_on_exception) stopped at position
    ``j``: run ``j`` ends in its error, the runs after it did not run (CANCELLED), and
    the result says where the run stops (``raised``)."""
    codes[j], values[j], details[j] = stop.code, stop.error, stop.detail
    for k in range(j + 1, len(codes)):
        codes[k], values[k] = CANCELLED, None
        details.pop(k, None)
    return UnitResult(codes, values, details, raised=j)


def retryable(outcome: tuple, retry_on: tuple) -> tuple:
    """``(code, value, detail)`` with RETRY_OK added to a failed code when ``retry_on``
    (a tuple of exception types or a :class:`RetryRule`) lets it retry: an outcome
    decided outside the task's own code (a state handler's state, a result write)."""
    code, value, detail = outcome
    if code in (FAILED, TIMED_OUT, TRIGGER_FAILED):
        code = _ask_condition(code | _retry_flag(value, retry_on), value, detail, retry_on)
    return code, value, detail


def _retry_flag(result: Any, retry_on: tuple) -> int:
    if not retry_on or isinstance(result, retry_on):
        return RETRY_OK
    return 0


def retry_rule(unit: WorkUnit) -> tuple:
    """What decides a unit's retries: its ``retry_on`` tuple, or (when the task has a
    ``retry_condition``) a :class:`RetryRule` carrying both. No cost without one."""
    if unit.retry_condition is None:
        return unit.retry_on
    return RetryRule(unit.retry_on, unit.retry_condition, unit.owner)


def outcome_of_exception(exc: BaseException, retry_on: tuple):
    """(code, value, details) of a task run that raised ``exc``; ``retry_on`` is a
    tuple of exception types or a :class:`RetryRule`. Under raise_on_exception, an
    exception that is not a signal raises :class:`~ferroflow.debug.TaskRaised`
    instead (its traceback kept)."""
    if not isinstance(exc, signals.FerroflowSignal) and raising():
        raise TaskRaised.of_task(exc) from None
    if isinstance(exc, signals.FerroflowSignal):
        outcome = _signal_outcome(exc, retry_on)
    elif isinstance(exc, TaskTimeout):
        exc.__traceback__ = None
        outcome = TIMED_OUT | _retry_flag(exc, retry_on), exc, ("Task timed out during execution.", str(exc))
    else:
        outcome = _failure(exc, retry_on)
    code, value, detail = outcome
    if code & RETRY_OK and type(retry_on) is RetryRule:
        return (_ask_condition(code, value, detail, retry_on), value, detail)
    return outcome


def _ask_condition(code: int, value: Any, detail: Any, retry_on: tuple) -> int:
    """``code`` without RETRY_OK when ``retry_on`` is a RetryRule whose condition
    refuses the retry."""
    if code & RETRY_OK and type(retry_on) is RetryRule:
        return code if retry_on.allows(code, value, detail) else code & ~RETRY_OK
    return code


def _failure(exc: BaseException, retry_on: tuple):
    text = formatted_traceback(exc)
    # Drop the frames: the formatted text keeps what a user needs, and a million failed
    # children must not keep a million stacks (and their locals) alive.
    exc.__traceback__ = None
    message = f"Error during execution of task: {exc!r}"
    return FAILED | _retry_flag(exc, retry_on), exc, (message, text)


SIGNAL_CODES = {
    "Failed": FAILED,
    "TriggerFailed": TRIGGER_FAILED,
    "Success": SUCCESS,
    "Skipped": SKIPPED,
    "Retrying": RETRYING,
    "Paused": PAUSED,
}


def _signal_outcome(sig: signals.FerroflowSignal, retry_on: tuple):
    code = SIGNAL_CODES.get(sig.state_name)
    if code is None:
        raise TypeError(f"signal {type(sig).__name__} is not supported by this version of ferroflow")
    if code in (FAILED, TRIGGER_FAILED):
        code |= _retry_flag(sig.result, retry_on)
    text = None
    if code & ~RETRY_OK in (FAILED, TRIGGER_FAILED):
        text = formatted_traceback(sig)
    sig.__traceback__ = None
    return code, sig.result, (sig.message, text)
