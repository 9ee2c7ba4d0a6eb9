"""Tag concurrency limits where they live: on a ferroflow server (through its API) or
in a database directly (:mod:`ferroflow.store.concurrency`), behind one interface, so
that ``ferroflow concurrency-limit`` takes one code path.

:func:`open_limits` picks the place as :func:`ferroflow.client.deployments.open_deployments`
does: the server at ``server`` (or ``FERROFLOW_API_URL``), else the database at
``database`` (or ``FERROFLOW_DATABASE_URL``, else the embedded SQLite store). Errors are
the store's either way: :class:`~ferroflow.store.concurrency.LimitError` for an invalid
tag or number and :class:`~ferroflow.store.concurrency.UnknownLimitError` for a tag with
no limit (a server's other errors are :class:`~ferroflow.client.http.ClientError` and
:class:`~ferroflow.client.http.Unreachable`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ferroflow.client.http import Client, ClientError, _segment, configured_url
from ferroflow.store.concurrency import ConcurrencyLimit, LimitError, UnknownLimitError

__all__ = ["LocalLimits", "ServerLimits", "open_limits"]


class LocalLimits:
    """Limits in a database (a migrated SQLAlchemy engine)."""

    def __init__(self, engine: Any):
        self.engine = engine

    def set(self, tag: str, slots: int) -> tuple[ConcurrencyLimit, bool]:
        """Set tag ``tag``'s limit; ``(limit, created)``."""
        from ferroflow.store import concurrency

        return concurrency.set_limit(self.engine, tag, slots)

    def list(self) -> list[ConcurrencyLimit]:
        """Every limit, by tag."""
        from ferroflow.store import concurrency

        return concurrency.list_limits(self.engine)

    def delete(self, tag: str) -> None:
        """Delete tag ``tag``'s limit."""
        from ferroflow.store import concurrency

        concurrency.delete_limit(self.engine, tag)


class ServerLimits:
    """Limits on a ferroflow server."""

    def __init__(self, client: Client):
        self.client = client

    def _send(self, tag: str, method: str, **kwargs: Any) -> Any:
        try:
            return self.client._send(method, f"/api/v1/concurrency-limits/{_segment(tag)}", **kwargs)
        except ClientError as exc:
            if exc.status == 404 and method != "PUT":
                raise UnknownLimitError(tag) from None
            if exc.status in (404, 422):
                raise LimitError(exc.detail or f"invalid tag {tag!r}") from None
            raise

    def set(self, tag: str, slots: int) -> tuple[ConcurrencyLimit, bool]:
        """Set tag ``tag``'s limit (``PUT``); ``(limit, created)``."""
        response = self._send(tag, "PUT", json={"slots": slots})
        return ConcurrencyLimit(**response.json()), response.status_code == 201

    def list(self) -> list[ConcurrencyLimit]:
        """Every limit, by tag."""
        return [ConcurrencyLimit(**x) for x in self.client.get("/api/v1/concurrency-limits")]

    def delete(self, tag: str) -> None:
        """Delete tag ``tag``'s limit."""
        self._send(tag, "DELETE")


@contextmanager
def open_limits(server: str | None = None, database: str | None = None) -> Iterator[Any]:
    """The limits of the server at ``server`` (default ``FERROFLOW_API_URL``), or, with
    no server or with ``database`` given, of that database (default
    ``FERROFLOW_DATABASE_URL``, else the embedded SQLite store), migrated to the current
    schema. Closed after the block."""
    url = None if database else (server or configured_url())
    if url:
        with Client(url) as client:
            yield ServerLimits(client)
        return
    from ferroflow.store.database import default_database_url, make_engine
    from ferroflow.store.migrations import migrate

    engine = make_engine(database or default_database_url())
    try:
        migrate(engine)
        yield LocalLimits(engine)
    finally:
        engine.dispose()
