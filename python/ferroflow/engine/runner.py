"""The engine loop: ask the core for a batch of ready task runs, run them through the
executor, report the batch of outcomes, repeat.

Python does per task run only what needs Python: building arguments and calling the
user's function (inside :meth:`WorkUnit.run`). Readiness, triggers, skips, mapping
and retries are the core's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
import math
import time
import traceback
from collections import deque
from collections.abc import Iterator
from typing import Any

import pendulum

from ferroflow import _core, debug, signals, states
from ferroflow.core.collections import Constant
from ferroflow.core.parameter import Parameter
from ferroflow.debug import TaskRaised
from ferroflow.descriptions import describe_executor
from ferroflow.engine import inputs
from ferroflow.engine.graph import freeze, given_states, observed
from ferroflow.engine.limits import release_all, stop_waiting, task_slots
from ferroflow.engine.parameters import check_parameters
from ferroflow.engine.persistence import checkpoint_of, keeps_nothing
from ferroflow.engine.record import TASK_LEVEL, RunRecord, TaskStates
from ferroflow.engine.recorder import Recorder
from ferroflow.engine.release import Releaser
from ferroflow.engine.resume import Resume, find_run, resumed_parameters
from ferroflow.errors import EngineError, one_line
from ferroflow.plugins.contracts import check_slots, checked_wait, warn_broken
from ferroflow.runtime.batch import TaskPlan, TaskRuns, run_plain
from ferroflow.runtime.context import CURRENT_FRAME, Frame, RunInfo, in_frame
from ferroflow.runtime.handlers import call_handlers, handlers_of, outcome_of, state_of
from ferroflow.runtime.logs import TASK_LOGGER, RunLogHandler
from ferroflow.runtime.slots import SlotWaitInterrupted
from ferroflow.runtime.unit import SIGNAL_CODES, UnitResult, WorkUnit
from ferroflow.store import (
    NullRunStore,
    RunCancelledError,
    RunLostError,
    RunStore,
    StateStoreError,
    get_run_store,
    new_run_id,
)

log = logging.getLogger("ferroflow.engine")

PREPARE, DECIDED = _core.ITEM_PREPARE, _core.ITEM_DECIDED

#: Most mapped children per work unit.
UNIT_SIZE = 8_192
#: Children in a task's first work unit. Until a unit of that task has been timed,
#: later units grow (doubling) with one executor slot and stay this small with several
#: (the batch is split among the slots); then they are sized to take about
#: ``UNIT_SECONDS``.
FIRST_UNIT_SIZE = 8
UNIT_SECONDS = 0.1
#: Units handed to the executor per slot; the rest wait, unsliced, in the backlog, so
#: each new unit is sized with the latest timings.
UNITS_PER_SLOT = 2
#: Task runs taken from the core per executor slot (in flight or in the backlog):
#: enough to keep every slot busy, few enough that a million-child map is not sliced
#: all at once.
WINDOW_PER_SLOT = 2 * UNIT_SIZE
#: Seconds between progress snapshots.
PROGRESS_EVERY = 0.1
#: Plain task runs run inline (executors that run units in place) between two rounds
#: of the loop, at most, and milliseconds after which no new one starts in that round:
#: the loop records, checks its lease and shows progress at least that often.
INLINE_RUNS = 8_192
INLINE_MS = 20
#: The message of the task runs a cancel through the server (`ferroflow cancel`) cancelled.
CANCELLED_THROUGH_SERVER = "Cancelled through the server."

_VERDICTS = {
    _core.VERDICT_ALL_SUCCEEDED: (states.Success, "All reference tasks succeeded."),
    _core.VERDICT_SOME_FAILED: (states.Failed, "Some reference tasks failed."),
    _core.VERDICT_NONE_FAILED: (states.Success, "No reference tasks failed."),
}


def run_flow(flow: Any, parameters: dict | None = None, executor: Any = None, progress: Any = None,
             scheduled_start_time: Any = None, record: bool | None = None,
             resume: str | None = None, approve: Any = None, keep_results: bool = True,
             task_states: dict | None = None, server: str | None = None, run_id: str | None = None,
             lease: str | None = None) -> states.State:
    """Run ``flow`` once and return its final State.

    ``parameters`` maps parameter names to values (unknown or missing required ones
    raise :class:`ferroflow.errors.ParameterError` before anything runs);
    ``executor`` is an executor instance or a registered name (default: the flow's ``executor``, else ``"local"``);
    ``progress`` receives ``start``/``update``/``finish`` calls (see
    ``ferroflow.cli.progress``); ``scheduled_start_time`` (default now) is what
    ``ferroflow.context`` reports and derives its date helpers from; ``record``
    (default: unless ``FERROFLOW_RECORD=0``) records the run in the run store (see
    ``docs/run-store.md``); ``server`` (default ``FERROFLOW_API_URL``) records it through
    that ferroflow server instead (``docs/server.md``). The returned state's
    ``flow_run_id`` is the run's id, and its ``executor`` describes the executor it ran
    on (as its record says: :func:`ferroflow.descriptions.describe_executor`).

    ``resume`` is the id (or a unique prefix) of an earlier run of this flow, say one
    whose process died: its parameters are used (``parameters`` override them) and
    every task run whose checkpointed result can be read is not run again (see
    ``docs/checkpoints-and-resume.md``). ``approve`` (with ``resume``: True, or names
    or slugs of tasks) approves tasks that paused in that run (``signals.PAUSE``,
    ``manual_only``): they see ``ferroflow.context.resume`` True. Raises
    :class:`ferroflow.store.UnknownRunError` or
    :class:`ferroflow.engine.resume.ResumeError` when it cannot be resumed.

    ``keep_results=False`` drops a mapped child's value once every task consuming it
    child by child has finished with it (reference tasks keep theirs), so a long
    mapped pipeline holds a bounded number of values (``docs/large-flows.md``).

    ``task_states`` (``{task: State}``, Prefect 1's) starts tasks in given states: a
    task given a finished state (``Success("Mocked", result=42)``, ``Failed``,
    ``Skipped``...) is not run and its downstream tasks see that state; a task given a
    ``Cached`` state runs unless its cache validator accepts it; ``Pending`` leaves it
    to run (see :func:`ferroflow.engine.graph.given_states`).

    ``run_id`` and ``lease`` start a run a worker claimed (``ferroflow.launchers``): its
    id, and the claim's token, without which the store refuses to start it.
    """
    if not isinstance(keep_results, bool):
        raise TypeError(f"keep_results must be True or False, got {keep_results!r}")
    if approve is not None and resume is None:
        raise ValueError("approve= approves the paused tasks of an earlier run: give resume=RUN_ID too")
    with _collector_paused():
        frozen = freeze(flow)
    given = given_states(frozen, task_states)
    earlier = reader = None
    if resume is not None:
        reader = get_run_store(True, server=server)
        earlier = find_run(reader, resume, flow.name)
        parameters = resumed_parameters(reader, earlier, parameters)
    params = check_parameters(flow, parameters or {})
    from ferroflow.plugins import get_executor

    exe = get_executor(executor if executor is not None else getattr(flow, "executor", None) or "local")
    store = open_run_store(record, server)
    with _collector_paused():
        run = FlowRun(frozen, params, exe, progress, scheduled_start_time, store=store, keep_results=keep_results,
                      given=given, run_id=run_id, lease=lease)
    if earlier is not None and reader is not None:
        run.resume = Resume(reader, earlier, frozen, run.checkpoints)
        run.info.approved = run.resume.approved(approve)
    with _set_aside():
        return run.execute()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for a block of the engine's own that
    only allocates (freezing a flow, looking at its tasks): with tens of thousands of
    tasks alive, each full collection it would trigger there walks all of them, and
    the block makes no garbage for it to find."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@contextlib.contextmanager
def _set_aside() -> Iterator[None]:
    """Tell Python's cyclic garbage collector that every object alive when a run starts
    (the flow, its frozen graph, the run's tables) outlives the run
    (``gc.freeze()``), so that the collections the run's own allocations trigger walk
    only what the run made since: a young 10^4-element table walked by every
    collection cost a 10^4-task run more time than its tasks. Put back
    (``gc.unfreeze()``) when the run ends. Nothing is done when the collector is off or
    when something froze objects before (a server that forks, say): their freeze is
    theirs to undo."""
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def open_run_store(record: bool | None, server: str | None = None) -> RunStore:
    """The run store to record into (``server``: a ferroflow server's URL); a store that
    cannot be opened is a warning (the run goes on unrecorded), never a failed run."""
    try:
        return get_run_store(record, server=server)
    except StateStoreError as exc:
        logging.getLogger("ferroflow.store").warning("this run is not recorded: %s", exc)
        return NullRunStore()


class FlowRun:
    """One run of a frozen flow."""

    def __init__(self, frozen: Any, parameters: dict, executor: Any, progress: Any = None,
                 scheduled_start_time: Any = None, store: RunStore | None = None, keep_results: bool = True,
                 given: tuple = ({}, {}), run_id: str | None = None, lease: str | None = None):
        self.frozen = frozen
        self.flow = frozen.flow
        self.parameters = parameters
        self.executor = executor
        #: What the run's record and summary say ran it (ferroflow.descriptions).
        self.executor_description = describe_executor(executor)
        self.progress = progress
        decided, cached = given  # states given for tasks (graph.given_states)
        self.core = _core.Run(frozen.graph, frozen.specs(decided={i: code for i, (code, _) in decided.items()}))
        self.record = RunRecord(frozen, self.core)
        self.info = RunInfo(self.flow.name, run_id or new_run_id(), parameters,
                            scheduled_start_time or pendulum.now("UTC"))
        self.record.run_id = self.info.flow_run_id
        self.info.raise_on_exception = debug.asked()
        #: The first error of the run under raise_on_exception, once it happened.
        self.raised: TaskRaised | None = None
        self.recorder = Recorder(store if store is not None else NullRunStore(), self.info.flow_run_id, self.record,
                                 lease)
        self.logs: RunLogHandler | None = None
        self.releaser: Releaser | None = None
        if not keep_results:
            index = frozen.index
            self.releaser = Releaser(frozen, self.record, {index[t] for t in self.flow.reference_tasks()})
        self.resume: Resume | None = None
        tasks = frozen.tasks
        # task id -> {map index (TASK_LEVEL: the task itself): message} of the task runs
        # of tasks with handlers whose last attempt ended Retrying by a RETRY signal or a
        # handler: their next attempt starts from that state (WorkUnit.retried_from).
        self.retried: dict = {}
        self.plans: dict[int, inputs.MapPlan] = {}
        # Plain tasks (runtime/batch.py): their TaskPlan, and the (keyword, upstream id)
        # pairs their arguments come from with their constant arguments (or None); their
        # ready runs are batched.
        self.plain: dict[int, TaskPlan] = {}
        self.plain_args: dict[int, tuple] = {}
        #: task id -> TaskSlots of the tasks carrying a tag with a concurrency limit
        #: (asked once, here; their runs are never batched)
        self.task_slots = task_slots(tasks, store, self.info.flow_run_id)
        constants = self._profile_tasks()
        for i, t in enumerate(tasks):
            if i in decided:
                self._given(i, decided[i][1])
            elif constants[i]:
                self._constant(i, t.value)
        for i, state in cached.items():
            # Offered to the task's cache validator first; a task that does not cache runs.
            checkpoint = self.checkpoints[i]
            if checkpoint is not None and checkpoint.cache is not None:
                self.checkpoints[i] = dataclasses.replace(checkpoint, cache=dataclasses.replace(checkpoint.cache,
                                                                                                given=state))
        self.batches = getattr(executor, "batches", False)
        self.direct: list = []  # outcomes decided without running anything
        self.backlog: deque = deque()  # generators of units not yet sliced
        self.unit_size = [FIRST_UNIT_SIZE] * len(tasks)
        self.timed = [False] * len(tasks)
        self.slots = 1  # the executor's, once the run starts
        self.in_flight = 0  # units
        self.runs_in_flight = 0  # task runs taken from the core and not yet reported
        self._t0 = time.monotonic()
        self._last_progress = 0.0
        #: The frame plain task runs run in when the engine runs them itself, and the
        #: function that runs each (made on first use).
        self.inline_counts = bytearray(1)  # the frame's run count, set for each run
        self.inline_frame = Frame(self.info, -1, None, None, frozenset(), None, self.inline_counts)
        self._inline_run: Any = None

    def _profile_tasks(self) -> list:
        """Look at every task once: fill :attr:`custom_trigger`, :attr:`rerunnable`,
        :attr:`handlers`, :attr:`checkpoints`, and :attr:`plain` with
        :attr:`plain_args` for the tasks whose runs can be batched (not mapped; no state
        handlers, checkpoint, timeout, ``log_stdout``, ``retry_condition``,
        ``task_run_name`` or custom trigger; every argument read whole from an upstream
        task that is never mapped). Returns whether each task is a constant.

        What follows from a task's options alone is worked out once per options key
        (``FrozenFlow.option_keys``: the copies a task's calls make share one)."""
        frozen, flow = self.frozen, self.flow
        tasks = frozen.tasks
        whole = frozen.graph.whole_inputs()  # ((key, upstream id), ...) per task, read in Rust
        slugs = getattr(flow, "slugs", {})
        n = len(tasks)
        custom = self.custom_trigger = [False] * n
        # Whether a task's runs may run again (retries, or a RETRY signal seen), so
        # the details of an earlier attempt must be cleared when the next reports.
        rerunnable = self.rerunnable = [False] * n
        handlers = self.handlers = [()] * n
        checkpoints: list = [None] * n
        self.checkpoints = checkpoints
        constants = [False] * n
        can_map = frozen.may_map
        plain, plain_args = self.plain, self.plain_args
        constants_of = flow.constants
        profiles: dict = {}  # (options key, may map) -> _profile_of(task)
        for i, (t, okey) in enumerate(zip(tasks, frozen.option_keys, strict=True)):
            key = (okey, can_map[i])
            profile = profiles.get(key)
            if profile is None:
                profile = profiles[key] = _profile_of(t, flow, can_map[i])
            is_constant, custom[i], rerunnable[i], keeps_nothing, may_batch = profile
            if is_constant:
                constants[i] = True
                continue
            # (a task with no option of its own, its key its class, has no handlers)
            own = handlers[i] = () if type(okey) is type or not observed(t) else handlers_of(t)
            if may_batch is None:  # a parameter
                continue
            slug = slugs.get(t, t.slug)
            if not keeps_nothing:
                checkpoints[i] = checkpoint_of(t, flow, slug or t.name, can_map[i])
            if not may_batch or own or checkpoints[i] is not None or i in self.task_slots:
                continue
            args = whole[i]  # None: an input flattened, or from a task that may map
            if args is not None:
                tags = t.__dict__.get("tags")  # (read so, an untagged task gets no empty set)
                plain[i] = TaskPlan(i, t.name, slug, frozenset(tags) if tags else _NO_TAGS, t.run,
                                    tuple(t.retry_on or ()))
                plain_args[i] = (args, constants_of.get(t))
        return constants

    def now_ms(self, up: bool = False) -> int:
        """Milliseconds since the run started; rounded up for reports, so a retry
        timer (due = report time + delay) never fires early."""
        elapsed = (time.monotonic() - self._t0) * 1000
        return math.ceil(elapsed) if up else int(elapsed)

    # ----- the loop --------------------------------------------------------------

    def execute(self) -> states.State:
        if self.progress is not None:
            self.progress.start(self.flow.name, [t.name for t in self.frozen.sorted_tasks()])
        with _collector_paused():
            self.recorder.start(self.parameters, resumed_from=None if self.resume is None else self.resume.run.run_id,
                                approved=self.info.approved, executor=self.executor_description)
        flow_handlers = handlers_of(self.flow)
        flow_frame = Frame(self.info, -1, None, None, frozenset(), None, None)
        if flow_handlers:
            try:
                with in_frame(flow_frame):
                    scheduled = states.Scheduled(start_time=self.info.scheduled_start_time)  # as in Prefect 1
                    started = call_handlers(self.flow, flow_handlers, scheduled, states.Running("Running flow."))
            except TaskRaised as stop:  # raise_on_exception
                started = self._stopped(stop)
            if started.is_finished():
                return self._finish(started)
        # (records at INFO and above are kept; below too when the task loggers were set
        # lower, by the application or `ferroflow run --log-level debug`)
        kept = min(logging.INFO, logging.getLogger(TASK_LOGGER).getEffectiveLevel())
        logs = self.logs = RunLogHandler(self.info, kept)
        logger = logging.getLogger("ferroflow")
        logger.addHandler(logs)
        self.record.logs = logs.entries
        try:
            self.executor.start()
            try:
                self._loop()
            except SlotWaitInterrupted as exc:  # a task run waiting for a slot saw the run stop
                raise exc.error from None
            finally:
                stop_waiting(self.task_slots)
                self._shutdown_executor()
                release_all(self.task_slots, self.info.flow_run_id)
                logger.removeHandler(logs)
            state = self._final_state() if self.raised is None else self._stopped(self.raised)
        except TaskRaised as stop:  # raise_on_exception, from a trigger or handler the engine called
            state = self._stopped(stop)
        except KeyboardInterrupt:
            self.core.cancel()
            state = states.Cancelled(self.record.cancel_message, TaskStates(self.record))
        except RunCancelledError as exc:
            # Cancelled through the server (`ferroflow cancel`): stopped as a Ctrl-C
            # stops it, and recorded (the run still holds its lease). A task running in
            # the executor is not interrupted: the run ends once it returns.
            self.core.cancel()
            self.record.cancel_message = CANCELLED_THROUGH_SERVER
            state = states.Cancelled(f"Run {exc.run_id} was cancelled through the server: it stopped before "
                                     f"its next task runs.", TaskStates(self.record))
        except RunLostError as exc:
            # Reaped or resumed by another process while this one was silent: stop
            # before anything more runs twice (nothing more of the run is recorded).
            self.core.cancel()
            self.record.cancel_message = f"Cancelled: {exc}"
            state = states.Cancelled(str(exc), TaskStates(self.record))
        except Exception as exc:
            self.core.cancel()
            self.record.cancel_message = "Cancelled: the engine stopped after an unexpected error."
            state = states.Failed(
                f"Unexpected error while running flow: {exc!r}",
                exc,
                traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
            )
            state.task_states = TaskStates(self.record)  # type: ignore[attr-defined]
        if flow_handlers and self.raised is None:
            try:
                with in_frame(flow_frame):
                    state = call_handlers(self.flow, flow_handlers, states.Running("Running flow."), state)
            except TaskRaised as stop:  # raise_on_exception
                state = self._stopped(stop)
        return self._finish(state)

    def _finish(self, state: states.State) -> states.State:
        """Record the run's final ``state`` and return it; under raise_on_exception,
        once the run is recorded, raise its first error instead."""
        if self.resume is not None:
            self.resume.unread.finish()
        state.flow_run_id = self.info.flow_run_id  # type: ignore[attr-defined]
        state.executor = self.executor_description  # type: ignore[attr-defined]
        self.recorder.finish(state, self.logs)
        state.recorded = self.recorder.recorded  # type: ignore[attr-defined]
        if self.progress is not None:
            self._snapshot()
            self.progress.finish(state)
        if self.raised is not None:
            raise self.raised.error
        return state

    def _stopped(self, stop: TaskRaised) -> states.State:
        """End the run at its first error (raise_on_exception): the task run that
        raised is recorded with it (when the core was not told yet), every task run
        not finished is cancelled, and the run's state is ``Failed`` with the error."""
        self.raised = stop
        if not stop.reported and stop.task_id is not None:
            stop.reported = True
            index = TASK_LEVEL if stop.index is None else stop.index
            self._store(stop.task_id, index, stop.error, stop.detail)
            report = ((stop.task_id, None, stop.code) if stop.index is None
                      else (stop.task_id, [stop.index], bytes([stop.code])))
            self.core.report([report], self.now_ms(up=True))
            self.recorder.report([report], self.logs)
        self.record.cancel_message = "Cancelled: the run stopped at the first error (raise_on_exception)."
        self.core.cancel()
        state = states.Failed(f"The run stopped at the first error (raise_on_exception): {stop.detail[0]}",
                              stop.error, traceback=stop.detail[1])
        state.task_states = TaskStates(self.record)  # type: ignore[attr-defined]
        return state

    def _shutdown_executor(self) -> None:
        """``executor.shutdown()``; one that raises breaks its contract, but the run's
        tasks are done by then: a warning names the executor and the run keeps its state."""
        try:
            self.executor.shutdown()
        except Exception as exc:
            warn_broken("executors", self.executor, f"shutdown() must release its resources "
                                                    f"without raising; it raised {one_line(exc)}")

    def _loop(self) -> None:
        core = self.core
        executor = self.executor
        slots = self.slots = check_slots(executor)
        window = WINDOW_PER_SLOT * slots
        max_units = UNITS_PER_SLOT * slots
        backlog = self.backlog
        plain = self.plain
        batching = self.batches and self.resume is None  # (resumed runs: task by task, see _resumed)
        submitted: dict = {}  # id -> unit, of the units handed to the executor and not back
        # The clock the core is asked with at least (a retry due at once), and the time
        # stamped on the last report with the earliest timer before it.
        at_once = reported_ms = 0
        before: int | None = None
        gathered: list = []  # ready runs of plain tasks, not in a batch yet
        # An executor that runs units in place: the engine runs plain task runs itself.
        inline = batching and bool(plain) and getattr(executor, "runs_inline", False)
        if inline:
            core.mark_inline(list(plain))
        while True:
            self.recorder.check()  # still this process's run to go on with?
            if inline and not (self.in_flight or backlog or gathered or self.direct):
                ran = self._run_inline(max(self.now_ms(), at_once))
                at_once = 0  # (a retry due by then is ready again)
                if ran:
                    self._progress()
                    continue
            room = window - self.runs_in_flight
            # Take ready runs in big batches (a trickle of small ones would be sliced
            # into small units): at least a quarter window, or whatever is there when
            # a slot is idle and nothing waits to be sliced. None once a run raised
            # (raise_on_exception): the run stops at its report.
            take = self.raised is None and (room >= window // 4
                                            or (room > 0 and not backlog and self.in_flight < slots))
            items = []
            if take:
                items = core.next_batch(room, max(self.now_ms(), at_once))
                at_once = 0
            for task_id, kind, indices, code in items:
                if kind == PREPARE:
                    self._prepare(task_id)
                elif kind == DECIDED:
                    self._confirm(task_id, indices, code)
                elif indices is None and batching and task_id in plain:
                    self.runs_in_flight += 1
                    gathered.append(task_id)
                else:
                    if gathered:  # the runs keep the core's order
                        backlog.append(self._batches(gathered))
                        gathered = []
                    self.runs_in_flight += 1 if indices is None else len(indices)
                    backlog.append(self._units(task_id, indices))
            # Ready runs of plain tasks gather while every slot is busy, so that a slot
            # that frees up gets one batch of what became ready meanwhile, not a batch
            # per report (a round trip each, on executors in other processes).
            if gathered and (self.in_flight < slots or len(gathered) >= UNIT_SIZE):
                backlog.append(self._batches(gathered))
                gathered = []
            while backlog and self.in_flight < max_units:
                unit = next(backlog[0], None)
                if unit is None:
                    backlog.popleft()
                else:
                    submitted[id(unit)] = unit
                    executor.submit(unit)
                    self.in_flight += 1
            reports = self.direct
            self.direct = []
            if self.in_flight:
                for unit, result in checked_wait(executor, UnitResult):
                    if submitted.pop(id(unit), None) is not unit:
                        # A late or duplicate result (a recomputed future, say): the
                        # unit's outcome was recorded once already and stands.
                        log.warning("ignored a second result for a unit of task %r from executor %r",
                                    unit.label, getattr(executor, "name", executor))
                        continue
                    self.in_flight -= 1
                    self.runs_in_flight -= unit.size
                    if type(unit) is TaskRuns:
                        reports.extend(self._absorb_runs(unit, result))
                    else:
                        self._time(unit, result)
                        reports.append(self._absorb(unit, result))
                    if result.raised is not None and self.raised is None:
                        self.raised = _raised_in(unit, result)
            if reports:
                before = core.next_timer()
                reported_ms = self.now_ms(up=True)
                core.report(reports, reported_ms)
                self.recorder.report(reports, self.logs)
                if self.releaser is not None:
                    self.releaser.consumed(reports)
                if self.raised is not None:
                    return  # raise_on_exception: the run stops at its first error
            elif not items and not self.in_flight:  # (else: wait for the units out)
                if core.is_complete():
                    return
                due = core.next_timer()
                if due is None:
                    if self._paused():
                        return  # the rest waits for approval: the run ends Paused
                    raise EngineError(self._stall_message())
                if due == reported_ms and (before is None or before > reported_ms):
                    # Armed by the last report at its own time: a retry with no delay
                    # (or a RETRY signal), due at once. (Reports are stamped rounded up,
                    # so waiting for the clock to reach it would cost up to 1 ms.)
                    at_once = due
                    continue
                time.sleep(max(0.0, (due - self.now_ms()) / 1000))
            self._progress()

    def _run_inline(self, now_ms: int) -> bool:
        """Run the plain task runs the core hands out one by one (see
        :meth:`_inline_runner`) while they come first, retries due at ``now_ms``
        included; whether any ran. Successes are recorded here; the run that ended
        otherwise goes with the next reports."""
        if self._inline_run is None:
            self._inline_run = self._inline_runner()
        token = CURRENT_FRAME.set(self.inline_frame)
        try:
            succeeded, last = self.core.run_inline(self._inline_run, INLINE_RUNS, INLINE_MS, now_ms)
        finally:
            CURRENT_FRAME.reset(token)
        if last is not None:
            self.direct.append((last[0], None, last[1]))
        if succeeded:
            reports = [(task_id, None, _core.SUCCESS) for task_id in succeeded]
            self.recorder.report(reports, self.logs)
            if self.releaser is not None:
                self.releaser.consumed(reports)
        return bool(succeeded) or last is not None

    def _inline_runner(self) -> Any:
        """``run(task_id, run_count) -> code``: run one run of a plain task in the
        engine's thread and the inline frame (its ``run_count``-th), doing what a
        :class:`TaskRuns` batch and :meth:`_absorb_runs` do for each of their runs."""
        record, recorder, frame, rerunnable = self.record, self.recorder, self.inline_frame, self.rerunnable
        values, details, run_counts = record.values, record.details, self.inline_counts
        plans = {task_id: (plan, *self.plain_args[task_id]) for task_id, plan in self.plain.items()}
        failed: dict = {}  # the details of the run that just failed (run_plain's)

        def run(task_id: int, run_count: int) -> int:
            plan, args, given = plans[task_id]
            kwargs = dict(given) if given else {}
            for key, up in args:
                value = values[up]
                kwargs[key] = record.value(up) if value is None else value
            frame.task_id, frame.task_name, frame.task_slug, frame.task_tags = (task_id, plan.name, plan.slug,
                                                                                plan.tags)
            run_counts[0] = run_count
            if frame.looped:  # (what an earlier run's loop left is not this run's)
                frame.looped = {}
            try:
                code, values[task_id] = run_plain(plan, kwargs, failed, 0)
            except TaskRaised as stop:  # raise_on_exception: the run stops here
                code, values[task_id], failed[0] = stop.code, stop.error, stop.detail
                self.raised = TaskRaised(stop.error, stop.detail, stop.code, task_id, None, reported=True)
            if rerunnable[task_id]:
                details.pop((task_id, TASK_LEVEL), None)
            if failed:
                detail = details[(task_id, TASK_LEVEL)] = failed.pop(0)
                recorder.note(task_id, TASK_LEVEL, detail[0], traceback=detail[1])
                rerunnable[task_id] = True  # a RETRY signal may run it again
            return code

        return run

    def _progress(self) -> None:
        if self.progress is not None and time.monotonic() - self._last_progress >= PROGRESS_EVERY:
            self._snapshot()

    def _snapshot(self) -> None:
        self._last_progress = time.monotonic()
        names = _core.STATE_NAMES
        tallies = self.core.tallies()
        snapshot = []
        for i in self.frozen.graph.order():
            counts = {names[c]: n for c, n in enumerate(tallies[i]) if n}
            snapshot.append((self.frozen.tasks[i].name, counts))
        self.progress.update(snapshot)

    def _stall_message(self) -> str:
        stuck = [t.name for i, t in enumerate(self.frozen.tasks) if not self.core.task_state(i) >= _core.SUCCESS]
        return f"the run cannot make progress; unfinished tasks: {', '.join(stuck[:10])}"

    def _paused(self) -> list:
        """Names of the tasks with a paused task run."""
        tallies = self.core.tallies()
        return [t.name for i, t in enumerate(self.frozen.tasks) if tallies[i][_core.PAUSED]]

    def _final_state(self) -> states.State:
        paused = self._paused()
        if paused:
            names = ", ".join(repr(n) for n in paused)
            return states.Paused(
                f"Flow run paused: {names} wait(s) for approval. Resume with "
                f"flow.run(resume={self.info.flow_run_id!r}, approve=[{names}]) or "
                f"`ferroflow run FILE --resume {self.info.flow_run_id[:12]} --approve NAME`.",
                TaskStates(self.record),
            )
        index = self.frozen.index
        reference = [index[t] for t in self.flow.reference_tasks()]
        cls, message = _VERDICTS[self.core.verdict(reference)]
        task_states = TaskStates(self.record)
        state = cls(message, task_states)
        terminal = getattr(self.flow, "terminal_state_handler", None)
        if terminal is not None:
            # Prefect 1's hook: may replace the final state, given the reference states.
            replaced = terminal(self.flow, state, {task_states[t] for t in self.flow.reference_tasks()})
            if replaced is not None:
                state = replaced
        return state

    # ----- building work ------------------------------------------------------------

    def _prepare(self, task_id: int) -> None:
        try:
            plan, width_hint, flat, failure = inputs.prepare(self.record, task_id)
        except Exception as exc:  # a user's value whose len() or iteration raised
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            self.record.values[task_id] = exc
            self.record.details[(task_id, TASK_LEVEL)] = (f"Could not measure the inputs to map over: {exc!r}", text)
            self.core.prepared(task_id, None, [], _core.FAILED)
            return
        if failure is not None:
            self.record.details[(task_id, TASK_LEVEL)] = (failure, None)
            self.core.prepared(task_id, None, [], _core.FAILED)
            return
        if plan is not None:
            self.plans[task_id] = plan
        self.core.prepared(task_id, width_hint, flat, None)

    def _batches(self, task_ids: list):
        """Batches (:class:`TaskRuns`) of the ready runs of the plain tasks
        ``task_ids``, shared evenly among the executor's slots, their arguments read
        when each batch is made."""
        size = max(1, min(UNIT_SIZE, -(-len(task_ids) // self.slots)))
        values, record, core = self.record.values, self.record, self.core
        args_of, rerunnable = self.plain_args, self.rerunnable
        for start in range(0, len(task_ids), size):
            chunk = task_ids[start:start + size]
            all_kwargs = []
            counts = bytearray(b"\x01") * len(chunk)
            for j, task_id in enumerate(chunk):
                args, given = args_of[task_id]
                kwargs = dict(given) if given else {}
                for key, up in args:
                    value = values[up]
                    # None may stand for a value built on demand (a trigger failure)
                    kwargs[key] = record.value(up) if value is None else value
                all_kwargs.append(kwargs)
                if rerunnable[task_id]:
                    counts[j] = max(1, core.task_run_count(task_id))
            yield TaskRuns(self.info, self.plain, chunk, all_kwargs, bytes(counts))

    def _absorb_runs(self, batch: TaskRuns, result: UnitResult) -> list:
        """Keep the values and details of a batch's runs; the reports for the core."""
        task_ids, codes = batch.task_ids, result.codes
        values = self.record.values
        for task_id, value in zip(task_ids, result.values, strict=True):
            values[task_id] = value
        rerunnable = self.rerunnable
        if any(rerunnable[t] for t in task_ids):
            details = self.record.details
            for task_id in task_ids:
                if rerunnable[task_id]:
                    details.pop((task_id, TASK_LEVEL), None)
        for j, detail in result.details.items():
            task_id = task_ids[j]
            self.record.details[(task_id, TASK_LEVEL)] = detail
            self.recorder.note(task_id, TASK_LEVEL, detail[0], traceback=detail[1])
            rerunnable[task_id] = True  # a RETRY signal may run it again
        return [(task_id, None, code) for task_id, code in zip(task_ids, codes, strict=True)]

    def _units(self, task_id: int, indices: Any):
        task = self.frozen.tasks[task_id]
        if indices is None:
            yield from self._single(task_id, task)
            return
        plan = self.plans.get(task_id)
        if plan is None:
            plan = self.plans[task_id] = inputs.prepare(self.record, task_id)[0]
        if self.resume is not None:
            indices = self._resumed(task_id, indices)
            if not indices:
                return
        if self.custom_trigger[task_id]:
            passed = [i for i in indices if self._custom_trigger_passes(task_id, i)]
            self.runs_in_flight -= len(indices) - len(passed)
            indices = passed
            if not indices:
                return
        label = task.name
        retry_on = tuple(task.retry_on or ())
        start, n = 0, len(indices)
        slots = self.slots
        every = None  # the task's run counts, fetched once (the batch's own do not change)
        while start < n:
            size = self.unit_size[task_id]
            if slots == 1:
                if not self.timed[task_id]:
                    self.unit_size[task_id] = min(UNIT_SIZE, 2 * size)
            else:
                # Parallel slots: no growth before a unit was timed (a dozen units are
                # sliced before the first returns), and the batch split evenly enough
                # that every slot gets a share.
                size = max(1, min(size, -(-n // slots)))
            chunk = indices[start:start + size]
            start += size
            if type(chunk) is range:
                counts = self.core.child_run_counts(task_id, chunk.start, chunk.stop)
            else:
                if every is None:
                    every = self.core.child_run_counts(task_id)
                counts = bytes(every[i] for i in chunk)
            yield WorkUnit(
                task_id=task_id,
                label=label,
                fn=task.run,
                indices=chunk,
                size=len(chunk),
                static=plan.static,
                mapped_keys=plan.keys,
                columns=tuple(inputs.column_slice(s, chunk) for s in plan.sources),
                retry_on=retry_on,
                retry_condition=task.retry_condition,
                frame=self._frame(task_id, task, chunk, counts),
                log_stdout=task.log_stdout,
                timeout=task.timeout,
                handlers=self.handlers[task_id],
                owner=task,
                checkpoint=self.checkpoints[task_id],
                retried_from=self._retried_from(task_id, chunk),
                slots=self.task_slots.get(task_id),
            )

    def _single(self, task_id: int, task: Any):
        if isinstance(task, Parameter):
            self._known(task_id, self.parameters.get(task.name, getattr(task, "default", None)))
            return
        if self.resume is not None and self._resumed(task_id, None) == []:
            return
        if self.custom_trigger[task_id] and not self._custom_trigger_passes(task_id, TASK_LEVEL):
            self.runs_in_flight -= 1
            return
        yield WorkUnit(
            task_id=task_id,
            label=task.name,
            fn=task.run,
            indices=None,
            size=1,
            static=inputs.whole_kwargs(self.record, task_id),
            retry_on=tuple(task.retry_on or ()),
            retry_condition=task.retry_condition,
            frame=self._frame(task_id, task, None, bytes([self.core.task_run_count(task_id)])),
            log_stdout=task.log_stdout,
            timeout=task.timeout,
            handlers=self.handlers[task_id],
            owner=task,
            checkpoint=self.checkpoints[task_id],
            retried_from=self._retried_from(task_id, None),
            slots=self.task_slots.get(task_id),
        )

    def _retried_from(self, task_id: int, indices: Any) -> dict | None:
        """``WorkUnit.retried_from`` of a unit of ``task_id`` running ``indices``
        (None: the task itself), taken out of :attr:`retried`."""
        retried = self.retried.get(task_id)
        if not retried:
            return None
        if indices is None:
            message = retried.pop(TASK_LEVEL, None)
            return None if message is None else {0: message}
        found = {j: retried.pop(i) for j, i in enumerate(indices) if i in retried}
        return found or None

    def _constant(self, task_id: int, value: Any) -> None:
        """Give a constant task its value and Prefect's ``Success`` with no message (the
        core made it successful from the start: it is never handed out)."""
        self.record.values[task_id] = value
        self.record.details[(task_id, TASK_LEVEL)] = (None, None)

    def _given(self, task_id: int, state: states.State) -> None:
        """Give a task decided from the start with a state given to ``flow.run`` (the
        core holds its code) that state's result, message, traceback and location."""
        self.record.values[task_id] = state.result
        self.record.details[(task_id, TASK_LEVEL)] = (state.message, state.traceback)
        if state.location is not None:
            self.record.locations[(task_id, TASK_LEVEL)] = state.location

    def _known(self, task_id: int, value: Any) -> None:
        """Report a task whose value the engine already has (a parameter)."""
        self.record.values[task_id] = value
        self.direct.append((task_id, None, _core.SUCCESS))
        self.runs_in_flight -= 1

    def _frame(self, task_id: int, task: Any, indices: Any, run_counts: bytes) -> Frame:
        slug = self.flow.slugs.get(task) if hasattr(self.flow, "slugs") else task.slug
        return Frame(self.info, task_id, task.name, slug, frozenset(task.tags), indices, run_counts,
                     task.task_run_name)

    def _confirm(self, task_id: int, indices: Any, code: int | None) -> None:
        """Pass a state the core decided for an observed task through its handlers
        and report what they leave (for a proposed Mapped: MAPPED makes the children,
        another state ends the task without any)."""
        assert code is not None  # a decided item carries its code
        record = self.record
        for index in (TASK_LEVEL,) if indices is None else indices:
            proposed = state_of(code, record.result(task_id, index, code) if code == _core.TRIGGER_FAILED else None,
                                None, record.message(task_id, index, code, 1), 1)
            outcome, value, detail = self._observed(task_id, index, proposed)
            self._store(task_id, index, value, detail)
            if index == TASK_LEVEL:
                self.direct.append((task_id, None, outcome))
            else:
                self.direct.append((task_id, [index], bytes([outcome])))

    def _observed(self, task_id: int, index: int, proposed: states.State) -> tuple:
        """``(code, value, detail)`` of a task run the engine ends without running it,
        once the task's handlers saw ``Pending -> proposed``."""
        task = self.frozen.tasks[task_id]
        frame = self._frame(task_id, task, None if index == TASK_LEVEL else (index,), b"\x01")
        with in_frame(frame):
            final = call_handlers(task, self.handlers[task_id], states.Pending(), proposed)
        if not isinstance(proposed, states.Mapped):
            return outcome_of(final)
        if isinstance(final, states.Mapped):
            return _core.MAPPED, None, None
        code, value, detail = outcome_of(final)
        if code in (_core.RETRYING, _core.PAUSED):
            name = type(final).__name__
            return _core.FAILED, None, (f"A state handler returned {name}, which cannot end a mapped task", None)
        return code, value, detail

    def _custom_trigger_passes(self, task_id: int, index: int) -> bool:
        """Call a user's trigger; record the outcome when it does not pass (through the
        task's state handlers: ``Pending -> TriggerFailed``, or the state of a signal
        the trigger raised)."""
        task = self.frozen.tasks[task_id]
        upstream = self._upstream_states(task_id, index)
        frame = self._frame(task_id, task, None if index == TASK_LEVEL else (index,), b"\x01")
        code: int
        value: Any
        detail: tuple
        try:
            with in_frame(frame):  # context.resume, for manual_only
                passes = task.trigger(upstream)
            if passes:
                return True
            code, value, detail = _core.TRIGGER_FAILED, signals.TRIGGERFAIL("Trigger failed"), ("Trigger failed", None)
        except signals.FerroflowSignal as sig:
            # A signal raised by a trigger gives its own state (never retried: the task
            # did not run).
            code = SIGNAL_CODES.get(sig.state_name, _core.TRIGGER_FAILED)
            value, detail = sig.result, (sig.message, None)
        except Exception as exc:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            detail = (f"Unexpected error while checking task trigger: {exc!r}", text)
            code, value = _core.TRIGGER_FAILED, exc
            if self.info.raise_on_exception:  # the run stops here
                raise TaskRaised(exc, detail, code, task_id, None if index == TASK_LEVEL else index) from None
        if self.handlers[task_id]:  # as in Prefect 1, the handlers see what the trigger decided
            code, value, detail = self._observed(task_id, index, state_of(code, value, detail, None, 1))
        self._store(task_id, index, value, detail)
        if index == TASK_LEVEL:
            self.direct.append((task_id, None, code))
        else:
            self.direct.append((task_id, [index], bytes([code])))
        return False

    def _upstream_states(self, task_id: int, index: int) -> dict:
        """The ``{Edge: State}`` a custom trigger receives (Prefect 1's shape)."""
        from ferroflow.core.collections import Constant
        from ferroflow.core.edge import Edge

        record = self.record
        frozen = self.frozen
        task = frozen.tasks[task_id]
        result: dict = {}
        for edge in frozen.in_edges[task_id]:
            up = frozen.index[edge.upstream_task]
            if edge.mapped and index != TASK_LEVEL:
                if self.core.task_state(up) == _core.MAPPED and not edge.flattened:
                    result[edge] = record.state(up, index)
                else:
                    parent = record.state(up)
                    result[edge] = type(parent)(parent.message, _element(parent.result, index))
            else:
                result[edge] = record.state(up)
        for key, value in frozen.flow.constants.get(task, {}).items():
            result[Edge(Constant(value), task, key=key)] = states.Success("Auto-generated constant value", value)
        return result

    # ----- absorbing results ----------------------------------------------------------

    def _store(self, task_id: int, index: int, value: Any, detail: Any) -> None:
        if index == TASK_LEVEL:
            self.record.values[task_id] = value
        else:
            self.record.child_values(task_id)[index] = value
        if detail is not None:
            self.record.details[(task_id, index)] = detail
            self.recorder.note(task_id, index, detail[0], traceback=detail[1])

    def _resumed(self, task_id: int, indices: Any) -> Any:
        """Report the task runs the resumed run finished with their checkpointed
        values; return the indices left to run (``[]``: none; None: the task itself)."""
        assert self.resume is not None  # (called only when resuming)
        done, values, locations, left = self.resume.take(task_id, indices, self.frozen.tasks[task_id].name)
        if not done:
            return left
        for index, value, location in zip(done, values, locations, strict=True):
            self._store(task_id, TASK_LEVEL if index is None else index, value, None)
            self._located(task_id, TASK_LEVEL if index is None else index, location)
        self.runs_in_flight -= len(done)
        if indices is None:
            self.direct.append((task_id, None, _core.SUCCESS))
        else:
            self.direct.append((task_id, done, bytes([_core.SUCCESS]) * len(done)))
        return left

    def _located(self, task_id: int, index: int, location: str) -> None:
        """Keep where a task run's result was checkpointed (and record it)."""
        self.record.locations[(task_id, index)] = location
        detail = self.record.details.get((task_id, index))
        if detail is None:
            self.recorder.note(task_id, index, None, location)
        else:
            self.recorder.note(task_id, index, detail[0], location, detail[1])

    def _time(self, unit: WorkUnit, result: UnitResult) -> None:
        """Size the next units of a mapped task to take about ``UNIT_SECONDS`` each,
        from how long this one took per child."""
        if unit.indices is None or not result.elapsed:
            return
        task_id = unit.task_id
        per_run = result.elapsed / unit.size
        self.unit_size[task_id] = max(1, min(UNIT_SIZE, int(UNIT_SECONDS / per_run) if per_run else UNIT_SIZE))
        self.timed[task_id] = True

    def _absorb(self, unit: WorkUnit, result: UnitResult) -> tuple:
        task_id = unit.task_id
        details = self.record.details
        if unit.indices is None:
            self.record.values[task_id] = result.values[0]
            if self.rerunnable[task_id]:
                details.pop((task_id, TASK_LEVEL), None)
            detail = result.details.get(0)
            if detail is not None:
                details[(task_id, TASK_LEVEL)] = detail
                self.recorder.note(task_id, TASK_LEVEL, detail[0], traceback=detail[1])
                self.rerunnable[task_id] = True  # a RETRY signal may run it again
                if result.codes[0] == _core.RETRYING and self.handlers[task_id]:
                    self.retried.setdefault(task_id, {})[TASK_LEVEL] = detail[0]
            if result.locations is not None and result.locations[0] is not None:
                self._located(task_id, TASK_LEVEL, result.locations[0])
            return (task_id, None, result.codes[0])
        indices = unit.indices
        values = self.record.child_values(task_id)
        if type(indices) is range:
            values[indices.start:indices.stop] = result.values
        else:
            for j, i in enumerate(indices):
                values[i] = result.values[j]
        if self.rerunnable[task_id]:
            for i in indices:
                details.pop((task_id, i), None)
        note = self.recorder.note
        observed = bool(self.handlers[task_id])
        for j, detail in result.details.items():
            details[(task_id, indices[j])] = detail
            note(task_id, indices[j], detail[0], traceback=detail[1])
            if observed and result.codes[j] == _core.RETRYING:
                self.retried.setdefault(task_id, {})[indices[j]] = detail[0]
        if result.details:
            self.rerunnable[task_id] = True  # a RETRY signal may run some again
        if result.locations is not None:
            for j, location in enumerate(result.locations):
                if location is not None:
                    self._located(task_id, indices[j], location)
        return (task_id, indices, bytes(result.codes))


def _raised_in(unit: WorkUnit | TaskRuns, result: UnitResult) -> TaskRaised:
    """The first error of the run (raise_on_exception) that ``unit``'s ``result``
    stopped at, already reported with the unit's result."""
    j = result.raised
    assert j is not None
    if type(unit) is TaskRuns:
        return TaskRaised(result.values[j], result.details[j], result.codes[j], unit.task_ids[j], None,
                          reported=True)
    return TaskRaised(result.values[j], result.details[j], result.codes[j], unit.task_id,
                      None if unit.indices is None else unit.indices[j], reported=True)


_NO_TAGS: frozenset = frozenset()


def _profile_of(task: Any, flow: Any, may_map: bool) -> tuple:
    """What follows from ``task``'s options alone (see ``_profile_tasks``):
    ``(constant, custom trigger, may retry, keeps nothing, may be batched)``, the last
    None for a parameter. Keeping nothing (no result, target or cache) is the same for
    every slug; a task that may be batched still needs no handlers and whole arguments
    from unmapped tasks."""
    if isinstance(task, Constant):
        return True, False, False, True, False
    custom = not hasattr(task.trigger, "_ff_spec")
    may_batch = None if isinstance(task, Parameter) else not (
        custom or may_map or task.timeout is not None or task.log_stdout or task.retry_condition is not None
        or task.task_run_name is not None)
    return False, custom, bool(task.max_retries), keeps_nothing(task, flow), may_batch


def _element(value: Any, index: int) -> Any:
    try:
        return value[index]
    except Exception:
        return None
