"""Where a task run's prints go with ``log_stdout=True``: to the log of that task run.

``sys.stdout`` belongs to the whole process, while task runs may run in several threads
at once (the ``threads`` executor, Dask worker threads, any executor a plugin adds). So a
unit that captures prints does not swap ``sys.stdout`` for its own stream (two units
doing so restore each other's streams in the wrong order); while any unit captures,
``sys.stdout`` is a router that sends what each thread prints to the stream of the unit
that thread runs, and what other threads print to the stdout it replaced.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["prints_to"]


class _Router:
    """``sys.stdout`` while units capture prints."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def write(self, text: str) -> int:
        stream = getattr(_ROUTES, "stream", None)
        return (stream if stream is not None else self.target).write(text)

    def flush(self) -> None:
        stream = getattr(_ROUTES, "stream", None)
        (stream if stream is not None else self.target).flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, ...
        return getattr(self.target, name)


_ROUTES = threading.local()
_lock = threading.Lock()
_router: _Router | None = None
_users = 0


@contextlib.contextmanager
def prints_to(stream: Any) -> Iterator[None]:
    """Within the block, what this thread prints goes to ``stream``."""
    global _router, _users
    with _lock:
        if _users == 0:
            _router = _Router(sys.stdout)
            sys.stdout = _router
        _users += 1
    outer = getattr(_ROUTES, "stream", None)
    _ROUTES.stream = stream
    try:
        yield
    finally:
        _ROUTES.stream = outer
        with _lock:
            _users -= 1
            if _users == 0 and _router is not None:
                if sys.stdout is _router:  # (unless someone replaced it meanwhile)
                    sys.stdout = _router.target
                _router = None
