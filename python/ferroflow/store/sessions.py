"""The web UI's login sessions, in the ``ui_sessions`` table.

A session is opened by logging in with an API key (or, with authentication off, by
opening the UI at all). Its token (43 random URL-safe characters, 256 bits) lives only
in the browser's cookie; the database keeps its SHA-256, as for API keys (see
:mod:`ferroflow.store.keys`), so that a copy of the database opens no session. Each
session has its own CSRF token, which every form of the UI carries.

A session is valid until it expires (:data:`LIFETIME` after it was opened) or is closed
(logging out), and only while the key it was opened with is not revoked: revoking a key
logs its sessions out at once. The role is the key's, read at every request.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, delete, select

from ferroflow.store.schema import api_keys, ui_sessions

__all__ = ["LIFETIME", "Session", "close_session", "find_session", "open_session", "purge_sessions"]

#: How long a session lasts (seconds): a working day.
LIFETIME = 12 * 3600.0


@dataclass(frozen=True)
class Session:
    """An open session: who (the key's ``name`` and ``role``; ``key_id`` None with
    authentication off), its ``csrf`` token and when it expires."""

    name: str
    role: str
    csrf: str
    key_id: int | None
    expires_at: float


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def open_session(conn: Connection, *, name: str, role: str, key_id: int | None, lifetime: float = LIFETIME,
                 now: float | None = None) -> tuple[str, Session]:
    """A new session for the key ``key_id`` (its ``name`` and ``role``): its token (for
    the cookie; not kept) and the :class:`Session`."""
    now = time.time() if now is None else now
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    conn.execute(ui_sessions.insert().values(hash=_hash(token), key_id=key_id, name=name, role=role, csrf=csrf,
                                             created_at=now, expires_at=now + lifetime))
    return token, Session(name, role, csrf, key_id, now + lifetime)


def find_session(conn: Connection, token: str, now: float | None = None) -> Session | None:
    """The valid session whose token is ``token``, or None (unknown, expired, closed, or
    its key revoked). The role is the key's current one."""
    if not token or len(token) > 200:
        return None
    now = time.time() if now is None else now
    row = conn.execute(
        select(ui_sessions.c.name, ui_sessions.c.role, ui_sessions.c.csrf, ui_sessions.c.key_id,
               ui_sessions.c.expires_at, api_keys.c.role.label("key_role"), api_keys.c.revoked_at)
        .select_from(ui_sessions.outerjoin(api_keys, api_keys.c.id == ui_sessions.c.key_id))
        .where(ui_sessions.c.hash == _hash(token))).first()
    if row is None or row.expires_at <= now:
        return None
    if row.key_id is not None and (row.key_role is None or row.revoked_at is not None):
        return None  # the key was revoked (or deleted)
    return Session(row.name, row.key_role or row.role, row.csrf, row.key_id, row.expires_at)


def close_session(conn: Connection, token: str) -> None:
    """End the session whose token is ``token`` (nothing if there is none)."""
    conn.execute(delete(ui_sessions).where(ui_sessions.c.hash == _hash(token)))


def purge_sessions(conn: Connection, now: float | None = None) -> int:
    """Forget the sessions that expired; how many."""
    now = time.time() if now is None else now
    return conn.execute(delete(ui_sessions).where(ui_sessions.c.expires_at <= now)).rowcount or 0
