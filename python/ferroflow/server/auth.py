"""Who may call what: API keys and roles.

Every route declares the role it needs with :func:`requires`::

    @router.get("/runs", dependencies=[requires("read")])

``requires("read" | "run" | "admin")`` lets through a request that carries
``Authorization: Bearer KEY`` with a valid (not revoked) key of that role or a
stronger one (``read`` < ``run`` < ``admin``), answers ``401`` without a valid key and
``403`` with a key too weak. ``requires(None)`` declares a public route (health).
A test enumerates the application's routes and fails for any route under ``/api/v1``
that declares no role.

With authentication off (the server listens on a loopback address and ``--auth`` was
not given) every request acts as ``admin``. Keys are found by their SHA-256 (see
:mod:`ferroflow.store.keys`); a key is never logged. ``last_used_at`` is written at
most once a minute per key.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from ferroflow.server.errors import Problem
from ferroflow.store.keys import ROLES, find_key, role_allows, touch_key

__all__ = ["Authenticator", "Principal", "RoleCheck", "declared_role", "requires"]

#: How often ``last_used_at`` of one key is written, at most (seconds).
TOUCH_EVERY = 60.0

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer KEY` "
                                                    "(`ferroflow server create-key`)")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the key's name and role (``admin`` with auth off)."""

    name: str
    role: str
    key_id: int | None = None


class Authenticator:
    """Checks keys against the database of ``engine`` (``enabled`` False: everyone is
    admin)."""

    def __init__(self, engine: Engine, enabled: bool):
        self.engine = engine
        self.enabled = enabled
        self._touched: dict[int, float] = {}
        self._lock = threading.Lock()

    def principal(self, key: str | None) -> Principal:
        """Who ``key`` is; :class:`Problem` 401 when it is missing or not valid."""
        if not self.enabled:
            return Principal("(authentication off)", "admin")
        if not key:
            raise Problem(401, "this server needs an API key: send the header `Authorization: Bearer KEY` "
                               "(an admin makes keys with `ferroflow server create-key`)", headers=_CHALLENGE)
        with self.engine.connect() as conn:
            found = find_key(conn, key)
        if found is None or not found.active:
            raise Problem(401, "the API key is not valid (unknown or revoked): check FERROFLOW_API_KEY, or ask an "
                               "admin for a new key", headers=_CHALLENGE)
        self._touch(found.id)
        return Principal(found.name, found.role, found.id)

    def _touch(self, key_id: int) -> None:
        now = time.time()
        with self._lock:
            if now - self._touched.get(key_id, 0.0) < TOUCH_EVERY:
                return
            self._touched[key_id] = now
        with self.engine.begin() as conn:
            touch_key(conn, key_id, now)


def _authenticator(request: Request) -> Authenticator:
    return request.app.state.authenticator


class RoleCheck:
    """The dependency :func:`requires` declares: ``role`` None for a public route."""

    def __init__(self, role: str | None):
        if role is not None and role not in ROLES:
            raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}, or None for a public route")
        self.role = role

    def __call__(self, request: Request,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
        if self.role is None:
            return Principal("(public)", "read")
        principal = _authenticator(request).principal(credentials.credentials if credentials else None)
        if not role_allows(principal.role, self.role):
            raise Problem(403, f"this needs a key with role {self.role!r} or stronger; key {principal.name!r} has "
                               f"role {principal.role!r} (roles: read < run < admin)")
        request.state.principal = principal
        return principal


class PublicCheck(RoleCheck):
    """A public route's declaration: no key needed, none read."""

    def __init__(self) -> None:
        super().__init__(None)

    def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        return Principal("(public)", "read")


def requires(role: str | None) -> Any:
    """The dependency declaring a route's role: ``"read"``, ``"run"``, ``"admin"``, or
    None for a public route. Use it in the route's ``dependencies=[...]``."""
    return Depends(PublicCheck() if role is None else RoleCheck(role))


def declared_role(route: Any) -> tuple[bool, str | None]:
    """``(declared, role)`` of a route: whether it declares a role with
    :func:`requires`, and which (None: public)."""
    for dependency in getattr(route, "dependencies", []) or []:
        check = getattr(dependency, "dependency", None)
        if isinstance(check, RoleCheck):
            return True, check.role
    return False, None
