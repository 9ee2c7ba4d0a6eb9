"""SIGTERM handled like Ctrl-C while ``ferroflow run`` runs a flow.

Ctrl-C raises ``KeyboardInterrupt`` in the main thread; the engine then cancels the
run (unfinished task runs ``Cancelled``), records it ``Cancelled`` in the run store and
returns. :class:`StopSignals` makes ``SIGTERM`` (``kill PID``, a service manager, a
container stopping) take that same path instead of killing the process on the spot,
which would lose the pending record batch and leave the run to be found ``Crashed``.

The first SIGINT or SIGTERM stops the run gracefully; after it both signals get the
system's default action again, so a second one ends the process at once (the run may
then be left ``Running`` and is marked ``Crashed`` later, like after ``kill -9``).
A signal the process was started with ignored (``nohup``, ``&`` in a script) stays
ignored. ``flow.run()`` itself installs no handler: signals belong to the application.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["StopSignals"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """A context manager: while inside, SIGINT and SIGTERM raise ``KeyboardInterrupt``
    in the main thread (once; then they act at once), and :attr:`received` names the
    first one. Outside the main thread it changes nothing."""

    def __init__(self) -> None:
        #: The number of the signal that stopped the run, or None.
        self.received: int | None = None
        self._previous: dict = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in _SIGNALS:
            current = signal.getsignal(sig)
            if current in (signal.SIG_DFL, signal.default_int_handler):
                self._previous[sig] = signal.signal(sig, self._stop)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}

    def _stop(self, signum: int, frame: Any) -> None:
        """The first signal: from now on both act at once; stop the run like Ctrl-C."""
        self.received = signum
        for sig in self._previous:
            signal.signal(sig, signal.SIG_DFL)
        raise KeyboardInterrupt

    def exit_code(self, default: int) -> int:
        """``128 + signal`` for the signal that stopped the run (130 for SIGINT, 143 for
        SIGTERM), else ``default``."""
        return default if self.received is None else 128 + self.received
