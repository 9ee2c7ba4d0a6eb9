"""Per-task-run timeouts inside a work unit.

Where a timeout is enforced depends on the thread that runs the unit:

* **main thread** (the ``local`` executor): *hard for Python code* — ``SIGALRM``
  interrupts the task run, including ``time.sleep`` and pure-Python loops; a blocking
  C call that retries on ``EINTR`` is interrupted only when it returns to Python.
* **any other thread**: *soft* — the task run is abandoned after the timeout and
  recorded ``TimedOut``, but its thread may keep running in the background (a warning
  says so). Only a process boundary stops work for certain.

Either way the run ends ``TimedOut`` — never a success — and is retried like any
failure.
"""

from __future__ import annotations

import contextvars
import logging
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from ferroflow.errors import TaskTimeout

__all__ = ["TaskTimeout", "call_with_timeout"]

log = logging.getLogger("ferroflow.timeouts")


def call_with_timeout(fn: Callable[..., Any], seconds: float, kwargs: dict) -> Any:
    """Call ``fn(**kwargs)``; raise :class:`TaskTimeout` after ``seconds``."""
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        return _with_alarm(fn, seconds, kwargs)
    return _in_thread(fn, seconds, kwargs)


def _with_alarm(fn: Callable[..., Any], seconds: float, kwargs: dict) -> Any:
    def expire(signum, frame):
        raise TaskTimeout(f"Task timed out after {seconds:g} s")

    outer_delay, outer_interval = signal.getitimer(signal.ITIMER_REAL)  # an alarm someone else set
    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(**kwargs)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:
            # Re-arm the outer alarm with what is left of it (at once if it came due
            # meanwhile: it fires late, never lost), and its interval if it repeats.
            signal.setitimer(signal.ITIMER_REAL, max(1e-3, outer_delay - (time.monotonic() - started)),
                             outer_interval)


def _in_thread(fn: Callable[..., Any], seconds: float, kwargs: dict) -> Any:
    outcome: dict = {}
    context = contextvars.copy_context()  # the task run's ferroflow.context goes along

    def target() -> None:
        try:
            outcome["value"] = context.run(fn, **kwargs)
        except BaseException as exc:  # handed back to the calling thread
            outcome["error"] = exc

    worker = threading.Thread(target=target, name="ferroflow-timeout", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        log.warning(
            "a task run exceeded its timeout of %gs outside the main thread; it is recorded "
            "TimedOut but its thread keeps running (soft timeout)", seconds
        )
        raise TaskTimeout(f"Task timed out after {seconds:g} s (soft timeout: its thread may still run)")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
