"""The scheduler thread: every ``interval`` seconds, one tick of
:func:`ferroflow.store.scheduling.schedule` on the server's database (deployments' runs
made ``horizon`` seconds ahead, runs more than ``grace`` seconds late marked ``Late``).

``ferroflow server start`` runs one in its process (unless ``--no-scheduler``);
``ferroflow scheduler`` runs one on its own. Any number may run on one database: each
(deployment, scheduled time) is made once. A tick that fails (the database away) logs
a warning and the next one tries again; an idle tick reads one short list of
deployments (those not due are remembered, not read again).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import Engine

from ferroflow.store.scheduling import ScheduleCache, ScheduleSummary, schedule

__all__ = ["DEFAULT_GRACE", "DEFAULT_HORIZON", "DEFAULT_INTERVAL", "Scheduler"]

log = logging.getLogger("ferroflow.scheduler")

#: Seconds between ticks.
DEFAULT_INTERVAL = 1.0
#: Seconds ahead that runs are made.
DEFAULT_HORIZON = 3600.0
#: Seconds after its start time that a run not started becomes ``Late``.
DEFAULT_GRACE = 60.0


class Scheduler:
    """A scheduler thread on ``engine`` (``start``/``stop``). ``ticks`` counts the ticks
    done, ``made`` the runs made, ``failures`` the ticks that failed."""

    def __init__(self, engine: Engine, interval: float = DEFAULT_INTERVAL, horizon: float = DEFAULT_HORIZON,
                 grace: float = DEFAULT_GRACE, max_ahead: int = 1000):
        if interval <= 0 or horizon < 0 or grace < 0:
            raise ValueError("interval must be > 0, horizon and grace >= 0")
        self.engine = engine
        self.interval = float(interval)
        self.horizon = float(horizon)
        self.grace = float(grace)
        self.max_ahead = int(max_ahead)
        self.cache = ScheduleCache()
        self.ticks = 0
        self.made = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start ticking in a daemon thread (the first tick at once)."""
        self._thread = threading.Thread(target=self._loop, name="ferroflow-scheduler", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to stop after the tick under way (safe in a signal handler)."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the tick under way, waiting for it up to ``timeout`` seconds."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until stopped (or ``timeout``); whether it stopped."""
        return self._stop.wait(timeout)

    def tick(self) -> ScheduleSummary | None:
        """One tick now; its summary, or None when it failed (a warning logged)."""
        try:
            summary = schedule(self.engine, horizon=self.horizon, max_ahead=self.max_ahead, grace=self.grace,
                               cache=self.cache)
        except Exception as exc:  # the database may be away for a while: try again next time
            self.failures += 1
            log.warning("scheduler tick failed (tried again in %g s): %s", self.interval, _one_line(exc))
            return None
        self.ticks += 1
        self.made += summary.made
        if summary.made or summary.late:
            log.info("scheduler: %d run(s) made, %d marked Late", summary.made, summary.late)
        return summary

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval)


def _one_line(exc: Any) -> str:
    return " ".join(str(exc).split("\n")[0].split()) or type(exc).__name__
