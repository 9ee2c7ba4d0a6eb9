"""Errors of the run store.

A run store that cannot record what it was given says so: it raises
:class:`StateStoreError` naming the database and the operating system's error, and
never drops records silently.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence

from ferroflow.errors import FerroflowError

__all__ = [
    "AmbiguousRunIdError",
    "ResumeRefusedError",
    "RunCancelledError",
    "RunLostError",
    "StateStoreError",
    "UnknownRunError",
    "describe_postgres_error",
    "describe_sqlite_error",
]


class StateStoreError(FerroflowError):
    """The run store could not be opened, read or written.

    The message starts with the reason (``disk full``, ``read-only``, ``locked``, ...)
    and names the database path and, when one can be found, the operating system's
    error: ``disk full: cannot write the run store /home/me/.ferroflow/runs.db
    ([Errno 28] No space left on device; sqlite: database or disk is full)``.

    Attributes:
        path: the database file.
        reason: the short reason the message starts with.
        os_error: the :class:`OSError` found for the path, or None.
        lost: how many queued records were not written because of this error, and
            never will be (0 when nothing was lost, for example when the store could
            not be opened).
        pending: how many records wait to be written: kept in memory and retried (a
            store that cannot be written for a while, see ``docs/run-store.md``).
    """

    def __init__(self, reason: str, path: str, action: str = "use", detail: str | None = None,
                 os_error: OSError | None = None, lost: int = 0, pending: int = 0):
        self.reason = reason
        self.path = str(path)
        self.os_error = os_error
        self.detail = detail
        self.lost = lost
        self.pending = pending
        causes = []
        if os_error is not None:
            causes.append(str(os_error))
        if detail:
            causes.append(detail)
        message = f"{reason}: cannot {action} the run store {self.path}"
        if causes:
            message += f" ({'; '.join(causes)})"
        if lost:
            message += f"; {lost:,} queued record(s) were not written"
        if pending:
            message += f"; {pending:,} record(s) wait to be written (kept, and retried)"
        super().__init__(message)


class UnknownRunError(FerroflowError, LookupError):
    """No run with this id (nor, where a prefix is accepted, whose id starts with it) is
    recorded in the run store."""

    def __init__(self, run_id: str, path: str):
        self.run_id = run_id
        self.path = str(path)
        super().__init__(f"no run with id {run_id!r} in the run store {self.path} (see `ferroflow runs`)")

    def __str__(self) -> str:  # LookupError would quote the message like a KeyError
        return str(self.args[0])


class AmbiguousRunIdError(FerroflowError, LookupError):
    """A run id prefix matches several recorded runs (see :meth:`RunStore.resolve_run`).

    Attributes:
        prefix: the prefix given.
        matches: ids of runs it matches, most recent first (up to six: enough to show
            that there are more than five).
        path: the run store.
    """

    #: How many of the matching ids the message shows.
    SHOWN = 5

    def __init__(self, prefix: str, matches: Sequence[str], path: str):
        self.prefix = prefix
        self.matches = list(matches)
        self.path = str(path)
        shown = ", ".join(self.matches[:self.SHOWN]) + (", ..." if len(self.matches) > self.SHOWN else "")
        super().__init__(f"run id prefix {prefix!r} is ambiguous: it matches {shown}; give more of it "
                         f"(see `ferroflow runs`)")

    def __str__(self) -> str:  # as for UnknownRunError
        return str(self.args[0])


class RunLostError(FerroflowError):
    """This process no longer holds the lease of a run it was recording: another process
    marked the run ``Crashed`` (its process was silent past the heartbeat timeout:
    stopped, asleep, or a task held the GIL) or took it over. Raised by the store's
    writing calls and lease checks for that run; the engine then ends the flow run
    ``Cancelled`` and records nothing more of it, so a resumed run and this one never
    run the same task runs on (see ``docs/checkpoints-and-resume.md``).

    Attributes:
        run_id: the run.
        state: its state in the store now (``"Crashed"``), or None when it is gone.
        resumed_by: the id of the run that resumed it, or None.
    """

    def __init__(self, run_id: str, state: str | None, message: str | None, resumed_by: str | None):
        self.run_id = run_id
        self.state = state
        self.resumed_by = resumed_by
        self.message = message
        if state is None:
            what = f"run {run_id} is no longer in the run store"
        elif state == "Running":
            what = f"run {run_id} was taken over by another process"
        else:
            what = f"run {run_id} was marked {state} by another process"
        if resumed_by:
            what += f" and resumed as run {resumed_by}"
        text = (f"{what} while this process was silent (stopped, asleep, or a task held the GIL longer than the "
                f"heartbeat timeout): the flow run stopped here so that no task run runs twice, and nothing more "
                f"of it is recorded")
        if message:
            text += f". The store says: {message}"
        super().__init__(text)


class RunCancelledError(FerroflowError):
    """Someone asked the server to cancel a run this process records there (``ferroflow
    cancel RUN_ID``, ``POST /api/v1/runs/{id}/cancel``: the run is ``Cancelling``).
    Raised by the store's lease check for that run; the engine then ends the flow run
    as a Ctrl-C does: every unfinished task run ``Cancelled``, the flow run
    ``Cancelled``, and, unlike a lost run (:class:`RunLostError`), all of that is
    recorded (the run keeps its lease while it is being cancelled).

    Attributes:
        run_id: the run.
    """

    def __init__(self, run_id: str):
        self.run_id = run_id
        super().__init__(f"run {run_id} was cancelled through the server")


class ResumeRefusedError(FerroflowError, ValueError):
    """A run cannot be resumed now: it is running again, or another run that resumes it
    is still running. Raised by ``start_run(..., resumed_from=...)``, which checks and
    claims the earlier run in the transaction that records the new one, so of two
    resumes started at once exactly one goes ahead."""


# Primary SQLite result codes (sqlite3.h) and what they mean for a run store.
_REASONS = {
    3: "permission denied",  # SQLITE_PERM
    5: "locked",  # SQLITE_BUSY: another connection held the lock beyond busy_timeout
    6: "locked",  # SQLITE_LOCKED
    8: "read-only",  # SQLITE_READONLY
    10: "I/O error",  # SQLITE_IOERR
    11: "corrupt",  # SQLITE_CORRUPT
    13: "disk full",  # SQLITE_FULL
    14: "cannot open",  # SQLITE_CANTOPEN
    26: "not a database",  # SQLITE_NOTADB
}


def describe_sqlite_error(exc: BaseException, path: str, action: str, busy_timeout: float = 0.0,
                          lost: int = 0) -> StateStoreError:
    """Turn a :mod:`sqlite3` (or OS) error met while using the store at ``path`` into a
    :class:`StateStoreError` with a reason and, when one can be found, the OS error."""
    if isinstance(exc, OSError):
        found = find_os_error(path) if exc.errno == errno.EEXIST else None
        err = found or exc
        return StateStoreError(_os_reason(err), path, action, None, err, lost)
    code = getattr(exc, "sqlite_errorcode", None)
    text = str(exc)
    reason = _REASONS.get(code & 0xFF) if isinstance(code, int) else None
    if reason is None:
        lowered = text.lower()
        if "disk is full" in lowered:
            reason = "disk full"
        elif "locked" in lowered or "busy" in lowered:
            reason = "locked"
        elif "readonly" in lowered or "read-only" in lowered:
            reason = "read-only"
        elif "unable to open" in lowered:
            reason = "cannot open"
        elif "disk i/o" in lowered:
            reason = "I/O error"
        else:
            reason = "database error"
    detail = f"sqlite: {text}"
    if reason == "locked":
        detail += f"; another process held the write lock for more than the busy timeout ({busy_timeout:g} s)"
    os_error = find_os_error(path, reason)
    if os_error is not None:
        reason = _os_reason(os_error, reason)
    return StateStoreError(reason, path, action, detail, os_error, lost)


#: PostgreSQL error classes and codes (SQLSTATE) and what they mean for a run store.
_PG_REASONS = {
    "53100": "disk full",  # disk_full
    "53200": "out of memory",
    "53300": "too many connections",
    "25006": "read-only",  # read_only_sql_transaction
    "55P03": "locked",  # lock_not_available
    "40P01": "locked",  # deadlock_detected
    "40001": "locked",  # serialization_failure
    "57014": "locked",  # query_canceled (statement or lock timeout)
    "42501": "permission denied",
    "28P01": "permission denied",  # invalid_password
    "28000": "permission denied",  # invalid_authorization_specification
    "3D000": "cannot open",  # invalid_catalog_name: no such database
    "57P01": "connection lost",  # admin_shutdown
    "57P03": "cannot connect",  # cannot_connect_now
}


def describe_postgres_error(exc: BaseException, location: str, action: str, lost: int = 0) -> StateStoreError:
    """Turn a psycopg (or OS) error met while using the PostgreSQL store at ``location``
    (a URL without its password) into a :class:`StateStoreError`: the same reasons as
    for SQLite where they mean the same (``disk full``, ``read-only``, ``locked``,
    ``permission denied``), ``connection lost`` or ``cannot connect`` for the network."""
    if isinstance(exc, OSError):
        return StateStoreError(_os_reason(exc), location, action, None, exc, lost)
    sqlstate = getattr(exc, "sqlstate", None)
    reason = _PG_REASONS.get(sqlstate or "")
    if reason is None:
        if sqlstate is None and type(exc).__name__ == "OperationalError":
            reason = "cannot connect" if action in ("open", "create") else "connection lost"
        elif sqlstate and sqlstate.startswith("08"):
            reason = "connection lost"
        else:
            reason = "database error"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    detail = f"postgresql: {text}" + (f" (SQLSTATE {sqlstate})" if sqlstate else "")
    return StateStoreError(reason, location, action, detail, None, lost)


def _os_reason(err: OSError, default: str = "OS error") -> str:
    return {
        errno.ENOSPC: "disk full",
        errno.EDQUOT: "disk full",
        errno.EFBIG: "disk full",
        errno.EROFS: "read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENOTDIR: "not a directory",
        errno.ENOENT: "cannot open",
    }.get(err.errno or 0, default)


def find_os_error(path: str, reason: str = "") -> OSError | None:
    """Look for the operating system's reason why ``path`` cannot be used: a missing or
    non-directory parent, a read-only file system, no permission, no free space, or a
    file-size limit. SQLite does not report ``errno``; this asks the system instead."""
    path = os.path.abspath(path)
    parent = os.path.dirname(path) or "."
    probe = parent
    while not os.path.exists(probe):
        up = os.path.dirname(probe)
        if up == probe:
            break
        probe = up
    if probe != parent:
        if not os.path.isdir(probe):
            return OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), probe)
        return OSError(errno.ENOENT, os.strerror(errno.ENOENT), parent)
    if not os.path.isdir(parent):
        return OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), parent)
    try:
        st = os.statvfs(parent)
    except OSError as err:
        return err
    if st.f_flag & getattr(os, "ST_RDONLY", 1):
        return OSError(errno.EROFS, os.strerror(errno.EROFS), parent)
    for target in (path, parent):
        if os.path.exists(target) and not os.access(target, os.W_OK):
            return OSError(errno.EACCES, os.strerror(errno.EACCES), target)
    if st.f_bavail == 0 or (reason == "disk full" and st.f_bavail * st.f_frsize < 1 << 20):
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), parent)
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
        if soft != resource.RLIM_INFINITY:
            sizes = [os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p)]
            if reason == "disk full" or any(size >= soft for size in sizes):
                return OSError(errno.EFBIG, os.strerror(errno.EFBIG) + f" (file size limit {soft} bytes)", path)
    except (ImportError, OSError, ValueError):
        pass
    return None

