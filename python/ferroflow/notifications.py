"""Notifications: tell people or systems when a flow or a task reaches chosen states.

A *notifier* is an object with a state filter (:meth:`Notifier.wants`) and a way to
deliver a :class:`NotificationEvent` (:meth:`Notifier.send`). Notifiers are plugins:
a distribution registers a notifier class through the ``register_notifiers`` hook and
users build it by name (:func:`get_notifier`) or import the class. This module holds the
contract the engine calls; the webhook, Slack and email notifiers live in their own
distributions under ``plugins/``.

The engine calls a notifier through :func:`as_state_handler` (a Prefect-style state
handler ``fn(obj, old_state, new_state) -> new_state``) or directly::

    if notifier.wants(new_state):
        notifier.notify(NotificationEvent.from_state(new_state, flow_name=..., ...))

**Guarantees.** :meth:`Notifier.notify` never raises and never changes a state. It runs
:meth:`Notifier.send` in a daemon thread and waits for it at most ``timeout`` seconds,
so a notifier that hangs in any way (DNS, a silent server, a bug) costs the caller at
most ``timeout`` seconds. A send that does not succeed within ``timeout`` (still
running then, or failed with a timeout error, as a socket that times out does) marks
the notifier *slow* in this process: its next notifications are skipped at once, with
no connection, for :attr:`Notifier.slow_pause` seconds (60); then one notification
tries again, and the pause doubles each time it does not answer either, up to
:attr:`Notifier.slow_pause_max` (an hour). A try that gets any answer in time (even an
error) ends the episode. The event that ends a flow run (a flow-level ``Finished``
state) is always tried once, even while the notifier is slow. Every failure, the start
of an episode and its end (with the number of notifications skipped) are warnings on
the ``ferroflow.notifications`` logger, naming the notifier but none of its secrets.

Notifiers pickle (plain ``pickle`` and cloudpickle), with their state handler
(:func:`as_state_handler`), so tasks that notify run on every executor. Whether a
notifier is slow is kept per process, not in the object: every copy of one notifier in
a process (one per work unit unpickled there) shares it, and another process finds out
for itself.
"""

from __future__ import annotations

import abc
import contextvars
import dataclasses
import datetime
import json
import logging
import os
import reprlib
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ferroflow import redaction as _redaction
from ferroflow import states as _states
from ferroflow.errors import one_line

__all__ = [
    "CONTEXT_FIELDS",
    "DEFAULT_TIMEOUT",
    "MAX_RESULT_CHARS",
    "MAX_TRACEBACK_CHARS",
    "NotificationError",
    "NotificationEvent",
    "Notifier",
    "NotifyHandler",
    "StateSpec",
    "CallbackHandler",
    "as_state_handler",
    "callback_factory",
    "check_http_url",
    "get_notifier",
    "post_json",
    "redact_url",
    "resolve_states",
    "safe_repr",
]

logger = logging.getLogger("ferroflow.notifications")

#: Seconds :meth:`Notifier.notify` waits for a send before giving up.
DEFAULT_TIMEOUT = 10.0

#: Longest ``NotificationEvent.result`` (characters; longer reprs are cut).
MAX_RESULT_CHARS = 1000

#: Longest ``NotificationEvent.traceback`` (characters; the end of a traceback is kept).
MAX_TRACEBACK_CHARS = 4000

#: Fields of :class:`NotificationEvent` a context mapping may supply.
CONTEXT_FIELDS = ("flow_name", "flow_run_id", "task_name", "task_full_name", "map_index")

StateSpec = None | str | type | Iterable[str | type]


class NotificationError(Exception):
    """A notification could not be delivered (raised by ``send``, logged by ``notify``)."""


# ---------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class _Repr(reprlib.Repr):
    """A bounded repr whose strings are scrubbed of secret values before they are cut
    (a cut could keep part of one)."""

    def repr_str(self, x: str, level: int) -> str:
        return super().repr_str(_redaction.scrub(x), level)

    def repr_instance(self, x: Any, level: int) -> str:
        if not _redaction.active():
            return super().repr_instance(x, level)
        try:
            text = _redaction.scrub(repr(x))
        except Exception:  # reprlib's own answer for a broken __repr__
            return super().repr_instance(x, level)
        if len(text) > self.maxother:
            head = max(0, (self.maxother - 3) // 2)
            tail = max(0, self.maxother - 3 - head)
            text = text[:head] + "..." + text[len(text) - tail:]
        return text


_repr = _Repr()
_repr.maxlevel = 3
_repr.maxlist = _repr.maxtuple = _repr.maxset = _repr.maxfrozenset = _repr.maxdeque = 20
_repr.maxdict = 20
_repr.maxstring = MAX_RESULT_CHARS
_repr.maxlong = 100
_repr.maxother = MAX_RESULT_CHARS


def _cut(text: str, limit: int) -> str:
    """The start of ``text``, at most ``limit`` characters, marked when cut."""
    if len(text) <= limit:
        return text
    marker = f"... ({len(text) - limit} more characters)"
    return text[: max(0, limit - len(marker))] + marker


def _cut_tail(text: str, limit: int) -> str:
    """The end of ``text`` (where a traceback says what went wrong), marked when cut."""
    if len(text) <= limit:
        return text
    marker = f"... ({len(text) - limit} characters cut)\n"
    return marker + text[len(text) - max(0, limit - len(marker)):]


def safe_repr(value: Any, limit: int = MAX_RESULT_CHARS) -> str:
    """``repr(value)``, bounded: long containers are abbreviated (without building the
    full repr of a million-item list), long strings cut, and a ``__repr__`` that raises
    gives ``<unrepresentable T: error>``."""
    try:
        text = _redaction.scrub(_repr.repr(value))
    except Exception as exc:  # a bad __repr__ must not break a notification
        text = f"<unrepresentable {type(value).__name__}: {_redaction.scrub(one_line(exc))}>"
    return _cut(text, limit)


@dataclasses.dataclass(frozen=True, kw_only=True)
class NotificationEvent:
    """What a notifier is told: one state of one flow run, task run or mapped child.

    Every field is plain data (str, int, None, an aware UTC datetime), so an event can be
    sent as JSON (:meth:`to_dict`), pickled, or formatted into a message. Its texts are
    scrubbed of secret values when it is made (:mod:`ferroflow.redaction`), however it
    is made: a notifier never sees one.

    Attributes:
        flow_name: The flow's name, or None when unknown.
        flow_run_id: The flow run's id, or None when unknown.
        task_name: The task's name; None for a flow-level event.
        task_full_name: The task run's display name, ``"load[3]"`` for child 3 of a
            mapped task, ``"load"`` otherwise; None for a flow-level event. Derived
            from ``task_name`` and ``map_index`` when not given.
        map_index: The mapped child's index, or None.
        state: The state's class name (``"Failed"``, ``"TriggerFailed"``, ``"Success"``).
        message: The state's message, or None.
        result: ``repr`` of the state's result (the exception of a failed run), cut to
            :data:`MAX_RESULT_CHARS`; None when the result is None.
        traceback: The failure's formatted traceback, its last
            :data:`MAX_TRACEBACK_CHARS` characters; None when there is none.
        timestamp: When the event was built (timezone-aware, UTC).
        previous_state: The class name of the state before this one, when known.
        failed: True when the state is a ``Failed`` (or a subclass).
    """

    flow_name: str | None = None
    flow_run_id: str | None = None
    task_name: str | None = None
    task_full_name: str | None = None
    map_index: int | None = None
    state: str
    message: str | None = None
    result: str | None = None
    traceback: str | None = None
    timestamp: datetime.datetime = dataclasses.field(default_factory=_utcnow)
    previous_state: str | None = None
    failed: bool = False

    def __post_init__(self) -> None:
        if self.task_full_name is None and self.task_name is not None:
            full = self.task_name if self.map_index is None else f"{self.task_name}[{self.map_index}]"
            object.__setattr__(self, "task_full_name", full)
        if _redaction.active():
            for field in dataclasses.fields(self):
                value = getattr(self, field.name)
                if isinstance(value, str):
                    object.__setattr__(self, field.name, _redaction.scrub(value))

    @classmethod
    def from_state(
        cls,
        state: _states.State,
        *,
        flow_name: str | None = None,
        flow_run_id: str | None = None,
        task_name: str | None = None,
        task_full_name: str | None = None,
        map_index: int | None = None,
        previous_state: _states.State | None = None,
        timestamp: datetime.datetime | None = None,
    ) -> NotificationEvent:
        """Build the event for ``state`` with the identity the caller knows.

        ``state.message``, ``state.result`` (through a bounded repr) and
        ``state.traceback`` (its tail) are copied; nothing here raises for a strange
        result. Leave ``task_name`` None for a flow-level event.

        Args:
            state: The new state.
            flow_name, flow_run_id, task_name, task_full_name, map_index: The run's
                identity, as in :class:`NotificationEvent`.
            previous_state: The state before ``state`` (its class name is kept).
            timestamp: Defaults to now (UTC).
        """
        message = state.message
        result = state.result
        tb = getattr(state, "traceback", None)
        return cls(
            flow_name=flow_name,
            flow_run_id=None if flow_run_id is None else str(flow_run_id),
            task_name=task_name,
            task_full_name=task_full_name,
            map_index=map_index,
            state=type(state).__name__,
            message=None if message is None else _cut(_redaction.scrub(str(message)), MAX_RESULT_CHARS),
            result=None if result is None else safe_repr(result),
            traceback=None if not tb else _cut_tail(_redaction.scrub(str(tb)), MAX_TRACEBACK_CHARS),
            timestamp=timestamp if timestamp is not None else _utcnow(),
            previous_state=None if previous_state is None else type(previous_state).__name__,
            failed=isinstance(state, _states.Failed),
        )

    @property
    def is_flow_event(self) -> bool:
        """True for an event about the flow run itself (no task)."""
        return self.task_name is None

    def summary(self) -> str:
        """One line for a subject or a title: ``Task 'load[3]' of flow 'etl' is Failed``
        or ``Flow 'etl' is Success``."""
        flow = repr(self.flow_name) if self.flow_name is not None else "(unnamed)"
        if self.is_flow_event:
            return f"Flow {flow} is {self.state}"
        return f"Task {self.task_full_name!r} of flow {flow} is {self.state}"

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict: every field, ``timestamp`` in ISO 8601."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["timestamp"] = self.timestamp.isoformat()
        return data

    def to_json(self) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), ensure_ascii=False)


# ---------------------------------------------------------------------------
# state filters
# ---------------------------------------------------------------------------


def _state_classes() -> dict[str, type]:
    return {name.casefold(): getattr(_states, name) for name in _states.__all__}


def resolve_states(spec: StateSpec) -> tuple[type, ...] | None:
    """Turn a state filter into a tuple of State classes (None stays None).

    ``spec`` is None, a State class, a state class name (``"Failed"``, any case), or an
    iterable of those. Subclasses match too when the result is used with
    ``isinstance`` (``Failed`` covers ``TriggerFailed`` and ``TimedOut``).

    Raises:
        ValueError: an unknown state name (the message lists the known ones).
        TypeError: something that is neither a name nor a State subclass.
    """
    if spec is None:
        return None
    items = [spec] if isinstance(spec, (str, type)) else list(spec)
    known = _state_classes()
    classes: list[type] = []
    for item in items:
        if isinstance(item, str):
            cls = known.get(item.strip().casefold())
            if cls is None:
                raise ValueError(
                    f"Unknown state {item!r}; states are: {', '.join(_states.__all__)}")
        elif isinstance(item, type) and issubclass(item, _states.State):
            cls = item
        else:
            raise TypeError(f"A state filter takes State classes or their names, got {item!r}")
        if cls not in classes:
            classes.append(cls)
    return tuple(classes)


# ---------------------------------------------------------------------------
# notifiers
# ---------------------------------------------------------------------------


def _check_timeout(timeout: Any) -> float:
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"A notifier's timeout must be a positive number of seconds, got {timeout!r}")
    return float(timeout)


class Notifier(abc.ABC):
    """Base class of notifiers: a state filter, a bounded, never-raising :meth:`notify`,
    and an abstract :meth:`send` that subclasses implement.

    Args:
        only_states: Notify only for these states: State classes or class names
            (``[Failed]``, ``["Failed", "Retrying"]``); subclasses included, as
            Prefect 1's ``only_states``. None (the default) means every state.
        ignore_states: Never notify for these states (same forms), even when
            ``only_states`` lets them through.
        timeout: Seconds (or a ``timedelta``) :meth:`notify` waits for :meth:`send`;
            10 by default. Subclasses that open sockets should also use it as their
            socket timeout.

    Subclasses set :attr:`name` and implement :meth:`send`; they may override
    :meth:`describe` to say where they deliver (without secrets). A notifier goes to
    worker processes with the tasks it serves, so its attributes must pickle.
    """

    #: Public name, as registered through ``register_notifiers`` (``"slack"``).
    name: str = "notifier"

    #: Seconds a notifier marked slow is skipped before one notification tries it
    #: again; doubled after each try that does not answer either.
    slow_pause: float = 60.0
    #: Longest pause between two tries of a notifier that keeps not answering.
    slow_pause_max: float = 3600.0

    # Class-level fallbacks, so that a subclass that forgets super().__init__()
    # still has a working notify().
    timeout: float = DEFAULT_TIMEOUT
    only_states: tuple[type, ...] | None = None
    ignore_states: tuple[type, ...] = ()
    _key: str | None = None

    def __init__(self, only_states: StateSpec = None, ignore_states: StateSpec = None,
                 timeout: float | datetime.timedelta = DEFAULT_TIMEOUT) -> None:
        self.only_states = resolve_states(only_states)
        self.ignore_states = resolve_states(ignore_states) or ()
        self.timeout = _check_timeout(timeout)
        self._key = uuid.uuid4().hex

    def __repr__(self) -> str:
        return f"<{self.describe()}>"

    def describe(self) -> str:
        """How warnings name this notifier: ``'webhook' (WebhookNotifier)``. Never
        include secrets (tokens in URLs, passwords)."""
        return f"{self.name!r} ({type(self).__name__})"

    def wants(self, state: _states.State) -> bool:
        """True when ``state`` passes the filters: an instance of one of
        ``only_states`` (or any state if None) and of none of ``ignore_states``.
        Cheap; call it before building an event."""
        only = self.only_states
        if only is not None and not isinstance(state, only):
            return False
        ignore = self.ignore_states
        return not (ignore and isinstance(state, ignore))

    @abc.abstractmethod
    def send(self, event: NotificationEvent) -> None:
        """Deliver ``event``; raise on failure (any exception). The return value is
        ignored. Called by :meth:`notify` in a worker thread, so it needs no timeout
        of its own to be bounded, but should set socket timeouts to ``self.timeout``
        so that an abandoned send ends too (and a socket timeout is recognised as
        no answer at once)."""
        raise NotImplementedError(f"{type(self).__name__} must implement send(event)")

    def notify(self, event: NotificationEvent) -> bool:
        """Send ``event`` within ``timeout`` seconds; never raise.

        Returns True when :meth:`send` returned in time, False otherwise: it raised,
        timed out, or was skipped because the notifier is marked slow in this process
        (see the module's guarantees). Failures and slow episodes are explained by
        warnings on the ``ferroflow.notifications`` logger. The filter is not applied
        here: callers check :meth:`wants` first.
        """
        try:
            return self._notify(event)
        except Exception as exc:  # notify never raises
            self._warn(event, one_line(exc))
            return False

    def _notify(self, event: NotificationEvent) -> bool:
        key = self._slow_key()
        retry = _slow.admit(key, _ends_a_run(event), self.timeout)
        if retry is None:
            logger.debug("notifier %s skipped the %s notification of %s: it is marked slow",
                         self.describe(), getattr(event, "state", "?"), _where(event))
            return False
        error, timed_out = self._send_within_timeout(event)
        if timed_out:
            self._warn(event, _slow.mark(key, self, retry), error)
            return False
        if retry:
            skipped = _slow.clear(key)
            logger.warning("notifier %s answers in time again; %d notification(s) were skipped in "
                           "this process (pid %d) while it was slow", self.describe(), skipped, os.getpid())
        if error is not None:
            self._warn(event, one_line(error), error)
            return False
        return True

    def _send_within_timeout(self, event: NotificationEvent) -> tuple[BaseException | None, bool]:
        """Run :meth:`send` in a daemon thread and wait at most ``timeout`` seconds:
        ``(the exception it raised or None, whether it timed out)``. It timed out when
        it is still running then (it is abandoned) or raised a timeout error."""
        outcome: list[BaseException | None] = []

        def target() -> None:
            try:
                self.send(event)
            except BaseException as exc:  # reported by notify
                outcome.append(exc)
            else:
                outcome.append(None)

        ctx = contextvars.copy_context()
        thread = threading.Thread(target=ctx.run, args=(target,), daemon=True,
                                  name=f"ferroflow-notify-{self.name}")
        thread.start()
        thread.join(self.timeout)
        if not outcome:
            return None, True
        error = outcome[0]
        return error, error is not None and _is_timeout(error)

    def _slow_key(self) -> str:
        """The key of this notifier's slow state: made once, kept by every copy."""
        key = self._key
        if key is None:  # a subclass that did not call super().__init__()
            key = self._key = uuid.uuid4().hex
        return key

    def _warn(self, event: Any, error: str, exc: BaseException | None = None) -> None:
        state = getattr(event, "state", "?")
        logger.warning("notifier %s failed to send the %s notification of %s: %s",
                       self.describe(), state, _where(event), error)
        if exc is not None and logger.isEnabledFor(logging.DEBUG):
            logger.debug("notifier %s traceback", self.describe(),
                         exc_info=(type(exc), exc, exc.__traceback__))


def _is_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is a timeout or was raised because of one: socket timeouts are
    ``TimeoutError``; urllib wraps them as ``URLError.reason``, smtplib raises
    ``SMTPServerDisconnected`` while handling them."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TimeoutError) or isinstance(getattr(current, "reason", None), TimeoutError):
            return True
        current = current.__cause__ or current.__context__
    return False


def _ends_a_run(event: Any) -> bool:
    """Whether ``event`` is a flow run's final state (tried even while slow)."""
    if getattr(event, "task_name", None) is not None:
        return False
    cls = getattr(_states, str(getattr(event, "state", "")), None)
    return isinstance(cls, type) and issubclass(cls, _states.Finished)


@dataclasses.dataclass
class _Episode:
    """A notifier marked slow: skipped until ``retry_at`` (``time.monotonic()``)."""

    retry_at: float
    pause: float
    skipped: int = 0


class _SlowNotifiers:
    """Which notifiers are slow in this process, by notifier key. Only slow ones have
    an entry (the table is as small as the trouble), and nothing here travels with a
    notifier when it is pickled."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._episodes: dict[str, _Episode] = {}

    def admit(self, key: str, ends_a_run: bool, timeout: float) -> bool | None:
        """May a send go ahead now? False: yes, the notifier is not slow. True: yes, as
        a try of a slow notifier (its pause is over, or the event ends a run); the try
        holds off others for its ``timeout``, by when :meth:`mark` or :meth:`clear`
        says how it went. None: no, skip it (counted)."""
        with self._lock:
            episode = self._episodes.get(key)
            if episode is None:
                return False
            now = _monotonic()
            if ends_a_run or now >= episode.retry_at:
                episode.retry_at = max(episode.retry_at, now + timeout)
                return True
            episode.skipped += 1
            return None

    def mark(self, key: str, notifier: Notifier, retry: bool) -> str:
        """Record that a send of ``notifier`` timed out; return what to tell the user.
        A send that was not a try and finds the notifier already slow (sent at the same
        time as the one that marked it) changes nothing."""
        timeout = f"timed out after {notifier.timeout:g} s"
        with self._lock:
            episode = self._episodes.get(key)
            if episode is not None and not retry:
                return timeout
            first = float(notifier.slow_pause)
            pause = first if episode is None else min(2 * episode.pause, float(notifier.slow_pause_max))
            skipped = 0 if episode is None else episode.skipped
            self._episodes[key] = _Episode(_monotonic() + pause, pause, skipped)
        here = f"this process (pid {os.getpid()})"
        if episode is None:
            return f"{timeout}; its notifications are skipped in {here} for {pause:g} s, then one tries again"
        return f"{timeout} again; {skipped} notification(s) skipped in {here} so far; the next try is in {pause:g} s"

    def clear(self, key: str) -> int:
        """End the notifier's episode (a try was answered); return how many
        notifications it skipped."""
        with self._lock:
            episode = self._episodes.pop(key, None)
        return 0 if episode is None else episode.skipped

    def reset(self) -> None:
        """Forget every episode (in a forked child: its lock may have been held)."""
        self._lock = threading.Lock()
        self._episodes = {}


_monotonic = time.monotonic
_slow = _SlowNotifiers()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_slow.reset)


def _where(event: Any) -> str:
    try:
        flow = getattr(event, "flow_name", None)
        task = getattr(event, "task_full_name", None)
        where = f"flow {flow!r}" if flow is not None else "a flow"
        return where if task is None else f"task {task!r} of {where}"
    except Exception:
        return "an event"


def get_notifier(name_or_instance: Any, /, **options: Any) -> Notifier:
    """Return a notifier: an instance as is, or the notifier registered under a name
    (``"webhook"``, ``"slack"``, ``"email"``) built with ``options``.

    Raises:
        ferroflow.errors.PluginError: unknown name (the message lists the registered
            notifiers and any plugin that failed to load), or the factory raised.
    """
    from ferroflow.plugins.manager import create_registered

    return create_registered("notifiers", name_or_instance, options)


# ---------------------------------------------------------------------------
# state handlers
# ---------------------------------------------------------------------------


def _runtime_context() -> Mapping[str, Any]:
    """The running flow's identity from ``ferroflow.context``, when it has one."""
    try:
        ctx = getattr(sys.modules.get("ferroflow"), "context", None)
        to_dict = getattr(ctx, "to_dict", None)
        values = to_dict() if callable(to_dict) else None
    except Exception:  # no context means less detail, not no notification
        return {}
    return values if isinstance(values, Mapping) else {}


def _identity(obj: Any, context: Callable[[], Mapping[str, Any]] | None) -> dict[str, Any]:
    values = context() if context is not None else _runtime_context()
    fields = {key: values.get(key) for key in CONTEXT_FIELDS}
    from ferroflow.core.flow import Flow
    from ferroflow.core.task import Task

    if isinstance(obj, Flow):
        fields.update(flow_name=obj.name, task_name=None, task_full_name=None, map_index=None)
    elif isinstance(obj, Task):
        if fields["task_name"] != obj.name:  # the context is about another task
            fields.update(task_name=obj.name, task_full_name=None, map_index=None)
    return fields


def as_state_handler(notifier: Notifier, *,
                     context: Callable[[], Mapping[str, Any]] | None = None
                     ) -> Callable[[Any, _states.State, _states.State], _states.State]:
    """A Prefect-style state handler that notifies ``notifier`` of wanted states.

    The handler is ``fn(obj, old_state, new_state) -> new_state`` for a task or a flow;
    it always returns ``new_state`` unchanged and never raises. When
    ``notifier.wants(new_state)``, it builds a :class:`NotificationEvent` (the name of
    ``obj``, plus flow name, run id, task name, full name and map index from
    ``context()``) and calls ``notifier.notify``, bounded by the notifier's timeout.

    Args:
        notifier: The notifier to call.
        context: Zero-argument callable returning a mapping with any of the keys
            ``flow_name``, ``flow_run_id``, ``task_name``, ``task_full_name``,
            ``map_index``. By default ``ferroflow.context`` is read, when present.

    The handler is a :class:`NotifyHandler`: it has a ``notifier`` attribute, so the
    engine can recognise it, and it pickles (plain ``pickle`` and cloudpickle) when
    ``context`` does, so a task that notifies runs on every executor.
    """
    if not isinstance(notifier, Notifier):
        raise TypeError(f"as_state_handler() takes a Notifier, got {notifier!r}")
    return NotifyHandler(notifier, context)


class NotifyHandler:
    """The state handler made by :func:`as_state_handler` (a class rather than a
    closure, so that it pickles with plain ``pickle`` too)."""

    def __init__(self, notifier: Notifier,
                 context: Callable[[], Mapping[str, Any]] | None = None) -> None:
        self.notifier = notifier
        self.context = context
        self.__name__ = self.__qualname__ = f"notify_{notifier.name}"

    def __repr__(self) -> str:
        return f"<state handler {self.__name__} of {self.notifier!r}>"

    def __call__(self, obj: Any, old_state: _states.State, new_state: _states.State) -> _states.State:
        notifier = self.notifier
        try:
            if notifier.wants(new_state):
                event = NotificationEvent.from_state(
                    new_state, previous_state=old_state, **_identity(obj, self.context))
                notifier.notify(event)
        except Exception as exc:  # a notification never changes a state
            logger.warning("notifier %s: could not build the %s notification: %s",
                           notifier.describe(), type(new_state).__name__, one_line(exc))
        return new_state


def callback_factory(fn: Callable[[Any, _states.State], Any],
                     check: Callable[[_states.State], bool]) -> CallbackHandler:
    """A state handler that calls ``fn(obj, new_state)`` whenever ``check(new_state)``
    is ``True`` (Prefect 1's ``prefect.utilities.notifications.callback_factory``),
    for a task or a flow::

        on_retry = callback_factory(lambda task, state: alert(task.name), lambda s: s.is_retrying())

    It returns ``new_state`` unchanged. As in Prefect 1, ``check`` must return ``True``
    itself (another truthy value does not call ``fn``), and an exception from ``fn`` or
    ``check`` is the handler's: the task run (or flow run) fails with it. The handler
    is a :class:`CallbackHandler`, which pickles when ``fn`` and ``check`` do (plain
    functions with ``pickle``, lambdas with cloudpickle), so it runs on every executor.
    """
    if not callable(fn) or not callable(check):
        raise TypeError(f"callback_factory(fn, check) takes two callables, got {fn!r} and {check!r}")
    return CallbackHandler(fn, check)


class CallbackHandler:
    """The state handler made by :func:`callback_factory` (a class rather than a
    closure, so that it pickles with plain ``pickle`` too)."""

    def __init__(self, fn: Callable[[Any, _states.State], Any], check: Callable[[_states.State], bool]) -> None:
        self.fn = fn
        self.check = check
        self.__name__ = self.__qualname__ = f"callback({getattr(fn, '__name__', type(fn).__name__)})"

    def __repr__(self) -> str:
        return f"<state handler {self.__name__}>"

    def __call__(self, obj: Any, old_state: _states.State, new_state: _states.State) -> _states.State:
        if self.check(new_state) is True:
            self.fn(obj, new_state)
        return new_state


# ---------------------------------------------------------------------------
# HTTP helper for notifiers (stdlib only)
# ---------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: following it would turn the POST into a GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect())


def check_http_url(url: str) -> str:
    """Return ``url`` if it is an ``http://`` or ``https://`` URL with a host; raise
    ValueError otherwise (urllib would also open ``file://``)."""
    if not isinstance(url, str):
        raise TypeError(f"A URL must be a str, got {url!r}")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Expected an http:// or https:// URL, got {redact_url(url)!r}")
    return url


def redact_url(url: str) -> str:
    """``scheme://host:port/...``: a URL without its path, query and credentials, which
    often hold tokens (Slack webhook URLs do). For logs and reprs."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port else ""
        tail = "/..." if (parts.path not in ("", "/") or parts.query) else ""
        return f"{parts.scheme}://{host}{port}{tail}" if parts.scheme else "<url>"
    except ValueError:
        return "<url>"


def post_json(url: str, payload: Any, *, headers: Mapping[str, str] | None = None,
              timeout: float = DEFAULT_TIMEOUT, max_response: int = 65536) -> tuple[int, bytes]:
    """POST ``payload`` as JSON to ``url`` with ``urllib.request``; return
    ``(status, body)`` (body cut to ``max_response`` bytes).

    ``timeout`` is the socket timeout (connect and each read). Proxies from the
    environment apply as usual in urllib. Redirects are not followed.

    Raises:
        NotificationError: the server answered with a status other than 2xx (the
            message has the status and the start of the response body).
        OSError: connection refused, timeout, DNS failure (``urllib.error.URLError``
            and ``TimeoutError`` are OSErrors).
    """
    data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data, method="POST")
    request.add_header("Content-Type", "application/json")
    request.add_header("User-Agent", f"ferroflow/{_version()}")
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
            body = response.read(max_response)
    except urllib.error.HTTPError as exc:
        try:
            excerpt = exc.read(300).decode("utf-8", "replace").strip()
        except Exception:
            excerpt = ""
        finally:
            exc.close()
        detail = f": {_cut(' '.join(excerpt.split()), 200)}" if excerpt else ""
        raise NotificationError(f"HTTP {exc.code} {exc.reason}{detail}") from None
    if not 200 <= status < 300:
        raise NotificationError(f"HTTP {status}")
    return status, body


def _version() -> str:
    return getattr(sys.modules.get("ferroflow"), "__version__", "0")
