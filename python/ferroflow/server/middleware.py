"""ASGI middleware of the server: request bodies bounded and typed, server time told.

:class:`BodyLimit` reads a request's body before the application sees it and answers
``413`` (naming the limit) as soon as it is over the limit: at once when the
``Content-Length`` header says so, else while counting the bytes that arrive (a
chunked body, or a client that lies about its length), so an oversized body is never
held whole in memory. A body that is not JSON (``Content-Type``) is a ``415``. The
application then gets the body it was sent, unchanged.

:class:`ServerTiming` adds ``Server-Timing: app;dur=MILLISECONDS`` to every response:
the time the server spent on the request (benchmarks read it).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ferroflow.server.errors import problem_response

__all__ = ["BodyLimit", "ServerTiming", "format_size"]

Scope = dict
Message = dict


def format_size(n: int) -> str:
    """``16 MiB (16,777,216 bytes)``."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


class BodyLimit:
    """Bound request bodies: ``limit`` bytes, or for a path under a prefix of
    ``limits`` (``{"/api/v1/records": 16 MiB}``) that prefix's. Bodies under
    ``json_only`` must be JSON; elsewhere (the web UI) HTML forms are taken too."""

    def __init__(self, app: Any, limit: int, limits: Mapping[str, int] | None = None, json_only: str = "/api/"):
        self.app = app
        self.json_only = json_only
        self.limit = int(limit)
        self.limits = sorted((limits or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        """The body limit of a request path."""
        for prefix, limit in self.limits:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return int(limit)
        return self.limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = self.limit_for(path)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        too_big = problem_response(
            413, f"the request body is larger than the limit of {format_size(limit)} for {path}: send less at a "
                 f"time (record batches: split them)", limit=limit)
        declared = headers.get("content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await problem_response(400, f"the Content-Length header {declared[:40]!r} is not a number")(
                    scope, receive, send)
                return
            if length > limit:
                await too_big(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await too_big(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        kind = headers.get("content-type", "")
        if body and not _is_json(kind) and not (_is_form(kind) and not path.startswith(self.json_only)):
            await problem_response(415, f"the request body must be JSON: send it with Content-Type: "
                                        f"application/json (got {kind[:60]!r})" if kind else
                                        "the request body must be JSON: send it with Content-Type: "
                                        "application/json (the request had no Content-Type)")(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _is_json(content_type: str) -> bool:
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def _is_form(content_type: str) -> bool:
    """An HTML form's body (the web UI's, outside the API)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind in ("application/x-www-form-urlencoded", "multipart/form-data")


class ServerTiming:
    """Add ``Server-Timing: app;dur=MS`` (the time spent answering) to responses."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()

        async def timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - start) * 1000
                message = dict(message)
                message["headers"] = [*message.get("headers", []), (b"server-timing", f"app;dur={took:.3f}".encode())]
            await send(message)

        await self.app(scope, receive, timed)
