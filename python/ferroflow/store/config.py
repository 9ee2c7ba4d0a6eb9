"""Where the run store lives and whether runs are recorded.

* ``FERROFLOW_HOME``: ferroflow's home directory (default ``~/.ferroflow``); the run
  store is the file ``runs.db`` in it.
* ``FERROFLOW_DATABASE_URL``: the database runs are recorded into instead (a URL,
  ``postgresql://...`` or ``sqlite:///PATH``, or a path); see
  :mod:`ferroflow.store.database`.
* ``FERROFLOW_RECORD``: ``0`` (or ``false``, ``no``, ``off``) turns recording off.
* ``FERROFLOW_API_URL``: a ferroflow server's URL: runs record through it, and
  ``ferroflow runs`` and ``logs`` read from it.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

from ferroflow.store.base import NullRunStore, RunStore

__all__ = ["API_URL_ENV", "HOME_ENV", "DATABASE_ENV", "RECORD_ENV", "STORE_FILE", "ferroflow_home", "make_home",
           "default_store_path",
           "recording_enabled", "get_run_store", "new_run_id"]

HOME_ENV = "FERROFLOW_HOME"
DATABASE_ENV = "FERROFLOW_DATABASE_URL"
RECORD_ENV = "FERROFLOW_RECORD"
#: The ferroflow server runs record through (also read by ``ferroflow.client``).
API_URL_ENV = "FERROFLOW_API_URL"
STORE_FILE = "runs.db"

_OFF = {"0", "false", "no", "off"}
_STORES: dict = {}
_STORES_LOCK = threading.Lock()
#: ($FERROFLOW_HOME, $HOME) -> the absolute path of the default store (a path made of
#: them alone: not cached when $FERROFLOW_HOME is relative, which depends on the
#: working directory). Working it out with pathlib costs more than recording a small run.
_PATHS: dict = {}


def ferroflow_home() -> Path:
    """``$FERROFLOW_HOME``, else ``~/.ferroflow`` (not created here)."""
    home = os.environ.get(HOME_ENV)
    return Path(home).expanduser() if home else Path.home() / ".ferroflow"


def make_home() -> Path:
    """:func:`ferroflow_home`, created if it is missing, readable by its owner only
    (``0700``): it holds every run's parameters, logs and kept results. A directory
    that exists already keeps its mode."""
    home = ferroflow_home()
    if not home.is_dir():
        os.makedirs(home, mode=0o700, exist_ok=True)
    return home


def default_store_path() -> Path:
    """The default run store file: ``ferroflow_home() / "runs.db"``."""
    return ferroflow_home() / STORE_FILE


def recording_enabled() -> bool:
    """False when ``FERROFLOW_RECORD`` is ``0``, ``false``, ``no`` or ``off``."""
    return os.environ.get(RECORD_ENV, "1").strip().lower() not in _OFF


def new_run_id() -> str:
    """A new flow run id: 32 hex digits (a UUID4)."""
    return uuid.uuid4().hex


def get_run_store(record: bool | None = None, server: str | None = None) -> RunStore:
    """The run store flow runs of this process record into.

    ``record=False``, or ``record=None`` with ``FERROFLOW_RECORD=0``, gives a
    :class:`~ferroflow.store.NullRunStore` that records nothing. With ``server`` (a
    ferroflow server's URL), or else ``FERROFLOW_API_URL`` set, the
    :class:`~ferroflow.store.remote.RemoteRunStore` of that server (records travel in
    batches; see ``docs/server.md``). Otherwise the
    :class:`~ferroflow.store.SQLRunStore` of ``FERROFLOW_DATABASE_URL`` when it is set,
    else the :class:`~ferroflow.store.SQLiteRunStore` at :func:`default_store_path`.
    Each is opened once per process and server or database and shared (do not close it;
    it is flushed at exit).

    Raises:
        StateStoreError: the store cannot be opened.
    """
    if record is False or (record is None and not recording_enabled()):
        return NullRunStore()
    server = server or os.environ.get(API_URL_ENV, "").strip()
    if server:
        return _remote_store(server)
    url = os.environ.get(DATABASE_ENV, "").strip()
    key = url or _store_path()
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None or store._closed or store._pid != os.getpid():
            if url:
                from ferroflow.store.sql import SQLRunStore

                store = _STORES[key] = SQLRunStore(url)
            else:
                from ferroflow.store.sqlite import SQLiteRunStore

                store = _STORES[key] = SQLiteRunStore(key)
        return store


def _remote_store(url: str) -> RunStore:
    from ferroflow.store.remote import RemoteRunStore

    key = ("remote", url.rstrip("/"))
    with _STORES_LOCK:
        store = _STORES.get(key)
        if store is None or store._closed or store._pid != os.getpid():
            store = _STORES[key] = RemoteRunStore(url)
        return store


def _store_path() -> str:
    """``os.path.abspath(default_store_path())``, from a cache while the variables it
    is made of stay the same."""
    key = (os.environ.get(HOME_ENV), os.environ.get("HOME"))
    path = _PATHS.get(key)
    if path is None:
        path = os.path.abspath(default_store_path())
        if not key[0] or os.path.isabs(os.path.expanduser(key[0])):
            _PATHS[key] = path
    return path
