"""``@flow``: an ordinary Python function as a flow, run eagerly (Prefect 2/3 style).

::

    from ferroflow import flow, task

    @task(retries=2)
    def fetch(url: str) -> str: ...

    @flow
    def etl(urls: list[str]) -> int:
        pages = [fetch(u) for u in urls]   # each call runs now, with retries
        return len(pages)

    etl(["https://..."])                   # a flow run: recorded, returns 1

Calling the function is a flow run: its arguments are bound and checked against its
type hints first (:mod:`ferroflow.eager.parameters`), the run is recorded in the run
store like any other (``ferroflow runs``), and every ``@task`` it calls runs at once
(:mod:`ferroflow.eager.run`). It returns the function's value, or raises its exception;
``return_state=True`` gives the final state instead (:mod:`ferroflow.eager.states`).

The final state follows Prefect 3: the function raised -> ``Failed``; it returned a
state -> that state; it returned states (a list, tuple, set or dict's values) ->
``Failed`` when one of them failed, else ``Completed``; anything else -> ``Completed``
with that value, even when a task call failed and the function caught the exception.
Ctrl-C ends the run ``Cancelled`` (recorded), then raises ``KeyboardInterrupt`` again.

A flow called inside another flow is a *subflow*: a run of its own, recorded with its
parent's id.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import inspect
import logging
import time
from collections.abc import Generator, Iterator
from typing import Any

from ferroflow.core.prefect3_options import check_hooks
from ferroflow.eager import states as eager_states
from ferroflow.eager.hooks import call_hooks
from ferroflow.eager.parameters import Binder
from ferroflow.eager.run import EagerRun
from ferroflow.engine.resume import ResumeError
from ferroflow.errors import FlowRunTimeoutError, ParameterTypeError, TaskRunTimeoutError, TaskTimeout
from ferroflow.runtime.context import CURRENT_EAGER_RUN, CURRENT_FRAME

__all__ = ["EagerFlow", "flow"]


class EagerFlow:
    """A function decorated with :func:`flow`; calling it runs the flow."""

    #: Checkpointed results default to none (a task's own ``result=`` still applies).
    result = None

    def __init__(self, fn: Any, name: str | None = None, description: str | None = None,
                 version: str | None = None, retries: int | None = None, retry_delay_seconds: float | None = None,
                 timeout_seconds: float | None = None, validate_parameters: bool = True,
                 log_prints: bool | None = None, on_completion: Any = None, on_failure: Any = None,
                 on_cancellation: Any = None, on_crashed: Any = None, on_running: Any = None, executor: Any = None,
                 task_runner: Any = None, persist_result: bool | None = None, flow_run_name: Any = None):
        if not callable(fn):
            raise TypeError(f"@flow needs a function, got {fn!r}")
        self.fn = fn
        # (Prefect 3's default: the function's name, dashes for underscores)
        self.name = name or (getattr(fn, "__name__", None) or "flow").replace("_", "-")
        owner = f"Flow {self.name!r}"
        self.description = description if description is not None else inspect.getdoc(fn)
        self.version = version
        self.retries = _count(retries, "retries", owner)
        self.retry_delay_seconds = _seconds(retry_delay_seconds, "retry_delay_seconds", owner) or 0.0
        self.timeout_seconds = _seconds(timeout_seconds, "timeout_seconds", owner)
        self.log_prints = bool(log_prints)
        self.hooks = {"completion": check_hooks(on_completion, "on_completion", owner),
                      "failure": check_hooks(on_failure, "on_failure", owner),
                      "cancellation": check_hooks(on_cancellation, "on_cancellation", owner),
                      "crashed": check_hooks(on_crashed, "on_crashed", owner),
                      "running": check_hooks(on_running, "on_running", owner)}
        #: The executor (a registered name or an instance) that ``task.submit()`` and
        #: ``task.map()`` run on (``task_runner`` is Prefect 3's name for it).
        self.executor = executor if executor is not None else task_runner
        self.persist_result = persist_result
        if flow_run_name is not None and not isinstance(flow_run_name, str) and not callable(flow_run_name):
            raise TypeError(f"{owner}: flow_run_name must be a string template or a callable returning a string, "
                            f"got {flow_run_name!r}")
        #: The runs' name: a template formatted with the run's parameters, or a callable
        #: called with none (``ferroflow.runtime.flow_run`` tells it the run's facts).
        self.flow_run_name = flow_run_name
        self.binder = Binder(fn, self.name, validate_parameters)
        self.is_async = inspect.iscoroutinefunction(fn)
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<EagerFlow: {self.name}>"

    # Prefect 3's decorator form of the hooks: ``@my_flow.on_failure`` above a
    # ``hook(flow, flow_run, state)`` adds it (as ``on_failure=[hook]`` does), returns it.

    def on_completion(self, fn: Any) -> Any:
        return self._add_hook("completion", fn)

    def on_failure(self, fn: Any) -> Any:
        return self._add_hook("failure", fn)

    def on_cancellation(self, fn: Any) -> Any:
        return self._add_hook("cancellation", fn)

    def on_crashed(self, fn: Any) -> Any:
        return self._add_hook("crashed", fn)

    def on_running(self, fn: Any) -> Any:
        return self._add_hook("running", fn)

    def _add_hook(self, kind: str, fn: Any) -> Any:
        self.hooks[kind] = (*self.hooks[kind], *check_hooks(fn, f"on_{kind}", f"Flow {self.name!r}"))
        return fn

    def with_options(self, **options: Any) -> EagerFlow:
        """A copy of this flow with some options changed (Prefect 3's ``with_options``)."""
        keep = {"name": self.name, "description": self.description, "version": self.version,
                "retries": self.retries, "retry_delay_seconds": self.retry_delay_seconds,
                "timeout_seconds": self.timeout_seconds, "validate_parameters": self.binder.validate,
                "log_prints": self.log_prints, "on_completion": self.hooks["completion"],
                "on_failure": self.hooks["failure"], "on_cancellation": self.hooks["cancellation"],
                "on_crashed": self.hooks["crashed"], "on_running": self.hooks["running"], "executor": self.executor,
                "persist_result": self.persist_result, "flow_run_name": self.flow_run_name}
        unknown = set(options) - set(keep) - {"task_runner"}
        if unknown:
            raise TypeError(f"with_options() got unexpected options {sorted(unknown)}")
        return EagerFlow(self.fn, **{**keep, **options})

    def __call__(self, *args: Any, return_state: bool = False, **kwargs: Any) -> Any:
        """Run the flow with these arguments. ``return_state=True`` gives the final state
        instead of the value. ``resume=RUN_ID`` (unless the function has a parameter of
        that name: then use :meth:`resume`) resumes an earlier run of this flow. A flow of
        an ``async def`` returns an awaitable: ``await my_flow(...)`` runs it."""
        resume = kwargs.pop("resume", None) if "resume" not in self.binder.signature.parameters else None
        if resume is not None:
            return self.resume(resume, *args, return_state=return_state, **kwargs)
        try:
            bound = self.binder.bind(args, kwargs)
        except ParameterTypeError as exc:
            if not return_state:
                raise
            # (Prefect 3: a failed state; arguments that do not bind raise all the same)
            state = eager_states.Failed(
                f"Validation of flow parameters failed with error: {eager_states.exception_text(exc)}", data=exc)
            return _given(state) if self.is_async else state
        if self.is_async:
            return _outcome(self._run_async(bound), return_state)
        state = self._run(bound)
        return state if return_state else state.result()

    def resume(self, run_id: str, *args: Any, return_state: bool = False, **kwargs: Any) -> Any:
        """Resume the earlier run ``run_id`` of this flow (or a unique prefix of its id):
        run the function again with that run's parameters (those given here override
        them); each task call that run finished, with the same arguments, returns its
        checkpointed value at once instead of running (see
        :mod:`ferroflow.eager.resume`). Raises :class:`~ferroflow.store.UnknownRunError`
        for an unknown run and :class:`~ferroflow.engine.resume.ResumeError` for a run
        of another flow, one still running or being resumed by another process. A flow
        of an ``async def`` returns an awaitable."""
        given = self.binder.signature.bind_partial(*args, **kwargs).arguments
        bound, resumed, store = self._prepare(dict(given), run_id, None)
        if self.is_async:
            return _outcome(self._run_async(bound, resumed, store), return_state)
        state = self._run(bound, resumed, store)
        return state if return_state else state.result()

    def run_with(self, parameters: dict, *, resume: str | None = None, store: Any = None, run_id: str | None = None,
                 lease: str | None = None, progress: Any = None) -> eager_states.State:
        """One run with ``parameters`` (name -> value, checked and coerced as a call's
        arguments are), as the command line and workers start one; its final state (a
        flow of an ``async def`` runs to completion on an event loop of its own).

        ``resume``: an earlier run to resume (its parameters fill in those not given);
        ``store``: the run store (default the process's); ``run_id``/``lease``: the run a
        worker claimed and the claim's token (fencing: the store refuses to start it
        otherwise); ``progress``: told ``watch(run)`` as it starts and ``done(run,
        state)`` as it ends."""
        bound, resumed, store = self._prepare(parameters, resume, store)
        if self.is_async:
            from ferroflow.eager.aio import run_to_completion

            return run_to_completion(self._run_async(bound, resumed, store, run_id, lease, progress))
        return self._run(bound, resumed, store, run_id, lease, progress)

    def _prepare(self, parameters: dict, resume: str | None, store: Any) -> tuple:
        """``(bound arguments, resumed, store)`` of a run with ``parameters``, resuming
        the run ``resume`` (its parameters fill in those not given)."""
        from ferroflow.engine.runner import open_run_store
        from ferroflow.store import NullRunStore

        if store is None:
            store = open_run_store(None)
        resumed = None
        if resume is not None:
            from ferroflow.eager.resume import start_resume

            if CURRENT_EAGER_RUN.get() is not None:
                raise ResumeError("resume= resumes a flow run, not a subflow run inside another flow")
            if isinstance(store, NullRunStore):
                raise ResumeError("cannot resume a run: runs are not recorded here (FERROFLOW_RECORD=0, or the "
                                  "run store could not be opened)")
            earlier, parameters, entries = start_resume(store, resume, self.name, parameters)
            resumed = (earlier, entries)
        return self.binder.bind(*_call_form(self.binder.signature, parameters)), resumed, store

    # ----- a run ---------------------------------------------------------------------------
    #
    # One run is the generator _steps: everything but calling the function, and waiting
    # before a retry, which it asks its driver for (yields _CALL, or seconds to sleep).
    # _run drives it in this thread, _run_async on the running event loop.

    def _run(self, bound: inspect.BoundArguments, resumed: tuple | None = None, store: Any = None,
             run_id: str | None = None, lease: str | None = None, progress: Any = None) -> eager_states.State:
        """One run of the flow with ``bound`` arguments (see :meth:`_steps`)."""
        steps = self._steps(bound, resumed, store, run_id, lease, progress)
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                request = steps.send(reply) if error is None else steps.throw(error)
            except StopIteration as stop:
                return stop.value
            reply = error = None
            try:
                if request is _CALL:
                    reply = self._call(bound)
                else:
                    time.sleep(request)
            except BaseException as exc:  # (handed to the run: it decides)
                error = exc

    async def _run_async(self, bound: inspect.BoundArguments, resumed: tuple | None = None, store: Any = None,
                         run_id: str | None = None, lease: str | None = None,
                         progress: Any = None) -> eager_states.State:
        """One run of the flow of an ``async def`` on the running event loop."""
        import asyncio

        steps = self._steps(bound, resumed, store, run_id, lease, progress)
        reply: Any = None
        error: BaseException | None = None
        while True:
            try:
                request = steps.send(reply) if error is None else steps.throw(error)
            except StopIteration as stop:
                return stop.value
            reply = error = None
            try:
                if request is _CALL:
                    reply = await self._call_async(bound)
                else:
                    await asyncio.sleep(request)
            except BaseException as exc:  # (asyncio.CancelledError too: the run ends Cancelled)
                error = exc

    def _steps(self, bound: inspect.BoundArguments, resumed: tuple | None, store: Any, run_id: str | None,
               lease: str | None, progress: Any) -> Generator[Any, Any, eager_states.State]:
        """One run of the flow with ``bound`` arguments: resuming ``resumed`` (``(earlier
        run, journal entries)``), into ``store`` (default: the parent's, else the
        process's), as run ``run_id`` under ``lease`` (a run a worker claimed). Yields
        ``_CALL`` to have the function called (sent its value, or thrown its exception)
        and a number of seconds to have the driver wait before a retry."""
        import asyncio

        from ferroflow.eager.resume import Checkpoints
        from ferroflow.engine.runner import open_run_store
        from ferroflow.runtime.logs import TASK_LOGGER, RunLogHandler
        from ferroflow.store import NullRunStore
        from ferroflow.store.config import new_run_id

        parent = CURRENT_EAGER_RUN.get()
        if store is None:
            store = parent.store if parent is not None else open_run_store(None)
        parameters = dict(bound.arguments)
        journal = parent.checkpoints if parent is not None else None
        if journal is not None:  # a subflow call: returned from, or resuming, the run its parent resumes
            kept, resumed, index, digest = self._in_parent_journal(parent, parameters, store, resumed)
            if kept is not None:
                return kept
        run = EagerRun(self, parameters, store, run_id or new_run_id(), datetime.datetime.now(datetime.timezone.utc),
                       lease)
        info = run.info
        info.flow_version = self.version
        options: dict = {}
        if parent is not None:
            info.parent_run_id = options["parent_run_id"] = parent.info.flow_run_id
            info.root_run_id = parent.info.root_run_id
        if self.flow_run_name is not None:
            info.run_name = options["run_name"] = self._run_name(run)  # (raises, as Prefect 3: nothing ran)
        if parent is not None:
            parent.flush()  # (the parent's calls so far are recorded before its child starts)
        recorded = not isinstance(store, NullRunStore)
        if resumed is not None:
            options["resumed_from"] = resumed[0].run_id
            run.checkpoints = Checkpoints(run.info.flow_run_id, self, resumed[0], resumed[1], recorded)
        elif recorded and self.persist_result is not False:
            run.checkpoints = Checkpoints(run.info.flow_run_id, self)
        if progress is not None:
            progress.watch(run)
        run.recorder.start(self.name, parameters, **options)
        kept = min(logging.INFO, logging.getLogger(TASK_LOGGER).getEffectiveLevel())
        logs = run.logs = RunLogHandler(run.info, kept, flow_level=True)
        root = logging.getLogger("ferroflow")
        root.addHandler(logs)
        run_token = CURRENT_EAGER_RUN.set(run)
        frame_token = CURRENT_FRAME.set(run.frame)
        interrupted: BaseException | None = None
        try:
            attempt = 1
            while True:
                if self.hooks["running"]:
                    running = eager_states.Running()
                    with self._prints(in_context=self.is_async):  # (a hook's prints are the run's too)
                        call_hooks(self.hooks["running"], self, _FlowRun(run, running), running, run.frame)
                try:
                    value = yield _CALL
                except TaskTimeout:
                    seconds = self.timeout_seconds or 0.0  # (only a flow timeout raises it here)
                    state = eager_states.TimedOut(eager_states.timeout_message("Flow", seconds),
                                                  data=eager_states.timeout_error(FlowRunTimeoutError, seconds))
                except TaskRunTimeoutError as exc:  # a task's, let through
                    state = eager_states.TimedOut(f"Flow run failed due to timeout: {exc!r}", data=exc)
                except Exception as exc:
                    state = eager_states.Failed(
                        f"Flow run encountered an exception: {eager_states.exception_text(exc)}", data=exc)
                else:
                    state = final_state(value)
                run.end_futures()  # (every submitted call ends before the attempt does)
                if not state.is_failed() or attempt > self.retries:
                    break
                attempt += 1
                info.attempt = attempt
                logging.getLogger(f"ferroflow.flow.{self.name}").info(
                    "Flow run failed (%s); retrying (attempt %d of %d)", state.message, attempt, self.retries + 1)
                if self.retry_delay_seconds:
                    yield self.retry_delay_seconds
        except (KeyboardInterrupt, asyncio.CancelledError) as exc:
            interrupted = exc
            run.close_futures(cancelled=True)  # (running work is not waited for)
            why = ("interrupted (Ctrl-C or SIGTERM)" if isinstance(exc, KeyboardInterrupt)
                   else "its asyncio task was cancelled")
            state = eager_states.Cancelled(f"Flow run was cancelled: {why}.")
        finally:
            run.close_futures(cancelled=True)  # (done already, unless something else interrupted the run)
            if run.unawaited:
                from ferroflow.eager.aio import cancel_unawaited

                cancel_unawaited(run)
            run.end_open_calls()
            CURRENT_FRAME.reset(frame_token)
            CURRENT_EAGER_RUN.reset(run_token)
        kind = {"COMPLETED": "completion", "FAILED": "failure", "CANCELLED": "cancellation",
                "CRASHED": "crashed"}.get(state.type.value)
        if kind and self.hooks[kind]:
            with self._prints(in_context=self.is_async):
                call_hooks(self.hooks[kind], self, _FlowRun(run, state), state, run.frame)
        if journal is not None and state.type is eager_states.StateType.COMPLETED:
            # In the parent's journal, written, before the subflow's own is deleted: a kill
            # between the two loses nothing.
            journal.kept_subflow(self, index, digest, state.data)
            journal.flush()
        if run.checkpoints is not None:
            run.checkpoints.finish(state.type is eager_states.StateType.COMPLETED)
        try:
            run.recorder.finish(state.store_name, state.message, logs)
        finally:
            root.removeHandler(logs)
            if progress is not None:
                progress.done(run, state)
        if interrupted is not None:
            raise interrupted
        state.flow_run_id = run.info.flow_run_id
        state._details["of_run"] = True  # (a flow returning it returns a run's state: data, as Prefect 3)
        return state

    def _in_parent_journal(self, parent: EagerRun, parameters: dict, store: Any, resumed: tuple | None) -> tuple:
        """A call of this flow as a subflow of ``parent``, whose journal keeps subflow
        values (``ferroflow.eager.resume``): ``(state, resumed, index, digest)``. The
        state is Completed with the value the run the parent resumes kept for this call
        (returned without running), else None, and ``resumed`` is then the earlier run
        of this call to resume, if there is one."""
        from ferroflow.eager.resume import read_journal

        journal = parent.checkpoints
        with parent.lock:  # (subflows may be called from tasks running on threads)
            index = parent.subflow_calls[self.name]
            parent.subflow_calls[self.name] += 1
        digest, found = journal.lookup_subflow(self, index, parameters)
        if found is not None:
            journal.kept_subflow(self, index, digest, None, found[1])
            state = eager_states.Completed(data=found[0])
            state._details["of_run"] = True
            return state, resumed, index, digest
        if resumed is None:
            earlier = journal.earlier_subflow_run(store, self.name, index)
            if earlier is not None:
                resumed = (earlier, read_journal(earlier.run_id) or {})
        return None, resumed, index, digest

    def _run_name(self, run: EagerRun) -> str:
        """The name of ``run``: ``flow_run_name`` formatted with its parameters, or
        called (in the run's frame); a callable that gives no string is a TypeError."""
        template = self.flow_run_name
        if not callable(template):
            return str(template).format(**run.info.parameters)
        token = CURRENT_FRAME.set(run.frame)
        try:
            name = template()
        finally:
            CURRENT_FRAME.reset(token)
        if not isinstance(name, str):
            raise TypeError(f"Callable {template} for 'flow_run_name' returned type {type(name).__name__} but a "
                            f"string is required.")
        return name

    def _call(self, bound: inspect.BoundArguments) -> Any:
        """Call the function once (in this thread)."""
        def call() -> Any:
            with self._prints():
                return self.fn(*bound.args, **bound.kwargs)

        if self.timeout_seconds is not None:
            from ferroflow.runtime.timeouts import call_with_timeout

            return call_with_timeout(lambda: call(), self.timeout_seconds, {})
        return call()

    async def _call_async(self, bound: inspect.BoundArguments) -> Any:
        """Call the function of an ``async def`` once and await it (on this loop)."""
        from ferroflow.eager.aio import within

        awaitable = self.fn(*bound.args, **bound.kwargs)
        if self.timeout_seconds is not None:
            awaitable = within(awaitable, self.timeout_seconds)
        with self._prints(in_context=True):
            return await awaitable

    @contextlib.contextmanager
    def _prints(self, in_context: bool = False) -> Iterator[None]:
        """With ``log_prints``: what the function prints (in this thread, or
        ``in_context``: this asyncio task) goes to the flow's logger."""
        if not self.log_prints:
            yield
            return
        from ferroflow.runtime.logs import StdoutToLogger
        from ferroflow.runtime.stdout import prints_in_context, prints_to

        stream = StdoutToLogger(logging.getLogger(f"ferroflow.flow.{self.name}"))
        with (prints_in_context if in_context else prints_to)(stream):
            try:
                yield
            finally:
                stream.flush()


#: What the run asks its driver for: call the function once.
_CALL = object()


async def _outcome(awaitable: Any, return_state: bool) -> Any:
    """What awaiting a flow call gives: the final state, or its value."""
    state = await awaitable
    return state if return_state else state.result()


def _call_form(signature: inspect.Signature, arguments: dict) -> tuple:
    """``(args, kwargs)`` that bind to ``arguments`` (name -> value, as
    ``BoundArguments.arguments``) in ``signature``."""
    args: list = []
    kwargs: dict = {}
    positional = True  # (every parameter so far was given: the next may be too)
    for name, parameter in signature.parameters.items():
        if name not in arguments:
            positional = False
            continue
        value = arguments[name]
        if parameter.kind is parameter.POSITIONAL_ONLY or (
                positional and parameter.kind is parameter.POSITIONAL_OR_KEYWORD):
            args.append(value)
        elif parameter.kind is parameter.VAR_POSITIONAL:
            args.extend(value)
        elif parameter.kind is parameter.VAR_KEYWORD:
            kwargs.update(value)
        else:
            kwargs[name] = value
    return tuple(args), kwargs


def final_state(value: Any) -> eager_states.State:
    """The state of a flow run whose function returned ``value`` (Prefect 3's rule).

    Futures in the value (alone, or in a list, tuple, set or dict's values; a
    ``task.map()``'s as the list of its children) are waited for and stand for their
    states: one future gives ``Failed("1/1 states failed.")`` (its state as the data:
    ``result()`` raises its exception) or ``Completed("All states completed.")``."""
    run = CURRENT_EAGER_RUN.get()
    if run is not None and run.futures is not None:
        from ferroflow.eager.futures import MappedFutures, TaskFuture, futures_to_states

        if isinstance(value, (TaskFuture, MappedFutures)) or run.scan:
            value = futures_to_states(value)
    if isinstance(value, eager_states.State):
        if not value._details.get("of_run"):
            value._details.pop("missing", None)  # (Completed() without data: the run's result is None, as Prefect 3)
            return value  # a state the flow made: its own
        # a run's state (a task call's, a future's, a subflow's): it stands for its run, as one of one
        return (eager_states.Failed("1/1 states failed.", data=value) if value.type in _FAILED_TYPES
                else eager_states.Completed("All states completed.", data=value))
    found = _states_in(value)
    if found:
        failed = [s for s in found if s.type in _FAILED_TYPES]
        if failed:
            return eager_states.Failed(f"{len(failed)}/{len(found)} states failed.", data=value)
        return eager_states.Completed("All states completed.", data=value)
    return eager_states.Completed(data=value)


_FAILED_TYPES = (eager_states.StateType.FAILED, eager_states.StateType.CRASHED, eager_states.StateType.CANCELLED)


def _states_in(value: Any) -> list:
    if isinstance(value, dict):
        items = list(value.values())
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
    else:
        return []
    found = [v for v in items if isinstance(v, eager_states.State)]
    return found if found and len(found) == len(items) else []


class _FlowRun:
    """What a flow's hooks get as ``flow_run``: ``id``, ``name``, ``flow_name``,
    ``parameters``, ``state``."""

    __slots__ = ("id", "name", "flow_name", "parameters", "state")

    def __init__(self, run: EagerRun, state: Any):
        self.id = run.info.flow_run_id
        self.name = run.info.run_name or run.info.flow_run_id
        self.flow_name = run.info.flow_name
        self.parameters = run.info.parameters
        self.state = state


def _count(value: Any, name: str, owner: str) -> int:
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{owner}: {name} must be a whole number of at least 0, got {value!r}")
    return value


def _seconds(value: Any, name: str, owner: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        value = value.total_seconds()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise TypeError(f"{owner}: {name} must be a number of seconds, got {value!r}")
    return float(value)


def flow(__fn: Any = None, **options: Any) -> Any:
    """Make a function a flow: ``@flow`` or ``@flow(name=..., retries=..., ...)``.

    Options (Prefect 3's): ``name``, ``description``, ``version``, ``retries``,
    ``retry_delay_seconds``, ``timeout_seconds``, ``validate_parameters`` (default
    True), ``log_prints``, ``on_completion``, ``on_failure``, ``on_cancellation``,
    ``on_crashed`` (lists of ``hook(flow, flow_run, state)``), ``executor`` (or
    ``task_runner``: where ``task.submit()`` and ``task.map()`` run),
    ``persist_result``, ``flow_run_name``.
    """
    if __fn is None:
        return lambda fn: EagerFlow(fn, **options)
    return EagerFlow(__fn, **options)


async def _given(state: eager_states.State) -> eager_states.State:
    """An awaitable of ``state`` (what an async flow's call gives when it cannot run)."""
    return state
