"""The notifier conformance kit: what every notifier (``register_notifiers``) must get
right.

Subclass :class:`NotifierConformance` in a test module (its name must start with
``Test``), say how to build your notifier against a destination that works, and,
when you can, what that destination received::

    import pytest
    from ferroflow.testing.notifiers import NotifierConformance

    class TestJsonLinesNotifier(NotifierConformance):
        registered_name = "jsonl"                       # optional: also built by name

        @pytest.fixture(autouse=True)
        def _destination(self, tmp_path):
            self.path = tmp_path / "events.jsonl"

        def make_notifier(self, **options):             # options: only_states, ignore_states, timeout
            return JsonLinesNotifier(str(self.path), **options)

        def deliveries(self):                           # the texts delivered so far
            return self.path.read_text().splitlines() if self.path.exists() else []

or, for a notifier that needs no destination, set ``notifier_factory`` (a callable
taking those keywords) instead of overriding :meth:`~NotifierConformance.make_notifier`.

The tests: it is a :class:`~ferroflow.notifications.Notifier` with a name, and neither
``describe()`` nor ``repr()`` shows its :meth:`~NotifierConformance.secrets`;
``only_states``/``ignore_states`` filter as documented; ``notify(event)`` delivers and
returns True; values registered as secrets (:mod:`ferroflow.redaction`) never reach the
destination; a ``send`` that raises or hangs makes ``notify`` return False within the
notifier's ``timeout`` with a warning naming it (not its secrets), never an exception;
a destination that refuses (:meth:`~NotifierConformance.failing_notifier`) likewise;
the notifier and its state handler pickle (plain ``pickle`` and cloudpickle); a run
whose notifier fails still succeeds, on the ``local`` and ``processes`` executors;
and a run on the ``processes`` executor notifies from its worker processes. Each test
bounds its own time and uses a private ``FERROFLOW_HOME`` (:mod:`ferroflow.testing.kit`).
"""

from __future__ import annotations

import logging
import pickle
import threading
import uuid
from collections.abc import Callable
from typing import Any

import cloudpickle
import pytest

from ferroflow import Flow, states, task
from ferroflow import redaction as _redaction
from ferroflow.notifications import NotificationEvent, Notifier, as_state_handler
from ferroflow.testing.kit import ConformanceKit, time_limit

__all__ = ["NotifierConformance", "notifier_conformance"]

#: The flow the kit's events and runs are about.
FLOW_NAME = "notifier-conformance"


def _refuse(event: Any) -> None:
    """A ``send`` that fails (module level, so a notifier carrying it still pickles)."""
    raise ConnectionRefusedError("the kit's destination refuses every notification")


def _hang(event: Any) -> None:
    """A ``send`` that never returns."""
    threading.Event().wait()


@task
def kit_fails(x):
    raise ValueError(f"kit task {x} fails on purpose")


@task
def kit_succeeds(x):
    return x


class NotifierConformance(ConformanceKit):
    """Tests every notifier must pass; see the module docstring."""

    #: Called with keywords (``only_states``, ``ignore_states``, ``timeout``): returns a
    #: notifier delivering to a working destination. Or override :meth:`make_notifier`.
    notifier_factory: Callable[..., Notifier] | None = None
    #: The name it is registered under through ``register_notifiers``; when set,
    #: ``get_notifier(name, **notifier_options)`` must build one of the same type.
    registered_name: str | None = None
    #: The options ``get_notifier(registered_name, ...)`` needs (a URL, a token...).
    notifier_options: dict[str, Any] = {}

    def make_notifier(self, **options: Any) -> Notifier:
        """A notifier delivering to a destination that works, built with ``options``."""
        factory = type(self).notifier_factory
        if factory is None:
            raise TypeError(f"{type(self).__name__} must set notifier_factory or override make_notifier()")
        return factory(**options)

    def deliveries(self) -> list[str] | None:
        """The texts (request bodies, messages) the destination received so far; None
        (the default) when the test cannot see them, which skips the checks on them."""
        return None

    def failing_notifier(self) -> Notifier | None:
        """A notifier whose destination refuses or fails (a closed port, a server
        answering 500); None (the default) skips that test."""
        return None

    def secrets(self) -> list[str]:
        """The secrets the notifiers of :meth:`make_notifier` hold (tokens, passwords,
        URLs with a key in them): never shown by ``describe()``, ``repr()`` or warnings."""
        return []

    # ----- helpers ------------------------------------------------------------------

    @staticmethod
    def event(state: states.State | None = None, **identity: Any) -> NotificationEvent:
        """An event about ``state`` (a Failed one by default) of the kit's flow."""
        identity.setdefault("flow_name", FLOW_NAME)
        identity.setdefault("flow_run_id", "kit-run-1")
        return NotificationEvent.from_state(state if state is not None else states.Failed("kit failure"),
                                            **identity)

    def _assert_no_secrets(self, text: str, where: str) -> None:
        for secret in self.secrets():
            assert secret not in text, f"{where} shows a secret: {text!r}"

    def _warnings(self, caplog: pytest.LogCaptureFixture) -> list[str]:
        return [r.getMessage() for r in caplog.records
                if r.name == "ferroflow.notifications" and r.levelno >= logging.WARNING]

    # ----- the tests ----------------------------------------------------------------

    def test_is_a_notifier(self):
        notifier = self.make_notifier()
        assert isinstance(notifier, Notifier), f"{notifier!r} must subclass ferroflow.notifications.Notifier"
        assert isinstance(notifier.name, str) and notifier.name and notifier.name != "notifier", (
            f"set a name of your own, got {notifier.name!r}")
        self._assert_no_secrets(notifier.describe(), "describe()")
        self._assert_no_secrets(repr(notifier), "repr()")

    def test_state_filters(self):
        every = self.make_notifier()
        assert every.wants(states.Success()) and every.wants(states.Failed())
        only = self.make_notifier(only_states=[states.Failed])
        assert only.wants(states.Failed()) and only.wants(states.TimedOut())
        assert not only.wants(states.Success()) and not only.wants(states.Running())
        ignoring = self.make_notifier(ignore_states=["Retrying", "Running"])
        assert not ignoring.wants(states.Retrying()) and not ignoring.wants(states.Running())
        assert ignoring.wants(states.Failed())

    def test_notify_delivers(self):
        notifier = self.make_notifier()
        before = self.deliveries()
        assert notifier.notify(self.event()) is True, "notify() must return True when the destination took it"
        after = self.deliveries()
        if before is None or after is None:
            return
        new = after[len(before):]
        assert len(new) == 1, f"one notification must make one delivery, got {len(new)}"
        assert FLOW_NAME in new[0], f"a notification must name its flow: {new[0]!r}"

    def test_registered_secrets_never_reach_the_destination(self):
        secret = f"kit-secret-{uuid.uuid4().hex}"
        _redaction.register(secret)
        notifier = self.make_notifier()
        failed = states.Failed(f"login with {secret} refused", result=RuntimeError(f"token {secret}"))
        assert notifier.notify(self.event(failed)) is True
        delivered = self.deliveries()
        if delivered is None:
            pytest.skip("deliveries() is not available: cannot see what the destination received")
        assert delivered and not any(secret in text for text in delivered), "a registered secret was delivered"

    def test_a_send_that_raises_is_a_warning(self, caplog):
        caplog.set_level(logging.WARNING, logger="ferroflow.notifications")
        notifier = self.make_notifier()
        notifier.send = _refuse  # type: ignore[method-assign]
        assert notifier.notify(self.event()) is False
        warnings = self._warnings(caplog)
        assert warnings and any(notifier.describe() in w for w in warnings), warnings
        for w in warnings:
            self._assert_no_secrets(w, "a warning")

    @time_limit(30)
    def test_a_send_that_hangs_is_bounded(self, caplog):
        caplog.set_level(logging.WARNING, logger="ferroflow.notifications")
        notifier = self.make_notifier(timeout=0.5)
        notifier.send = _hang  # type: ignore[method-assign]
        assert notifier.notify(self.event()) is False
        assert self._warnings(caplog), "a send that did not answer in time must be a warning"

    def test_a_failing_destination_is_a_warning(self, caplog):
        notifier = self.failing_notifier()
        if notifier is None:
            pytest.skip("failing_notifier() is not set")
        caplog.set_level(logging.WARNING, logger="ferroflow.notifications")
        assert notifier.notify(self.event()) is False
        warnings = self._warnings(caplog)
        assert warnings, "a failed delivery must be a warning"
        for w in warnings:
            self._assert_no_secrets(w, "a warning")

    def test_pickles(self):
        notifier = self.make_notifier(only_states=["Failed"], timeout=3)
        handler = as_state_handler(notifier)
        for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
            copy = loads(dumps(notifier))
            assert type(copy) is type(notifier) and copy.describe() == notifier.describe()
            assert copy.wants(states.Failed()) and not copy.wants(states.Success())
            assert copy.timeout == notifier.timeout
            assert loads(dumps(handler)).notifier.describe() == notifier.describe()

    def test_a_failing_notifier_never_fails_a_run(self):
        from ferroflow.executors.local import LocalExecutor
        from ferroflow.executors.processes import ProcessesExecutor

        notifier = self.make_notifier()
        notifier.send = _refuse  # type: ignore[method-assign]
        handler = as_state_handler(notifier)
        with Flow(FLOW_NAME, state_handlers=[handler]) as flow:
            kit_succeeds.copy(state_handlers=[handler]).map([1, 2, 3])
        for executor in (LocalExecutor(), ProcessesExecutor(max_workers=1)):
            state = flow.run(executor=executor)
            assert state.is_successful(), f"{executor!r}: {state.message}"

    def test_notified_from_worker_processes(self):
        from ferroflow.executors.processes import ProcessesExecutor

        before = self.deliveries()
        if before is None:
            pytest.skip("deliveries() is not available: cannot see what the destination received")
        handler = as_state_handler(self.make_notifier(only_states=["Failed"]))
        with Flow(FLOW_NAME) as flow:
            kit_fails.copy(state_handlers=[handler]).map([0, 1])
        state = flow.run(executor=ProcessesExecutor(max_workers=1))
        assert state.is_failed()
        new = (self.deliveries() or [])[len(before):]
        assert len(new) == 2, f"two failed task runs must make two deliveries, got {len(new)}: {new}"

    def test_built_by_its_registered_name(self):
        if self.registered_name is None:
            pytest.skip("registered_name is not set")
        from ferroflow.notifications import get_notifier

        built = get_notifier(self.registered_name, **self.notifier_options)
        assert type(built) is type(self.make_notifier())


def notifier_conformance(factory: Callable[..., Notifier], name: str | None = None, **attributes: Any) -> type:
    """The kit as a class bound to ``factory`` (a callable taking ``only_states``,
    ``ignore_states`` and ``timeout``): ``TestMine = notifier_conformance(Mine)``."""
    label = name or getattr(factory, "__name__", "Notifier").replace("<lambda>", "Notifier")
    return type(f"Test{label}Conformance", (NotifierConformance,),
                {"notifier_factory": staticmethod(factory), **attributes})
