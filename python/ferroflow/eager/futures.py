"""Futures in eager flows: ``task.submit()``, ``task.map()``, :func:`wait` and
:class:`allow_failure` (Prefect 3's names and behaviour).

``task.submit(...)`` hands one call to the flow's executor (``@flow(executor=...)``,
or ``task_runner=``; the ``threads`` executor by default) as a work unit of one task
run, the same unit an inline call runs (``EagerRun.unit_of``), and returns a
:class:`TaskFuture` at once. ``task.map(...)`` reserves one call number per element in
the run's ledger and hands the children over as units of many children each (the
deferred engine's sizes): a :class:`MappedFutures` sequence gives a future for child
``k`` only when asked for it, so a million children are a million values and a
million state bytes, not a million Python objects.

Who drives the executor: the flow's own thread. Work is handed to the executor as it
is submitted (it runs there concurrently); outcomes are collected (booked in the
ledger, recorded, retried, their hooks called, calls waiting for them started) when
the flow's thread waits for a future (``result()``, ``wait()``, a future passed to a
call) and when the flow function ends: every submitted call is waited for then, as
Prefect 3 does. A ``timeout=`` hands the executor's blocking ``wait()`` to a helper
thread for as long as it blocks (submissions meanwhile are handed over as soon as it
returns), so that the flow's thread gets control back on time. Ctrl-C shuts the
executor down without waiting for running work; calls not ended are recorded
``Cancelled``.

A call whose upstream future (an argument, or ``wait_for=``) did not complete does
not run: its state is ``Pending`` named ``NotReady`` (Prefect 3's), recorded as
``TriggerFailed``; wrap the future in :class:`allow_failure` to run it anyway (the
argument is then the upstream's exception).
"""

from __future__ import annotations

import contextvars
import heapq
import itertools
import queue
import threading
import time
import uuid
from collections import namedtuple
from collections.abc import Iterable, Iterator
from typing import Any

from ferroflow import _core
from ferroflow.eager import states as eager_states
from ferroflow.runtime.context import CURRENT_EAGER_RUN

__all__ = ["TaskFuture", "MappedFutures", "DoneAndNotDoneFutures", "Dispatch", "allow_failure", "wait"]

_OK = (_core.SUCCESS, _core.CACHED, _core.SKIPPED)
_PENDING = _core.PENDING
#: The namespace of the task run ids futures show (a UUID per call, as Prefect's).
_IDS = uuid.UUID("5f2c4a8e-7d1b-4c3e-9a6f-0b8d2e1c7f43")

DoneAndNotDoneFutures = namedtuple("DoneAndNotDoneFutures", ["done", "not_done"])
DoneAndNotDoneFutures.__doc__ = "What :func:`wait` returns: the futures that ended and those that did not (sets)."


class allow_failure:
    """Run a call even if this upstream future fails (``wait_for=[allow_failure(f)]``,
    or an argument: the call then gets the upstream's exception as its value)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value
        run = CURRENT_EAGER_RUN.get()
        if run is not None:
            run.scan = True  # calls now unwrap it

    def unwrap(self) -> Any:
        return self.value

    def __repr__(self) -> str:
        return f"allow_failure({self.value!r})"


# ----- futures ---------------------------------------------------------------------------


class _Call:
    """One submitted call: its inputs until it starts, then its state once it ended."""

    __slots__ = ("slot", "index", "inputs", "after", "context", "state", "started", "runs", "retried_from",
                 "upstreams")

    def __init__(self, slot: Any, index: int, inputs: dict, after: list, context: contextvars.Context):
        self.slot = slot
        self.index = index
        self.inputs: dict | None = inputs
        self.after = after
        self.context = context
        self.state: Any = None
        self.started = False
        self.runs = 1
        self.retried_from: dict | None = None

    def done(self) -> bool:
        return self.state is not None


class _Batch:
    """The children of one ``task.map``: calls ``first .. first + n`` of a task, one
    state byte and one value each (their futures are made when asked for)."""

    __slots__ = ("slot", "first", "n", "arguments", "after", "context", "codes", "values", "messages", "states",
                 "left", "started", "upstreams")

    def __init__(self, slot: Any, first: int, n: int, arguments: dict, after: list,
                 context: contextvars.Context):
        self.slot = slot
        self.first = first
        self.n = n
        self.arguments: dict | None = arguments
        self.after = after
        self.context = context
        self.codes = bytearray([_PENDING]) * n
        self.values: list = [None] * n
        self.messages: dict = {}  # position -> message (calls that did not simply succeed)
        self.states: dict = {}  # position -> the state a child returned, or that it ended in
        self.left = n
        self.started = False

    def done(self) -> bool:
        return self.left == 0

    def all_ok(self) -> bool:
        codes = self.codes
        return sum(codes.count(c) for c in _OK) == self.n

    def state_at(self, k: int) -> Any:
        state = self.states.get(k)
        if state is not None:
            return state
        code = self.codes[k]
        if code in (_PENDING, _core.RETRYING):
            return eager_states.Running() if self.started else eager_states.Pending()
        value = self.values[k]
        message = self.messages.get(k)
        if code == _core.TIMED_OUT or (code in _FAILED and not isinstance(value, BaseException)):
            from ferroflow.errors import FailedRun, TaskRunTimeoutError

            value = (TaskRunTimeoutError if code == _core.TIMED_OUT else FailedRun)(
                message or f"Task run ended in state {_core.STATE_NAMES[code]}.")
        return eager_states.of_code(code, message, value)


_FAILED = frozenset({_core.FAILED, _core.TIMED_OUT})


class TaskFuture:
    """A call running on the flow's executor (``task.submit()``, or child ``k`` of a
    ``task.map()``).

    ``result(timeout=None, raise_on_failure=True)`` waits for its value (raises its
    exception when it failed), ``wait(timeout=None)`` for its end, ``state`` is its state
    now (``Pending``/``Running`` until it ends), ``task_run_id`` names the call.
    """

    __slots__ = ("_dispatch", "_call", "_batch", "_k")

    def __init__(self, dispatch: Dispatch, call: _Call | None, batch: _Batch | None = None, k: int = 0):
        self._dispatch = dispatch
        self._call = call
        self._batch = batch
        self._k = k

    def _key(self) -> tuple:
        if self._call is not None:
            return (self._call.slot.task_id, self._call.index)
        assert self._batch is not None
        return (self._batch.slot.task_id, self._batch.first + self._k)

    def __eq__(self, other: object) -> bool:
        return type(other) is TaskFuture and other._dispatch is self._dispatch and other._key() == self._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"TaskFuture({self.task_name!r}, state={self.state.name})"

    @property
    def task_name(self) -> str:
        slot = self._call.slot if self._call is not None else self._batch.slot  # type: ignore[union-attr]
        return slot.name

    @property
    def task_run_id(self) -> uuid.UUID:
        """The call's id: a UUID made of the flow run's id, the task and the call number."""
        task_id, index = self._key()
        return uuid.uuid5(_IDS, f"{self._dispatch.run.info.flow_run_id}:{task_id}:{index}")

    def done(self) -> bool:
        call = self._call
        if call is not None:
            return call.state is not None
        batch = self._batch
        assert batch is not None
        return batch.codes[self._k] not in (_PENDING, _core.RETRYING) or self._k in batch.states

    @property
    def state(self) -> Any:
        call = self._call
        if call is not None:
            if call.state is not None:
                return call.state
            return eager_states.Running() if call.started else eager_states.Pending()
        assert self._batch is not None
        return self._batch.state_at(self._k)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the call to end (at most ``timeout`` seconds)."""
        self._dispatch.pump(self.done, timeout)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> Any:
        """The call's value once it ended; its exception raised when it failed (returned
        with ``raise_on_failure=False``). ``TimeoutError`` after ``timeout`` seconds."""
        if not self._dispatch.pump(self.done, timeout):
            raise TimeoutError(f"Task run {self.task_name!r} did not end within {timeout} second(s)")
        return self.state.result(raise_on_failure=raise_on_failure)


class MappedFutures:
    """The futures of a ``task.map()``'s children, one per element, made when asked for:
    ``len()``, indexing, iteration, ``result()`` (every value, in order; raises the
    first failure's exception) and ``wait()``."""

    __slots__ = ("_dispatch", "_batch")

    def __init__(self, dispatch: Dispatch, batch: _Batch):
        self._dispatch = dispatch
        self._batch = batch

    def __len__(self) -> int:
        return self._batch.n

    def __getitem__(self, k: Any) -> Any:
        n = self._batch.n
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(n))]
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError("mapped future index out of range")
        self._dispatch.made_futures = True
        return TaskFuture(self._dispatch, None, self._batch, k)

    def __iter__(self) -> Iterator[TaskFuture]:
        for k in range(self._batch.n):
            yield self[k]

    def __repr__(self) -> str:
        return f"MappedFutures({self._batch.slot.name!r}, {self._batch.n} children)"

    def done(self) -> bool:
        return self._batch.done()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every child to end (at most ``timeout`` seconds)."""
        self._dispatch.pump(self._batch.done, timeout)

    def state_at(self, k: int) -> Any:
        return self._batch.state_at(k)

    def result(self, timeout: float | None = None, raise_on_failure: bool = True) -> list:
        """Every child's value, in order, once all ended; the first failed child's
        exception raised (returned in its place with ``raise_on_failure=False``)."""
        batch = self._batch
        if not self._dispatch.pump(batch.done, timeout):
            raise TimeoutError(f"The children of {batch.slot.name!r} did not end within {timeout} second(s)")
        if batch.all_ok() and not batch.states:
            return list(batch.values)
        return [batch.state_at(k).result(raise_on_failure=raise_on_failure) for k in range(batch.n)]


def wait(futures: Iterable[Any], timeout: float | None = None) -> DoneAndNotDoneFutures:
    """Wait for ``futures`` to end (at most ``timeout`` seconds): ``(done, not_done)``,
    two sets of futures (Prefect 3's ``wait``). A ``task.map()`` result counts as its
    children."""
    flat: list = []
    for future in futures:
        if isinstance(future, MappedFutures):
            flat.extend(future)
        else:
            flat.append(future)
    dispatches = {id(f._dispatch): f._dispatch for f in flat if isinstance(f, TaskFuture)}
    deadline = None if timeout is None else time.monotonic() + timeout
    for dispatch in dispatches.values():
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        dispatch.pump(lambda: all(f.done() for f in flat if f._dispatch is dispatch), left)  # noqa: B023
    done = {f for f in flat if f.done()}
    return DoneAndNotDoneFutures(done, {f for f in flat if f not in done})


# ----- finding futures in arguments ---------------------------------------------------


def _upstreams(value: Any, found: list, allowed: bool = False) -> None:
    """Collect ``(future or batch, allowed)`` for the futures in ``value`` (nested in
    lists, tuples, sets and dicts' values; :class:`allow_failure` marks them allowed)."""
    kind = type(value)
    if kind is TaskFuture:
        found.append((value, allowed))
    elif kind is MappedFutures:
        found.append((value._batch, allowed))
    elif kind is allow_failure:
        _upstreams(value.value, found, True)
    elif kind in (list, tuple, set, frozenset):
        for item in value:
            _upstreams(item, found, allowed)
    elif kind is dict:
        for item in value.values():
            _upstreams(item, found, allowed)


def _resolved(value: Any) -> Any:
    """``value`` with each future replaced by its value (the exception of a failed
    one, which only an allowed failure lets through)."""
    kind = type(value)
    if kind is TaskFuture:
        return value.state.result(raise_on_failure=False)
    if kind is MappedFutures:
        return value.result(raise_on_failure=False)
    if kind is allow_failure:
        return _resolved(value.value)
    if kind in (list, tuple, set, frozenset):
        return kind(_resolved(item) for item in value)
    if kind is dict:
        return {key: _resolved(item) for key, item in value.items()}
    return value


def _ended(upstream: Any) -> bool:
    return upstream.done()


def _failed(upstream: Any) -> bool:
    """Whether an ended upstream (a future or a map's batch) did not complete."""
    if isinstance(upstream, _Batch):
        return not upstream.all_ok() and any(
            not upstream.state_at(k).is_completed() for k in range(upstream.n))
    return not upstream.state.is_completed()


def _upstream_id(run: Any, upstream: Any) -> str:
    if isinstance(upstream, _Batch):
        bad = next(k for k in range(upstream.n) if not upstream.state_at(k).is_completed())
        upstream = TaskFuture(run.futures, None, upstream, bad)
    return str(upstream.task_run_id)


def _not_ready_state(upstream_id: str) -> Any:
    return eager_states.Pending(f"Upstream task run '{upstream_id}' did not reach a 'COMPLETED' state.",
                                name="NotReady")


def _is_iterable(value: Any) -> bool:
    if isinstance(value, (str, bytes, bytearray)):
        return False
    return isinstance(value, Iterable)


# ----- the dispatch ----------------------------------------------------------------------


class Dispatch:
    """One eager run's submitted calls and maps, and the executor they run on (see the
    module docstring). Made by the run on its first future."""

    def __init__(self, run: Any):
        self.run = run
        self.executor: Any = None
        self.slots = 1
        self.inline = False
        self.units: dict = {}  # id(unit) -> (unit, call or batch)
        self.parked: list = []  # calls and batches waiting for their upstream futures
        self.timers: list = []  # heap of (due, seq, call or batch, unit or None) of retries
        self.seq = itertools.count()
        self.open: dict = {}  # id -> calls and batches not ended (for Ctrl-C)
        self.made_futures = False  # whether a single future exists (map elements may be futures)
        # The helper thread that blocks in executor.wait() for a flow thread with a deadline.
        self.lock = threading.Lock()
        self.helper_busy = False
        self.helper_pending = False
        self.inbox: list = []
        self.results: queue.SimpleQueue = queue.SimpleQueue()
        self.closed = False

    # ----- the executor ------------------------------------------------------------------

    def _start(self) -> Any:
        if self.executor is None:
            from ferroflow.plugins import get_executor
            from ferroflow.plugins.contracts import check_slots

            executor = get_executor(getattr(self.run.flow, "executor", None) or "threads")
            executor.start()
            self.executor = executor
            self.slots = check_slots(executor)
            self.inline = bool(getattr(executor, "runs_inline", False))
        return self.executor

    def _hand(self, unit: Any, owner: Any) -> None:
        """Hand ``unit`` (of ``owner``, a call or a batch) to the executor."""
        executor = self._start()
        self.units[id(unit)] = (unit, owner)
        with self.lock:
            if self.helper_busy:
                self.inbox.append((unit, owner.context))
                return
            owner.context.run(executor.submit, unit)
        if self.inline:  # (an executor that runs units when waited for: run it now)
            self._collect(self._wait())

    def _wait(self) -> list:
        from ferroflow.plugins.contracts import checked_wait
        from ferroflow.runtime.unit import UnitResult

        return checked_wait(self.executor, UnitResult)

    def _helper(self) -> None:
        try:
            finished: Any = self._wait()
        except BaseException as exc:  # handed to the flow's thread
            finished = exc
        with self.lock:
            self.helper_busy = False
            inbox, self.inbox = self.inbox, []
            try:
                for unit, context in inbox:
                    context.run(self.executor.submit, unit)
            except BaseException as exc:
                finished = exc
        self.results.put(finished)

    # ----- driving ---------------------------------------------------------------------------

    def pump(self, done: Any, timeout: float | None = None) -> bool:
        """Collect outcomes until ``done()`` (True) or ``timeout`` seconds passed (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            self._launch_ready()
            if done():
                return True
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False
            if self.helper_pending or (self.units and deadline is not None):
                if not self.helper_pending:
                    with self.lock:
                        self.helper_busy = self.helper_pending = True
                    threading.Thread(target=self._helper, daemon=True, name="ferroflow-eager-wait").start()
                left = [] if deadline is None else [deadline - now]
                if self.timers:
                    left.append(self.timers[0][0] - now)
                try:
                    finished = self.results.get(timeout=max(0.0, min(left)) if left else None)
                except queue.Empty:
                    continue
                self.helper_pending = False
                if isinstance(finished, BaseException):
                    raise finished
                self._collect(finished)
            elif self.units:
                # (a retry due meanwhile is handed over when this returns)
                self._collect(self._wait())
            elif self.timers:
                pause = self.timers[0][0] - now
                if deadline is not None:
                    pause = min(pause, deadline - now)
                time.sleep(max(0.0, pause))
            else:
                raise RuntimeError("eager futures: waiting for a call that cannot end (a bug: please report it)")

    def _collect(self, finished: list) -> None:
        for unit, result in finished:
            found = self.units.pop(id(unit), None)
            if found is None:
                continue
            owner = found[1]
            if isinstance(owner, _Batch):
                self._children_ended(owner, unit, result)
            else:
                self._call_ended(owner, unit, result)

    def _launch_ready(self) -> None:
        timers = self.timers
        if timers:
            now = time.monotonic()
            while timers and timers[0][0] <= now:
                _, _, owner, unit = heapq.heappop(timers)
                if unit is None:  # a submitted call's next attempt
                    unit = self.run.unit_of(owner.slot, [owner.index], owner.inputs,
                                            run_counts=bytes([owner.runs]), retried_from=owner.retried_from)
                self._hand(unit, owner)
        if self.parked:
            parked, self.parked = self.parked, []
            for owner in parked:
                if all(_ended(up) for up, _ in owner.upstreams):
                    self._launch(owner)
                else:
                    self.parked.append(owner)

    def _park_or_launch(self, owner: Any, upstreams: list) -> None:
        self.open[id(owner)] = owner
        owner.upstreams = upstreams
        if all(_ended(up) for up, _ in upstreams):
            self._launch(owner)
        else:
            self.parked.append(owner)

    def _launch(self, owner: Any) -> None:
        failed = next((up for up, allowed in owner.upstreams if not allowed and _failed(up)), None)
        if isinstance(owner, _Batch):
            self._launch_batch(owner, failed)
            return
        if failed is not None:
            owner.inputs = None
            owner.state = self.not_ready(owner.slot, failed, owner.index)
            self.open.pop(id(owner), None)
            return
        owner.inputs = {key: _resolved(value) for key, value in owner.inputs.items()}
        owner.started = True
        self._hand(self.run.unit_of(owner.slot, [owner.index], owner.inputs), owner)

    # ----- submitted calls ---------------------------------------------------------------

    def submit(self, slot: Any, inputs: dict, after: list) -> TaskFuture:
        index = self.run.ledger.reserve(slot.task_id, 1)
        call = _Call(slot, index, inputs, after, contextvars.copy_context())
        upstreams: list = []
        _upstreams(inputs, upstreams)
        _upstreams(after, upstreams)
        self.made_futures = True
        self._park_or_launch(call, upstreams)
        return TaskFuture(self, call)

    def _call_ended(self, call: _Call, unit: Any, result: Any) -> None:
        state, wait_ms, retried_from = self.run.settle(call.slot, call.index, unit, result, 0, call.runs)
        if state is None:
            call.runs += 1
            call.retried_from = retried_from
            heapq.heappush(self.timers, (time.monotonic() + (wait_ms or 0) / 1000, next(self.seq), call, None))
            return
        call.state = state
        call.inputs = None
        self.open.pop(id(call), None)

    # ----- plain calls given futures -----------------------------------------------------

    def resolve(self, args: tuple, kwargs: dict, upstream_tasks: Any) -> tuple:
        """A plain call's arguments with futures replaced by their values, once they
        ended: ``(args, kwargs, failed)``, ``failed`` the first upstream (an argument
        not wrapped in :class:`allow_failure`, or ``wait_for=``) that did not complete."""
        from ferroflow.eager.run import _after

        wait_for = kwargs.pop("wait_for", None) if kwargs else None
        upstreams: list = []
        _upstreams(args, upstreams)
        _upstreams(kwargs, upstreams)
        _upstreams(_after(wait_for, upstream_tasks), upstreams)
        if not upstreams:
            return _unwrapped(args), _unwrapped(kwargs), None
        self.pump(lambda: all(_ended(up) for up, _ in upstreams))
        failed = next((up for up, allowed in upstreams if not allowed and _failed(up)), None)
        if failed is not None:
            return args, kwargs, failed
        return _resolved(args), _resolved(kwargs), None

    def not_ready(self, slot: Any, upstream: Any, index: int | None = None) -> Any:
        """Book a call that does not run because ``upstream`` did not complete; its state."""
        run = self.run
        if index is None:
            index = run.ledger.reserve(slot.task_id, 1)
        state = _not_ready_state(_upstream_id(run, upstream))
        run.ledger.outcome(slot.task_id, index, 1, _core.TRIGGER_FAILED)
        run.recorder.note(slot.task_id, index, state.message)
        run.recorder.ended(slot.task_id, run.logs)
        return state

    # ----- maps ------------------------------------------------------------------------------

    def map(self, slot: Any, arguments: dict, after: list) -> MappedFutures:
        from ferroflow.core.edge import unmapped

        for key, value in arguments.items():
            if isinstance(value, TaskFuture):  # mapped over: its value, waited for (Prefect 3 waits too)
                value.wait()
                if not value.state.is_completed():
                    from ferroflow.errors import UpstreamTaskError

                    raise UpstreamTaskError(f"Upstream task run '{value.task_run_id}' did not reach a 'COMPLETED' "
                                            f"state.")
                arguments[key] = value.result()
        widths = {}
        for key, value in arguments.items():
            if type(value) is MappedFutures:
                widths[key] = len(value)
            elif not isinstance(value, (unmapped, allow_failure, TaskFuture)) and _is_iterable(value):
                if not isinstance(value, (list, tuple, range)):
                    value = arguments[key] = list(value)
                widths[key] = len(value)
        if not widths:
            raise ValueError(f"Task {slot.name!r}: map() needs at least one iterable argument "
                             f"(wrap the ones passed whole to every child in unmapped(...))")
        if len(set(widths.values())) > 1:
            raise ValueError(f"Task {slot.name!r}: map() got iterables of different lengths: "
                             + ", ".join(f"{k}={n}" for k, n in widths.items()))
        n = next(iter(widths.values()))
        first = self.run.ledger.reserve(slot.task_id, n)
        batch = _Batch(slot, first, n, arguments, after, contextvars.copy_context())
        upstreams: list = []
        for key, value in arguments.items():
            if type(value) is MappedFutures:
                upstreams.append((value._batch, True))  # (per child: see _launch_batch)
            elif isinstance(value, unmapped):
                _upstreams(value.value, upstreams)
            elif key in widths and self.made_futures:
                _upstreams(value, upstreams, True)  # (elements: per child)
            elif key not in widths:
                _upstreams(value, upstreams)
        _upstreams(after, upstreams)
        if n == 0:
            batch.arguments = None
            return MappedFutures(self, batch)
        self._park_or_launch(batch, upstreams)
        return MappedFutures(self, batch)

    def _launch_batch(self, batch: _Batch, failed: Any) -> None:
        from ferroflow.core.edge import unmapped
        from ferroflow.engine.inputs import column_slice
        from ferroflow.engine.runner import FIRST_UNIT_SIZE, UNIT_SIZE, UNITS_PER_SLOT

        arguments, batch.arguments = batch.arguments, None
        assert arguments is not None
        n = batch.n
        widths = {key for key, value in arguments.items() if type(value) is MappedFutures
                  or (isinstance(value, (list, tuple, range)) and not isinstance(value, unmapped))}
        skipped: dict = {}  # position -> the upstream that did not complete
        static: dict = {}
        keys: list = []
        sources: list = []
        if failed is None:
            for key, value in arguments.items():
                if type(value) is MappedFutures:
                    up = value._batch
                    if not up.all_ok():
                        for k in range(n):
                            if not up.state_at(k).is_completed():
                                skipped.setdefault(k, TaskFuture(self, None, up, k))
                        sources.append([up.state_at(k).result(raise_on_failure=False) for k in range(n)])
                    else:
                        sources.append(up.values)
                    keys.append(key)
                elif isinstance(value, unmapped):
                    static[key] = _resolved(value.value)
                elif key in widths:
                    if self.made_futures:
                        column = []
                        for k, item in enumerate(value):
                            found: list = []
                            _upstreams(item, found)
                            bad = next((up for up, allowed in found if not allowed and _failed(up)), None)
                            if bad is not None:
                                skipped.setdefault(k, bad)
                            column.append(_resolved(item) if found else item)
                        value = column
                    keys.append(key)
                    sources.append(value if isinstance(value, list) else list(value))
                else:
                    static[key] = _resolved(value)
        else:
            skipped = dict.fromkeys(range(n), failed)
        batch.started = True
        for k, upstream in skipped.items():
            state = self.not_ready(batch.slot, upstream, batch.first + k)
            batch.states[k] = state
            batch.codes[k] = _core.TRIGGER_FAILED
            batch.left -= 1
        if batch.left == 0:
            self.open.pop(id(batch), None)
            return
        positions: Any = range(n) if not skipped else [k for k in range(n) if k not in skipped]
        total = len(positions)
        cap = max(1, min(UNIT_SIZE, -(-total // (self.slots * UNITS_PER_SLOT))))
        size = min(FIRST_UNIT_SIZE, cap)
        start = 0
        key_tuple = tuple(keys)
        while start < total:
            chunk = positions[start:start + size]
            start += len(chunk)
            if type(chunk) is range:
                indices: Any = range(batch.first + chunk.start, batch.first + chunk.stop)
            else:
                indices = [batch.first + k for k in chunk]
            columns = tuple(column_slice(source, chunk) for source in sources)
            unit = self.run.unit_of(batch.slot, indices, static, key_tuple, columns, b"\x01" * len(chunk))
            self._hand(unit, batch)
            size = min(cap, 2 * size)

    def _children_ended(self, batch: _Batch, unit: Any, result: Any) -> None:
        run = self.run
        slot = batch.slot
        indices = unit.indices
        values = result.values
        codes = result.codes
        first = batch.first
        if (type(indices) is range and not result.details and not any(slot.hooks) and result.locations is None
                and codes.count(_core.SUCCESS) == len(codes) and eager_states.State not in set(map(type, values))):
            a, b = indices.start - first, indices.stop - first
            batch.codes[a:b] = codes
            batch.values[a:b] = values
            run.ledger.record(slot.task_id, indices.start, bytes(codes))
            batch.left -= b - a
            run.recorder.calls += b - a - 1
            run.recorder.ended(slot.task_id, run.logs)
        else:
            again: list = []
            wait_ms = 0
            run_counts = unit.frame.run_counts
            for j, index in enumerate(indices):
                k = index - first
                state, wait, retried_from = run.settle(slot, index, unit, result, j, run_counts[j])
                if state is None:
                    again.append(j)
                    wait_ms = max(wait_ms, wait or 0)
                    batch.codes[k] = _core.RETRYING
                    continue
                batch.left -= 1
                batch.codes[k] = state.ferroflow_code
                batch.values[k] = state.data
                if state.message is not None or not state.is_completed() or state.name != "Completed":
                    batch.states[k] = state
            if again:
                retry = unit.subset(again)
                retry.frame.run_counts = bytes(run_counts[j] + 1 for j in again)
                retry.retried_from = None
                heapq.heappush(self.timers, (time.monotonic() + wait_ms / 1000, next(self.seq), batch, retry))
        if batch.left == 0:
            self.open.pop(id(batch), None)

    # ----- the end -----------------------------------------------------------------------------

    def finish(self) -> None:
        """Wait for every call not ended yet."""
        self.pump(lambda: not self.open)

    def close(self, cancelled: bool = False) -> None:
        """Shut the executor down (once); with ``cancelled``, book the calls not ended
        as Cancelled."""
        if self.closed:
            return
        self.closed = True
        executor, self.executor = self.executor, None
        if executor is not None:
            try:
                executor.shutdown()
            except Exception as exc:
                from ferroflow.errors import one_line
                from ferroflow.plugins.contracts import warn_broken

                warn_broken("executors", executor, f"shutdown() must release its resources without raising; "
                                                   f"it raised {one_line(exc)}")
        if not self.open:
            return
        run = self.run
        message = "Task run was cancelled: the flow run was interrupted."
        for owner in list(self.open.values()):
            task_id = owner.slot.task_id
            if isinstance(owner, _Call):
                run.ledger.outcome(task_id, owner.index, owner.runs, _core.CANCELLED)
                run.cancelled(task_id, owner.index, message)
                owner.state = eager_states.Cancelled(message)
            else:
                for k in range(owner.n):
                    if owner.codes[k] in (_PENDING, _core.RETRYING) and k not in owner.states:
                        run.ledger.outcome(task_id, owner.first + k, 1, _core.CANCELLED)
                        owner.codes[k] = _core.CANCELLED
                        owner.messages[k] = message
                        if owner.slot.on_cancellation:
                            run.cancelled(task_id, owner.first + k, message)
                owner.left = 0
            run.recorder.ended(task_id, run.logs)
        self.open.clear()
        self.units.clear()
        self.parked.clear()
        self.timers.clear()


def _unwrapped(value: Any) -> Any:
    """``value`` with :class:`allow_failure` wrappers taken off (no future inside)."""
    kind = type(value)
    if kind is allow_failure:
        return _unwrapped(value.value)
    if kind in (list, tuple):
        return kind(_unwrapped(item) for item in value)
    if kind is dict:
        return {key: _unwrapped(item) for key, item in value.items()}
    return value


def futures_to_states(value: Any) -> Any:
    """``value`` (a flow's return value) with every future waited for and replaced by its
    state (a map's futures by the list of their states), in lists, tuples, sets and
    dicts' values."""
    kind = type(value)
    if kind is TaskFuture:
        value.wait()
        return value.state
    if kind is MappedFutures:
        value.wait()
        return [value.state_at(k) for k in range(len(value))]
    if kind in (list, tuple, set, frozenset):
        return kind(futures_to_states(item) for item in value)
    if kind is dict:
        return {key: futures_to_states(item) for key, item in value.items()}
    return value
