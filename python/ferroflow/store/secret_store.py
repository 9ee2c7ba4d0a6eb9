"""Secrets in the database, encrypted at rest (the ``secrets`` table of ``store/schema.py``).

Each value is encrypted with Fernet (AES-128-CBC and HMAC-SHA256, from the
``cryptography`` package) under the key in ``FERROFLOW_SECRET_KEY``, which is either

* a Fernet key (``ferroflow secret key`` prints a new random one): used as it is; or
* a passphrase of at least :data:`MIN_PASSPHRASE` characters: each secret gets a
  random 16-byte salt and its key is derived from the passphrase and the salt with
  scrypt (n=2**15, r=8, p=1), so that a guess at the passphrase costs a guesser
  about 100 ms and 32 MiB per secret tried.

The stored ciphertext says which (``ffs1:k:<token>`` or ``ffs1:p:<salt>:<token>``).
Every secret of a database is encrypted under the same key: setting one with a key
that does not open the others is refused, and :func:`rotate_keys` re-encrypts them all
under a new key in one transaction. Nothing here puts a value or a ciphertext in a
message or an exception: a wrong key is a :class:`~ferroflow.errors.SecretKeyError`
saying that the key does not match.

Every function takes a SQLAlchemy engine (``ferroflow.store.database.make_engine``)
of a migrated database: SQLite or PostgreSQL alike.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import os
import re
import time
from typing import TYPE_CHECKING

from ferroflow.errors import SecretError, SecretKeyError, UnknownSecretError
from ferroflow.redaction import MASK, MIN_LENGTH
from ferroflow.store.database import writing

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ["KEY_ENV", "MIN_PASSPHRASE", "MAX_VALUE", "SecretInfo", "new_key", "key_from_env", "check_name",
           "check_value", "set_secret", "get_secret", "list_secrets", "delete_secret", "rotate_keys",
           "check_secret_key"]

#: The environment variable holding the key (a Fernet key or a passphrase).
KEY_ENV = "FERROFLOW_SECRET_KEY"
#: The shortest passphrase accepted as a key.
MIN_PASSPHRASE = 16
#: The longest secret value (characters).
MAX_VALUE = 65536
#: What a secret's name may be: letters, digits, ``_``, ``.`` and ``-`` (not first),
#: at most 128 characters (it is a part of the server's URLs).
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")

_KEYED, _DERIVED = b"ffs1:k:", b"ffs1:p:"
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}


@dataclasses.dataclass(frozen=True)
class SecretInfo:
    """What may be shown of a secret: its name and when it was created and last set
    (seconds since the epoch); never its value."""

    name: str
    created_at: float
    updated_at: float


def new_key() -> str:
    """A new random Fernet key (44 characters of URL-safe base64): a value for
    ``FERROFLOW_SECRET_KEY``."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


def key_from_env() -> str:
    """The key in ``FERROFLOW_SECRET_KEY``; a :class:`SecretKeyError` saying how to
    make one when it is not set."""
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise SecretKeyError(f"{KEY_ENV} is not set: secrets are encrypted with the key it holds. Make one with "
                             f"`ferroflow secret key` (or use a passphrase of {MIN_PASSPHRASE} characters or more), "
                             "keep it safe, and set it wherever secrets are set or read")
    return key


def check_name(name: object) -> str:
    """``name`` if it is a valid secret name, else a :class:`SecretError` saying what
    a name may be."""
    if not isinstance(name, str) or NAME.match(name) is None:
        shown = repr(name) if isinstance(name, str) and len(name) <= 140 else f"a {type(name).__name__}"
        raise SecretError(f"{shown} is not a valid secret name: use 1 to 128 letters, digits, '_', '.' and '-' "
                          "(not starting with '.' or '-')")
    return name


def check_value(name: str, value: object) -> str:
    """``value`` if it can be a secret's value: a ``str`` of :data:`MIN_LENGTH` to
    :data:`MAX_VALUE` characters, not only asterisks. The error never shows it."""
    if not isinstance(value, str):
        raise SecretError(f"the value of secret {name!r} must be a str, not {type(value).__name__}")
    if len(value) < MIN_LENGTH:
        raise SecretError(f"the value of secret {name!r} is {len(value)} character(s) long: a secret must have at "
                          f"least {MIN_LENGTH}, since ferroflow scrubs secret values from every log and record, "
                          "and a shorter one would be scrubbed from ordinary text everywhere")
    if len(value) > MAX_VALUE:
        raise SecretError(f"the value of secret {name!r} is {len(value)} characters long; the limit is {MAX_VALUE}")
    if not value.strip("*"):
        raise SecretError(f"the value of secret {name!r} is made of asterisks only, like the {MASK!r} that "
                          "replaces secrets in logs: choose another")
    return value


# ----- encryption ---------------------------------------------------------------------


def _fernet_key(text: str) -> bytes | None:
    """``text`` as a Fernet key (32 bytes in URL-safe base64), or None if it is not one."""
    raw = text.encode("utf-8")
    if len(raw) != 44:
        return None
    try:
        decoded = base64.urlsafe_b64decode(raw)
    except (binascii.Error, ValueError):
        return None
    return raw if len(decoded) == 32 else None


@functools.lru_cache(maxsize=256)
def _derive(passphrase: str, salt: bytes) -> bytes:
    """The Fernet key of ``passphrase`` and ``salt`` (scrypt; cached per process)."""
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    raw = Scrypt(salt=salt, length=32, **_SCRYPT).derive(passphrase.encode("utf-8"))
    return base64.urlsafe_b64encode(raw)


def _encrypt(value: str, key: str) -> bytes:
    from cryptography.fernet import Fernet

    data = value.encode("utf-8")
    fernet_key = _fernet_key(key)
    if fernet_key is not None:
        return _KEYED + Fernet(fernet_key).encrypt(data)
    if len(key) < MIN_PASSPHRASE:
        raise SecretKeyError(f"{KEY_ENV} is neither a Fernet key (`ferroflow secret key` makes one) nor a passphrase "
                             f"of at least {MIN_PASSPHRASE} characters (it has {len(key)})")
    salt = os.urandom(16)
    return _DERIVED + base64.urlsafe_b64encode(salt) + b":" + Fernet(_derive(key, salt)).encrypt(data)


def _decrypt(name: str, blob: bytes, key: str) -> str:
    from cryptography.fernet import Fernet, InvalidToken

    blob = bytes(blob)
    if blob.startswith(_KEYED):
        fernet_key = _fernet_key(key)
        if fernet_key is None:
            raise SecretKeyError(f"secret {name!r} cannot be decrypted: it was encrypted with a Fernet key, and "
                                 f"{KEY_ENV} holds a passphrase; the key does not match")
        fernet, token = Fernet(fernet_key), blob[len(_KEYED):]
    elif blob.startswith(_DERIVED):
        salt, _, token = blob[len(_DERIVED):].partition(b":")
        try:
            fernet = Fernet(_derive(key, base64.urlsafe_b64decode(salt)))
        except (binascii.Error, ValueError):
            raise SecretError(f"secret {name!r} is damaged in the database (its salt cannot be read)") from None
    else:
        raise SecretError(f"secret {name!r} is stored in a format this ferroflow does not know "
                          "(written by a newer ferroflow?)")
    try:
        return fernet.decrypt(token).decode("utf-8")
    except InvalidToken:
        raise SecretKeyError(f"secret {name!r} cannot be decrypted: {KEY_ENV} does not match the key it was "
                             "encrypted with (after a key change, re-encrypt with `ferroflow secret rotate "
                             "--old-key-env VAR`)") from None


# ----- the table -----------------------------------------------------------------------


def _check_key_opens_others(conn: Connection, name: str, key: str) -> None:
    """Refuse ``key`` unless it opens the secrets already stored (one of them, the
    oldest other than ``name``): every secret of a database shares one key."""
    from sqlalchemy import select

    from ferroflow.store.schema import secrets

    row = conn.execute(select(secrets.c.name, secrets.c.ciphertext).where(secrets.c.name != name)
                       .order_by(secrets.c.created_at, secrets.c.name).limit(1)).first()
    if row is None:
        return
    try:
        _decrypt(row.name, row.ciphertext, key)
    except SecretKeyError:
        raise SecretKeyError(f"secret {name!r} was not set: {KEY_ENV} does not match the key the secrets already "
                             f"stored were encrypted with (secret {row.name!r} cannot be decrypted with it). Use "
                             "that key, or re-encrypt them all with `ferroflow secret rotate --old-key-env VAR`") \
            from None


def set_secret(engine: Engine, name: str, value: str, key: str | None = None) -> SecretInfo:
    """Store secret ``name`` (a new one, or a new value for one), encrypted under
    ``key`` (default: ``FERROFLOW_SECRET_KEY``)."""
    from sqlalchemy import insert, select, update
    from sqlalchemy.exc import IntegrityError

    from ferroflow.store.schema import secrets

    check_name(name)
    check_value(name, value)
    key = key_from_env() if key is None else key
    blob = _encrypt(value, key)
    for attempt in range(2):
        now = time.time()
        try:
            with writing(engine) as conn, conn.begin():
                _check_key_opens_others(conn, name, key)
                created = conn.execute(select(secrets.c.created_at).where(secrets.c.name == name)).scalar()
                if created is None:
                    created = now
                    conn.execute(insert(secrets).values(name=name, ciphertext=blob, created_at=now, updated_at=now))
                else:
                    conn.execute(update(secrets).where(secrets.c.name == name)
                                 .values(ciphertext=blob, updated_at=now))
            return SecretInfo(name, float(created), now)
        except IntegrityError:  # set at the same time by another process: update it
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def get_secret(engine: Engine, name: str, key: str | None = None) -> str:
    """The value of secret ``name``, decrypted with ``key`` (default:
    ``FERROFLOW_SECRET_KEY``). Raises :class:`UnknownSecretError` when there is none,
    :class:`SecretKeyError` when the key does not match."""
    from sqlalchemy import select

    from ferroflow.store.schema import secrets

    check_name(name)
    with engine.connect() as conn:
        blob = conn.execute(select(secrets.c.ciphertext).where(secrets.c.name == name)).scalar()
    if blob is None:
        raise UnknownSecretError(f"there is no secret {name!r} (set it with `ferroflow secret set {name}`)")
    return _decrypt(name, blob, key_from_env() if key is None else key)


def list_secrets(engine: Engine) -> list[SecretInfo]:
    """Every secret's name and times, by name (no key needed: nothing is decrypted)."""
    from sqlalchemy import select

    from ferroflow.store.schema import secrets

    with engine.connect() as conn:
        rows = conn.execute(select(secrets.c.name, secrets.c.created_at, secrets.c.updated_at)
                            .order_by(secrets.c.name)).all()
    return [SecretInfo(row.name, float(row.created_at), float(row.updated_at)) for row in rows]


def delete_secret(engine: Engine, name: str) -> bool:
    """Delete secret ``name``; whether there was one."""
    from sqlalchemy import delete

    from ferroflow.store.schema import secrets

    check_name(name)
    with writing(engine) as conn, conn.begin():
        return bool(conn.execute(delete(secrets).where(secrets.c.name == name)).rowcount)


def rotate_keys(engine: Engine, old_key: str, new_key: str) -> int:
    """Re-encrypt every secret under ``new_key``, in one transaction: if any one cannot
    be decrypted with ``old_key``, nothing changes (the error names it). Returns how
    many were re-encrypted."""
    from sqlalchemy import select, update

    from ferroflow.store.schema import secrets

    _encrypt("test", new_key)  # a key that cannot encrypt fails before anything is read
    with writing(engine) as conn, conn.begin():
        rows = conn.execute(select(secrets.c.name, secrets.c.ciphertext).order_by(secrets.c.name)).all()
        for row in rows:
            value = _decrypt(row.name, row.ciphertext, old_key)
            conn.execute(update(secrets).where(secrets.c.name == row.name)
                         .values(ciphertext=_encrypt(value, new_key), updated_at=time.time()))
    return len(rows)


def check_secret_key(engine: Engine, key: str | None = None) -> None:
    """For the server's start: raise :class:`SecretKeyError` when secrets are stored and
    ``key`` (default: ``FERROFLOW_SECRET_KEY``) is missing or does not decrypt them
    (the oldest one is tried). Nothing is checked while there are no secrets."""
    from sqlalchemy import func, select

    from ferroflow.store.schema import secrets

    with engine.connect() as conn:
        count = conn.execute(select(func.count()).select_from(secrets)).scalar() or 0
        oldest = conn.execute(select(secrets.c.name, secrets.c.ciphertext)
                              .order_by(secrets.c.created_at, secrets.c.name).limit(1)).first()
    if not count or oldest is None:
        return
    if key is None:
        if not os.environ.get(KEY_ENV, "").strip():
            raise SecretKeyError(f"{count} secret(s) are stored in this database, and {KEY_ENV} is not set: the "
                                 "server cannot serve them without the key they were encrypted with. Set "
                                 f"{KEY_ENV} to that key and start again")
        key = key_from_env()
    _decrypt(oldest.name, oldest.ciphertext, key)
