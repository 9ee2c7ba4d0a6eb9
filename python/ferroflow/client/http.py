"""The HTTP client of the ferroflow server's API.

``FERROFLOW_API_URL`` names the server, ``FERROFLOW_API_KEY`` the key sent as
``Authorization: Bearer``. Every request has a timeout. A server that cannot be
reached raises :class:`Unreachable`; an error answer (``application/problem+json``)
raises :class:`ClientError` with its status, title and detail.
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from ferroflow.store.config import API_URL_ENV

__all__ = ["API_URL_ENV", "API_KEY_ENV", "Client", "ClientError", "Unreachable", "configured_url"]

API_KEY_ENV = "FERROFLOW_API_KEY"


def configured_url() -> str | None:
    """``FERROFLOW_API_URL``, or None when no server is configured."""
    url = os.environ.get(API_URL_ENV, "").strip()
    return url or None


class Unreachable(Exception):
    """The server could not be reached, or did not answer in time."""


class ClientError(Exception):
    """The server answered with an error."""

    def __init__(self, status: int, title: str, detail: str):
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail


class Client:
    """A connection to one server (keep-alive; close it, or use it as a context manager)."""

    def __init__(self, url: str | None = None, *, api_key: str | None = None, timeout: float = 10.0):
        url = url or configured_url()
        if not url:
            raise ValueError(f"no server: pass its URL or set {API_URL_ENV}")
        self.url = url.rstrip("/")
        key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
        headers = {"User-Agent": "ferroflow"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # connect, read, write, timeouts, protocol
            raise Unreachable(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
        if response.status_code >= 400:
            try:
                problem = response.json()
                title, detail = str(problem.get("title", "")), str(problem.get("detail", ""))
            except ValueError:
                title, detail = response.reason_phrase, response.text[:500]
            raise ClientError(response.status_code, title, detail)
        return response

    def get(self, path: str, **params: Any) -> Any:
        """``GET path`` with query ``params`` (None values left out); the JSON answer."""
        return self._send("GET", path, params={k: v for k, v in params.items() if v is not None}).json()

    def post(self, path: str, body: Any = None) -> Any:
        """``POST path`` with a JSON body; the JSON answer (None for an empty one)."""
        response = self._send("POST", path, json=body)
        return response.json() if response.content else None

    def post_raw(self, path: str, body: bytes) -> Any:
        """``POST path`` with ``body``, JSON already; the JSON answer."""
        response = self._send("POST", path, content=body, headers={"Content-Type": "application/json"})
        return response.json() if response.content else None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
