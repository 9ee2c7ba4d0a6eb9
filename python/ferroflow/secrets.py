"""Secrets for flows: ``ferroflow.secrets.get("NAME")``.

::

    from ferroflow import secrets

    password = secrets.get("DB_PASSWORD")   # the value, registered to be scrubbed

Where secrets come from:

* with a server configured (``FERROFLOW_API_URL``, its base URL), through it:
  ``GET /api/v1/secrets/NAME/value`` with the API key in ``FERROFLOW_API_KEY`` (a key
  of role ``run``; ``admin`` to set or delete them);
* otherwise from the database: ``FERROFLOW_DATABASE_URL``, else the embedded SQLite
  file ``$FERROFLOW_HOME/runs.db``, decrypted here with ``FERROFLOW_SECRET_KEY``.

A value read is registered for scrubbing (:mod:`ferroflow.redaction`): from then on it
is replaced by ``********`` in everything this process records or sends (logs, states,
the run store, notifications). It is kept for the life of the process: a secret is
read once per process, so a value changed meanwhile is seen by new processes.

The ``Secret("NAME")`` task (``ferroflow.tasks.Secret``, Prefect 1's ``PrefectSecret``)
calls :func:`get`. See ``docs/secrets.md``.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from ferroflow import redaction
from ferroflow.errors import SecretError, SecretKeyError, UnknownSecretError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from ferroflow.store.secret_store import SecretInfo

__all__ = ["API_URL_ENV", "API_KEY_ENV", "get", "set", "names", "delete", "forget", "SecretError",
           "SecretKeyError", "UnknownSecretError"]

#: The server to read secrets through (its base URL, ``http://host:4300``).
API_URL_ENV = "FERROFLOW_API_URL"
#: The API key sent to it (``Authorization: Bearer KEY``).
API_KEY_ENV = "FERROFLOW_API_KEY"
#: Seconds a request to the server may take.
TIMEOUT = 30.0

_values: dict[str, str] = {}  # name -> value, read by this process
_engines: dict[str, Any] = {}  # database URL -> migrated engine
_lock = threading.Lock()


def get(name: str) -> str:
    """The value of secret ``name`` (through the server when one is configured, else
    from the database), registered to be scrubbed from everything recorded.

    Raises:
        UnknownSecretError: there is no such secret.
        SecretKeyError: ``FERROFLOW_SECRET_KEY`` is missing or does not match.
        SecretError: the name is not valid, or the server refused or cannot be reached.
    """
    value = _values.get(name)
    if value is None:
        from ferroflow.store.secret_store import check_name, get_secret

        check_name(name)
        server = _server()
        if server is not None:
            value = _value_from_server(server, name)
        else:
            value = get_secret(_engine(), name)
        _register(name, value)
        _values[name] = value
    else:
        redaction.register(value)  # (a process that cleared the registry, in tests)
    return value


def set(name: str, value: str) -> SecretInfo:
    """Set secret ``name`` to ``value`` (through the server, with an ``admin`` key, when
    one is configured), and register it to be scrubbed here."""
    from ferroflow.store.secret_store import SecretInfo, check_name, check_value, set_secret

    check_name(name)
    check_value(name, value)
    server = _server()
    if server is not None:
        data = _request(server, "PUT", f"/secrets/{name}", name, json={"value": value}).json()
        info = SecretInfo(data["name"], float(data["created_at"]), float(data["updated_at"]))
    else:
        info = set_secret(_engine(), name, value)
    redaction.register(value)
    _values[name] = value
    return info


def names() -> list[SecretInfo]:
    """Every secret's name and times (never a value)."""
    from ferroflow.store.secret_store import SecretInfo, list_secrets

    server = _server()
    if server is None:
        return list_secrets(_engine())
    rows = _request(server, "GET", "/secrets", None).json()
    return [SecretInfo(row["name"], float(row["created_at"]), float(row["updated_at"])) for row in rows]


def delete(name: str) -> bool:
    """Delete secret ``name``; whether there was one."""
    from ferroflow.store.secret_store import check_name, delete_secret

    check_name(name)
    _values.pop(name, None)
    server = _server()
    if server is None:
        return delete_secret(_engine(), name)
    try:
        _request(server, "DELETE", f"/secrets/{name}", name)
    except UnknownSecretError:
        return False
    return True


def forget() -> None:
    """Forget the values this process read (the next :func:`get` reads again); they
    stay registered for scrubbing."""
    _values.clear()


# ----- where secrets are -----------------------------------------------------------------


def _register(name: str, value: str) -> None:
    try:
        redaction.register(value)
    except (TypeError, ValueError) as exc:
        raise SecretError(f"secret {name!r} cannot be used: {exc}") from None


def _engine() -> Engine:
    """The engine of the default database, its schema created (once per process)."""
    from ferroflow.store.database import default_database_url, make_engine
    from ferroflow.store.migrations import migrate

    url = default_database_url()
    engine = _engines.get(url)
    if engine is None:
        with _lock:
            engine = _engines.get(url)
            if engine is None:
                engine = make_engine(url)
                migrate(engine)
                _engines[url] = engine
    return engine


def _server() -> tuple[str, dict] | None:
    """``(API base URL, headers)`` of the configured server, or None."""
    url = os.environ.get(API_URL_ENV, "").strip().rstrip("/")
    if not url:
        return None
    if url.endswith("/api/v1"):
        url = url[: -len("/api/v1")]
    key = os.environ.get(API_KEY_ENV, "").strip()
    return url + "/api/v1", ({"Authorization": f"Bearer {key}"} if key else {})


def _request(server: tuple[str, dict], method: str, path: str, name: str | None, json: Any = None) -> Any:
    """An answer of the server, or the error it means (never showing a value)."""
    import httpx

    base, headers = server
    try:
        response = httpx.request(method, base + path, headers=headers, json=json, timeout=TIMEOUT)
    except httpx.HTTPError as exc:
        raise SecretError(f"the server at {base} cannot be reached for secrets ({type(exc).__name__})") from None
    status = response.status_code
    if status < 400:
        return response
    what = f"secret {name!r}" if name is not None else "the secrets"
    if status == 404 and name is not None:
        raise UnknownSecretError(f"the server at {base} has no secret {name!r}")
    if status in (401, 403):
        raise SecretError(f"the server at {base} refused access to {what} ({status}): {API_KEY_ENV} must hold a "
                          "key of role run to read secrets, admin to set or delete them")
    try:
        detail = str(response.json().get("detail", ""))[:300]
    except Exception:  # not JSON
        detail = ""
    raise SecretError(f"the server at {base} failed on {what} ({status})" + (f": {redaction.scrub(detail)}"
                                                                              if detail else ""))


def _value_from_server(server: tuple[str, dict], name: str) -> str:
    data = _request(server, "GET", f"/secrets/{name}/value", name).json()
    value = data.get("value") if isinstance(data, dict) else None
    if not isinstance(value, str):
        raise SecretError(f"the server at {server[0]} answered for secret {name!r} without a value")
    return value
