"""What the server does on its own, in a thread of its own, while it serves.

* Every heartbeat period (``HEARTBEAT_SECONDS``, 10 s), runs still ``Running`` whose
  process stopped beating are marked ``Crashed`` (the run store's ``reap``: a run
  recorded on the server's own machine whose process is gone at once; any other after
  six silent heartbeat periods) and their lease is revoked, so a process that comes back
  learns its run was taken (see :mod:`ferroflow.store.orphans`). For the first timeout
  after the server starts, silence alone marks nothing: while no server answered, no
  heartbeat could land, and a run must not be taken for dead for the server's downtime. Then workers' claims
  are looked after (:mod:`ferroflow.store.claims`): a ``Pending`` run whose worker
  stopped beating is given back, a ``Cancelling`` run whose process is gone ends
  ``Cancelled``, and a ``Crashed`` run of a deployment with retries left is retried.
  Finally the tag concurrency slots of runs that ended, crashed or were cancelled are
  freed (:func:`ferroflow.store.concurrency.free_slots`).
* Once an hour, the ids of record batches older than :data:`BATCH_MEMORY` (7 days) are
  forgotten: a client resends a batch within seconds (or, from a spool file, when it is
  next run), so a week is far longer than any resend; and the web UI's expired login
  sessions are deleted.

Several server processes on one database may all do this: marking a run is a
conditional update, so one of them does it and the others find nothing to do.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from ferroflow.store.concurrency import free_slots
from ferroflow.store.database import writing
from ferroflow.store.orphans import HEARTBEAT_SECONDS, HEARTBEAT_TIMEOUT
from ferroflow.store.sessions import purge_sessions

__all__ = ["BATCH_MEMORY", "Maintenance"]

log = logging.getLogger("ferroflow.server")

#: Seconds the ids of applied record batches are kept.
BATCH_MEMORY = 7 * 24 * 3600.0
_PRUNE_EVERY = 3600.0
_NEVER = 1e12  # (seconds: a heartbeat timeout no run reaches)


class Maintenance:
    """The maintenance thread of one application (``start``/``stop`` from its lifespan);
    ``store`` is called for the run store when the thread first needs it."""

    def __init__(self, store: Any, interval: float = HEARTBEAT_SECONDS):
        self._store = store
        self.interval = float(interval)
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread: threading.Thread | None = None
        self.reaped: list = []  # run ids this thread marked, newest last (for tests and logs)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="ferroflow-server-maintenance", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _claims(self, engine: Any) -> None:
        """Give back claims of workers that stopped beating, end cancelled runs whose
        process is gone, and retry crashed runs of deployments with retries left."""
        from ferroflow.store import claims

        found = claims.reap_claims(engine, self._timeout())
        for what, ids in found.items():
            if ids:
                log.warning("%s %d run(s) whose worker or process is gone: %s", what, len(ids), ", ".join(ids))
        retried = claims.retry_crashed(engine)
        if retried:
            log.warning("retrying %d crashed run(s) of deployments with retries left: %s", len(retried),
                        ", ".join(retried))

    def _timeout(self) -> float:
        """The heartbeat timeout to reap with: :data:`HEARTBEAT_TIMEOUT`, or, for that
        long after this server started, one no run reaches (processes whose heartbeats
        could not land while no server answered get a full timeout to beat again; a
        process found gone on this machine is still reaped at once)."""
        if time.monotonic() - self._started < HEARTBEAT_TIMEOUT:
            return _NEVER
        return HEARTBEAT_TIMEOUT

    def _loop(self) -> None:
        pruned_at = 0.0
        while not self._stop.wait(self.interval):
            try:
                store = self._store()
                found = store.reap(self._timeout())
                if found:
                    self.reaped.extend(found)
                    log.warning("marked %d run(s) whose process stopped beating: %s", len(found), ", ".join(found))
                self._claims(store.engine)
                free_slots(store.engine)  # tag concurrency slots of runs that ended, crashed or were cancelled
                if time.monotonic() - pruned_at >= _PRUNE_EVERY:
                    store.forget_batches(time.time() - BATCH_MEMORY)
                    with writing(store.engine) as conn, conn.begin():  # the web UI's expired sessions
                        purge_sessions(conn)
                    pruned_at = time.monotonic()
            except Exception as exc:  # the database may be away for a while: try again next time
                log.warning("server maintenance failed (tried again in %.0f s): %s", self.interval, exc)
