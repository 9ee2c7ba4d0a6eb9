"""The server's API keys: made, listed, found and revoked in the ``api_keys`` table.

A key is ``ffk_`` and 43 random URL-safe characters (:func:`secrets.token_urlsafe`,
256 bits). The database keeps only the key's SHA-256 (``hash``) and its first twelve
characters (``prefix``, to tell keys apart in listings); the key itself is shown once,
when it is made. A plain, unsalted, fast hash is right here (unlike for passwords):
salting and slow hashing defend against guessing *low-entropy* secrets from a stolen
hash, and a 256-bit random key cannot be guessed from its hash however fast the hash
is; a fast hash also lets every request find its key by an index lookup.

Roles are ordered ``read`` < ``run`` < ``admin``: a key may do what its role and every
role below it may.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import Connection, select, update

from ferroflow.store.schema import api_keys

__all__ = ["ROLES", "KEY_PREFIX", "ApiKey", "UnknownKeyError", "create_key", "find_key", "hash_key", "list_keys",
           "revoke_key", "role_allows", "touch_key"]

#: The roles, weakest first.
ROLES = ("read", "run", "admin")
#: Every key starts with this, so that a key pasted somewhere is recognisable.
KEY_PREFIX = "ffk_"
#: Characters of a key kept in clear (``ffk_`` and eight of the random part).
SHOWN = 12
#: Longest key name.
MAX_NAME = 100


@dataclass(frozen=True)
class ApiKey:
    """An API key as the database keeps it (never the key itself). Times are seconds
    since the epoch; ``revoked_at`` None while the key is valid."""

    id: int
    name: str
    prefix: str
    role: str
    created_at: float
    revoked_at: float | None
    last_used_at: float | None

    @property
    def active(self) -> bool:
        """Whether the key is valid (not revoked)."""
        return self.revoked_at is None


class UnknownKeyError(LookupError):
    """No key has this id or prefix (or several have this prefix)."""

    def __str__(self) -> str:
        return str(self.args[0])


def hash_key(key: str) -> str:
    """The SHA-256 of a key, in hex: what the database keeps."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def role_allows(role: str, needed: str) -> bool:
    """Whether a key of ``role`` may do what needs ``needed``."""
    return ROLES.index(role) >= ROLES.index(needed)


def _check(name: str, role: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise ValueError(f"a key's name is 1 to {MAX_NAME} printable characters, got {name!r}")


_COLUMNS = (api_keys.c.id, api_keys.c.name, api_keys.c.prefix, api_keys.c.role, api_keys.c.created_at,
            api_keys.c.revoked_at, api_keys.c.last_used_at)


def create_key(conn: Connection, name: str, role: str) -> tuple[str, ApiKey]:
    """Make a key named ``name`` with ``role``; return the key (shown once: it is not
    kept) and its record. ValueError for an unknown role or a bad name."""
    _check(name, role)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    now = time.time()
    key_id = conn.execute(api_keys.insert().values(
        name=name, prefix=key[:SHOWN], hash=hash_key(key), role=role, created_at=now).returning(api_keys.c.id)
    ).scalar_one()
    return key, ApiKey(int(key_id), name, key[:SHOWN], role, now, None, None)


def list_keys(conn: Connection, include_revoked: bool = True) -> list[ApiKey]:
    """Every key, oldest first."""
    query = select(*_COLUMNS).order_by(api_keys.c.id)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    return [ApiKey(*row) for row in conn.execute(query)]


def find_key(conn: Connection, key: str) -> ApiKey | None:
    """The record of ``key`` (revoked or not), or None when no key is it. Found by its
    hash (an index lookup), and the hash compared again in constant time."""
    digest = hash_key(key)
    row = conn.execute(select(*_COLUMNS, api_keys.c.hash).where(api_keys.c.hash == digest)).first()
    if row is None or not hmac.compare_digest(row.hash, digest):
        return None
    return ApiKey(*row[:-1])


def _resolve(conn: Connection, ident: str | int) -> ApiKey:
    text = str(ident).strip()
    if text.isdigit():
        rows: list = list(conn.execute(select(*_COLUMNS).where(api_keys.c.id == int(text))).all())
    elif len(text) > SHOWN:  # a whole key: the one whose hash it is
        whole = find_key(conn, text)
        rows = [] if whole is None else [tuple(vars(whole).values())]
    else:
        rows = list(conn.execute(select(*_COLUMNS).where(api_keys.c.prefix == text)).all())
    if not rows:
        raise UnknownKeyError(f"no API key has id or prefix {text[:SHOWN]!r} (see `ferroflow server keys`)")
    if len(rows) > 1:
        raise UnknownKeyError(f"several API keys have prefix {text!r}: name one by id "
                              f"({', '.join(str(r[0]) for r in rows)})")
    return ApiKey(*rows[0])


def revoke_key(conn: Connection, ident: str | int) -> ApiKey:
    """Revoke the key with id ``ident`` (or whose prefix it is); return its record. A
    key revoked already stays as it was. Raises :class:`UnknownKeyError`."""
    found = _resolve(conn, ident)
    if found.revoked_at is not None:
        return found
    now = time.time()
    conn.execute(update(api_keys).where(api_keys.c.id == found.id, api_keys.c.revoked_at.is_(None))
                 .values(revoked_at=now))
    return ApiKey(found.id, found.name, found.prefix, found.role, found.created_at, now, found.last_used_at)


def touch_key(conn: Connection, key_id: int, now: float | None = None) -> None:
    """Note that key ``key_id`` was used (``last_used_at``)."""
    conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(last_used_at=time.time() if now is None
                                                                         else now))
