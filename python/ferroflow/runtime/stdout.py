"""Where a task run's prints go with ``log_stdout=True``: to the log of that task run.

``sys.stdout`` belongs to the whole process, while task runs may run in several threads
at once (the ``threads`` executor, Dask worker threads, any executor a plugin adds). So a
unit that captures prints does not swap ``sys.stdout`` for its own stream (two units
doing so restore each other's streams in the wrong order); while any unit captures,
``sys.stdout`` is a router that sends what each thread prints to the stream of the unit
that thread runs, and what other threads print to the stdout it replaced.

Coroutines share their event loop's thread: :func:`prints_in_context` routes what the
code of one context (an asyncio task's) prints instead, for the calls of ``async def``
tasks (``ferroflow.eager.aio``).
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["prints_to", "prints_uncaptured"]


class _Router:
    """``sys.stdout`` while units capture prints."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def write(self, text: str) -> int:
        stream = getattr(_ROUTES, "stream", None) or _CONTEXT_STREAM.get()
        return (stream if stream is not None else self.target).write(text)

    def flush(self) -> None:
        stream = getattr(_ROUTES, "stream", None) or _CONTEXT_STREAM.get()
        (stream if stream is not None else self.target).flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, ...
        return getattr(self.target, name)


_ROUTES = threading.local()
_CONTEXT_STREAM: contextvars.ContextVar[Any] = contextvars.ContextVar("ferroflow_prints_to", default=None)
_lock = threading.Lock()
_router: _Router | None = None
_users = 0


@contextlib.contextmanager
def prints_to(stream: Any) -> Iterator[None]:
    """Within the block, what this thread prints goes to ``stream``."""
    outer = getattr(_ROUTES, "stream", None)
    _ROUTES.stream = stream
    try:
        with _routing():
            yield
    finally:
        _ROUTES.stream = outer


@contextlib.contextmanager
def prints_uncaptured(in_context: bool = False) -> Iterator[None]:
    """Within the block, what this thread (or ``in_context``: the code of this
    context) prints goes where it would without any capture (``sys.stdout`` as it was
    before ferroflow routed it)."""
    router = _router
    with (prints_in_context if in_context else prints_to)(router.target if router is not None else sys.stdout):
        yield


@contextlib.contextmanager
def prints_in_context(stream: Any) -> Iterator[None]:
    """Within the block, what the code of this context prints (an asyncio task's, and
    the tasks it starts) goes to ``stream`` (unless its thread's prints go elsewhere)."""
    token = _CONTEXT_STREAM.set(stream)
    try:
        with _routing():
            yield
    finally:
        _CONTEXT_STREAM.reset(token)


@contextlib.contextmanager
def _routing() -> Iterator[None]:
    """``sys.stdout`` is the router within the block."""
    global _router, _users
    with _lock:
        if _users == 0:
            _router = _Router(sys.stdout)
            sys.stdout = _router
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _router is not None:
                if sys.stdout is _router:  # (unless someone replaced it meanwhile)
                    sys.stdout = _router.target
                _router = None
