"""Where a running flow takes and frees tag concurrency slots: the database directly
(:class:`DatabaseSlots`, a run recorded in the embedded store or any database) or a
ferroflow server's API (:class:`ServerSlots`, a run recorded through a server).

A run store gives its access with :meth:`ferroflow.store.RunStore.concurrency_slots`
(None: no limits apply, recording is off). The access is picklable: a task run in
another process (the ``processes`` executor) takes its slots itself, through a
connection (or an HTTP client) its process opens on first use; the engine and the
connection never travel. What the slots mean is :mod:`ferroflow.store.concurrency`'s;
this module imports no SQLAlchemy until a database is used.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["Acquired", "DatabaseSlots", "ServerSlots", "SlotAccess"]


@dataclass(frozen=True)
class Acquired:
    """The answer to an acquisition: ``acquired``; else ``blocked_by``, the tags whose
    limit is reached, or ``run_state``, the state of a flow run that may not take slots
    any more (it ended, or is being cancelled)."""

    acquired: bool
    blocked_by: list
    run_state: str | None = None


class SlotAccess:
    """Takes and frees slots (see the module docstring)."""

    def limited_tags(self, tags: Iterable[str]) -> set:  # pragma: no cover - interface
        """Which of ``tags`` have a limit."""
        raise NotImplementedError

    def acquire(self, run_id: str, holder: str, tags: Iterable[str]) -> Acquired:  # pragma: no cover - interface
        """Take one slot of every limited tag of ``tags`` for ``holder``, or none."""
        raise NotImplementedError

    def release(self, holder: str) -> int:  # pragma: no cover - interface
        """Free the slots ``holder`` holds; how many."""
        raise NotImplementedError

    def release_run(self, run_id: str) -> int:  # pragma: no cover - interface
        """Free the slots every task run of flow run ``run_id`` holds; how many."""
        raise NotImplementedError


class DatabaseSlots(SlotAccess):
    """Slots in the database at ``url``. ``store``: the run store (of this process)
    whose engine to use (it disposes of it); a copy in another process makes an engine
    of its own on first use."""

    def __init__(self, url: str, busy_timeout: float, store: Any = None):
        self.url = url
        self.busy_timeout = float(busy_timeout)
        self._store = store
        self._engine: Any = None
        self._pid = os.getpid()

    def __repr__(self) -> str:
        from ferroflow.store.database import location_of

        return f"<DatabaseSlots {location_of(self.url)}>"

    def __getstate__(self) -> dict:
        return {"url": self.url, "busy_timeout": self.busy_timeout}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["url"], state["busy_timeout"])  # type: ignore[misc]

    @property
    def engine(self) -> Any:
        if self._store is not None and self._pid == os.getpid():
            return self._store.engine
        if self._engine is None or self._pid != os.getpid():
            from ferroflow.store.database import make_engine

            self._engine, self._pid = make_engine(self.url, self.busy_timeout), os.getpid()
        return self._engine

    def limited_tags(self, tags):
        from ferroflow.store import concurrency

        return concurrency.limited_tags(self.engine, tags)

    def acquire(self, run_id, holder, tags):
        from ferroflow.store import concurrency

        return concurrency.acquire_slots(self.engine, run_id, holder, tags)

    def release(self, holder):
        from ferroflow.store import concurrency

        return concurrency.release_slots(self.engine, holder)

    def release_run(self, run_id):
        from ferroflow.store import concurrency

        return concurrency.release_run(self.engine, run_id)


class ServerSlots(SlotAccess):
    """Slots through the server at ``url`` (``/api/v1/concurrency-limits``), with API
    key ``api_key`` (never shown)."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self._api_key = api_key
        self.timeout = float(timeout)
        self._client: Any = None
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"<ServerSlots {self.url}>"  # never the key

    def __getstate__(self) -> dict:
        return {"url": self.url, "api_key": self._api_key, "timeout": self.timeout}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["url"], state["api_key"], state["timeout"])  # type: ignore[misc]

    @property
    def client(self) -> Any:
        if self._client is None or self._pid != os.getpid():
            from ferroflow.client.http import Client

            self._client, self._pid = Client(self.url, api_key=self._api_key, timeout=self.timeout), os.getpid()
        return self._client

    def limited_tags(self, tags):
        wanted = set(tags)
        if not wanted:
            return set()
        from ferroflow.client.http import ClientError

        try:
            found = self.client.get("/api/v1/concurrency-limits")
        except ClientError as exc:
            if exc.status == 404:  # a server older than tag limits: none applies
                return set()
            raise
        return {x["tag"] for x in found} & wanted

    def acquire(self, run_id, holder, tags):
        found = self.client.post("/api/v1/concurrency-limits/acquire",
                                 {"run_id": run_id, "holder": holder, "tags": sorted(set(tags))})
        return Acquired(bool(found["acquired"]), list(found.get("blocked_by") or []), found.get("run_state"))

    def release(self, holder):
        return int(self.client.post("/api/v1/concurrency-limits/release", {"holder": holder})["released"])

    def release_run(self, run_id):
        return int(self.client.post("/api/v1/concurrency-limits/release", {"run_id": run_id})["released"])
