"""What every conformance kit in :mod:`ferroflow.testing` shares: a time limit of its own
on each test, and a private ferroflow home.

:class:`ConformanceKit` is the base of the kits (executors, notifiers, result stores,
serializers, launchers). Every ``test_*`` method of a subclass, the kit's own and any a
plugin author adds, runs under a deadline without needing pytest-timeout: the body runs
in a thread and the test fails when the thread is still running after its limit (the
stuck thread is abandoned as a daemon); a kit whose tests must stay on the main thread
(the launcher kit: launchers fork) sets :attr:`ConformanceKit.bound_on_main_thread` and
is interrupted by ``SIGALRM`` instead. The limit is :attr:`ConformanceKit.default_time_limit`
seconds, or what :func:`time_limit` put on the method, multiplied by
``$FERROFLOW_TEST_TIME_SCALE`` (default 1) for slow machines.

An autouse fixture points ``FERROFLOW_HOME`` at ``ferroflow-home`` in each test's
``tmp_path`` and
forgets the run stores opened meanwhile, so that tests of a plugin never record into
the user's ``~/.ferroflow/runs.db``.
"""

from __future__ import annotations

import contextvars
import functools
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

__all__ = ["ConformanceKit", "TIME_SCALE_ENV", "run_within", "run_within_alarm", "time_limit"]

#: Multiplies every kit test's time limit (for slow machines): ``FERROFLOW_TEST_TIME_SCALE=3``.
TIME_SCALE_ENV = "FERROFLOW_TEST_TIME_SCALE"

F = TypeVar("F", bound=Callable[..., Any])

_LIMIT_ATTR = "__ferroflow_time_limit__"
_BOUNDED_ATTR = "__ferroflow_bounded__"


def time_limit(seconds: float) -> Callable[[F], F]:
    """Give one kit test its own limit, in seconds (before scaling)::

        @time_limit(300)
        def test_huge_map(self): ...
    """

    def mark(fn: F) -> F:
        setattr(fn, _LIMIT_ATTR, float(seconds))
        return fn

    return mark


def _scale() -> float:
    raw = os.environ.get(TIME_SCALE_ENV, "").strip()
    try:
        value = float(raw) if raw else 1.0
    except ValueError:
        raise ValueError(f"${TIME_SCALE_ENV} must be a positive number, got {raw!r}") from None
    if not value > 0:
        raise ValueError(f"${TIME_SCALE_ENV} must be a positive number, got {raw!r}")
    return value


def run_within(seconds: float, fn: Callable[..., Any], *args: Any, name: str = "test", **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)`` in a daemon thread (with the caller's context
    variables) and return its result or raise its exception; fail the test with
    ``pytest.fail`` when it has not returned after ``seconds``."""
    outcome: dict[str, Any] = {}
    ctx = contextvars.copy_context()

    def target() -> None:
        try:
            outcome["value"] = ctx.run(fn, *args, **kwargs)
        except BaseException as exc:  # handed back to the test's thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"ferroflow-kit-{name}", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"{name} did not finish within its time limit of {seconds:g} s (it hangs; "
                    f"scale the limits with ${TIME_SCALE_ENV} on a slow machine)", pytrace=False)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def run_within_alarm(seconds: float, fn: Callable[..., Any], *args: Any, name: str = "test",
                     **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)`` on this thread and fail the test with
    ``pytest.fail`` from a ``SIGALRM`` when it has not returned after ``seconds`` (then
    again every second, should something swallow the failure). For tests that must run
    on the main thread (a launcher that forks); elsewhere, :func:`run_within`."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        return run_within(seconds, fn, *args, name=name, **kwargs)

    def overdue(signum: int, frame: Any) -> None:
        pytest.fail(f"{name} did not finish within its time limit of {seconds:g} s (it hangs; "
                    f"scale the limits with ${TIME_SCALE_ENV} on a slow machine)", pytrace=False)

    previous = signal.signal(signal.SIGALRM, overdue)
    signal.setitimer(signal.ITIMER_REAL, seconds, 1.0)
    try:
        return fn(*args, **kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _bounded(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)  # keeps the signature pytest reads the fixtures from
    def bounded(self: Any, *args: Any, **kwargs: Any) -> Any:
        limit = getattr(fn, _LIMIT_ATTR, None)
        if limit is None:
            limit = type(self).default_time_limit
        runner = run_within_alarm if type(self).bound_on_main_thread else run_within
        return runner(limit * _scale(), fn, self, *args, name=f"{type(self).__name__}.{name}", **kwargs)

    setattr(bounded, _BOUNDED_ATTR, True)
    return bounded


class ConformanceKit:
    """Base class of the conformance kits: bounds every ``test_*`` method (see the
    module docstring) and isolates the ferroflow home."""

    #: Seconds each test may take unless :func:`time_limit` says otherwise.
    default_time_limit: float = 120.0
    #: Run each test on the main thread, bounded by ``SIGALRM``
    #: (:func:`run_within_alarm`), rather than in a thread (:func:`run_within`): for
    #: kits whose tests fork.
    bound_on_main_thread: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if name.startswith("test") and callable(value) and not getattr(value, _BOUNDED_ATTR, False):
                setattr(cls, name, _bounded(name, value))

    @pytest.fixture(autouse=True)
    def _private_ferroflow_home(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        """``FERROFLOW_HOME`` is ``ferroflow-home`` in the test's ``tmp_path``; run
        stores opened during the test are forgotten after it."""
        from ferroflow.store import config

        home = tmp_path / "ferroflow-home"
        monkeypatch.setenv(config.HOME_ENV, str(home))
        for name in (getattr(config, "DATABASE_ENV", None), getattr(config, "API_URL_ENV", None)):
            if name:
                monkeypatch.delenv(name, raising=False)
        yield
        with config._STORES_LOCK:
            stale = [key for key, store in config._STORES.items() if str(home) in str(key)]
            for key in stale:
                store = config._STORES.pop(key)
                close = getattr(store, "close", None)
                if callable(close):
                    try:
                        close()
                    except Exception:  # a store that cannot close is forgotten all the same
                        pass
