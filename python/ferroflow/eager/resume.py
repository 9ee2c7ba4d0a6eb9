"""Checkpoints of an eager flow run's calls, and resuming a run from them.

A call is known by the task's name in the run (``EagerRun.slot``: ``name``,
``name-2``...) and its call index (0, 1, 2... per task, in call order). Every call
that succeeds has its value pickled at once (``pickle``, else ``cloudpickle``) with a
digest of its arguments, and appended to the run's **journal**
(``$FERROFLOW_HOME/results/eager/RUN_ID.journal``) in batches: by the first call that
ends 50 ms or more after the last batch (or 8,192 calls after it), and when the run
ends.

``my_flow(resume=RUN_ID)`` runs the function again; a call whose (task name, index)
the earlier run's journal holds, with the same argument digest, returns the kept value
at once, without running; any other call runs. A call whose arguments differ from the
recorded call's (or could not be pickled to be compared) runs again: the flow took
another path than before, and a value computed from other inputs is never returned.

Choices (see ``docs/eager-flows.md``):

* On by default for recorded runs (about 1.7 µs a call for small values); off for a
  task or flow with ``persist_result=False`` (or ``checkpoint=False``), and for runs
  that are not recorded (nothing could find them to resume). A value that cannot be
  pickled is not kept (a warning, once per task) unless ``persist_result=True`` asks for
  it, which fails the call instead.
* The journal is written, not synced: it survives the process being killed, not the
  machine losing power. A kill loses at most the last batch; those calls run again.
* A run that ends Completed deletes its journal (and that of the run it resumed);
  others keep it to be resumed.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import os
import pickle
import struct
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from ferroflow.eager.record import FLUSH_CALLS, FLUSH_SECONDS
from ferroflow.engine.resume import ResumeError, find_run, resumed_parameters
from ferroflow.errors import FerroflowError

__all__ = ["Checkpoints", "JOURNAL_DIR", "ResumeError", "digest_of", "journal_path", "keep_mode", "read_journal",
           "start_resume"]

log = logging.getLogger("ferroflow.resume")

#: Under ``$FERROFLOW_HOME``: where eager runs keep their journals.
JOURNAL_DIR = ("results", "eager")
_HEADER = struct.Struct("<II")  # a batch: its length, its CRC-32
_NOT_FOUND = None
#: Arguments whose pickle is at most this long are kept as they are (not hashed).
_SHORT = 48
#: Calls whose arguments differ from the recorded ones that get a line each.
_LISTED = 10


class CheckpointError(FerroflowError):
    """A value that ``persist_result=True`` asked to keep could not be pickled."""


def journal_path(run_id: str) -> Path:
    """The journal of run ``run_id``."""
    from ferroflow.store.config import ferroflow_home

    if not run_id or not all(c.isalnum() or c in "-_" for c in run_id):
        raise ValueError(f"not a run id: {run_id!r}")
    return ferroflow_home().joinpath(*JOURNAL_DIR, f"{run_id}.journal")


def _dumps(value: Any) -> bytes:
    try:
        return pickle.dumps(value, 5)
    except Exception:
        import cloudpickle

        return cloudpickle.dumps(value, 5)


def digest_of(args: tuple, kwargs: dict | None) -> bytes | None:
    """What identifies a call's arguments: their pickle when it is short, else a 16-byte
    BLAKE2 digest of it; None when they cannot be pickled."""
    try:
        data = _dumps((args, kwargs) if kwargs else args)
    except Exception:
        return None
    return data if len(data) <= _SHORT else hashlib.blake2b(data, digest_size=16).digest()


def keep_mode(task: Any, flow: Any) -> int:
    """Whether calls of ``task`` in ``flow`` are kept: 0 no, 1 when their value can be
    pickled, 2 always (a value that cannot be pickled fails the call)."""
    from ferroflow.core.prefect3_options import eager_options

    options = eager_options(task)
    own = None if options is None else options.persist_result
    if own is False or task.checkpoint is False:
        return 0
    if own is True:
        return 2
    mine = getattr(flow, "persist_result", None)
    if mine is False:
        return 0
    return 2 if mine is True else 1


def read_journal(run_id: str) -> dict | None:
    """``{(task name, call index): (argument digest, pickled value)}`` from the journal of
    ``run_id``, or None when it has none. A batch cut short (the process was killed while
    writing it) or damaged ends the reading: what follows it is not trusted."""
    try:
        data = journal_path(run_id).read_bytes()
    except FileNotFoundError:
        return None
    entries: dict = {}
    at, end = 0, len(data)
    while at + _HEADER.size <= end:
        size, crc = _HEADER.unpack_from(data, at)
        body = data[at + _HEADER.size:at + _HEADER.size + size]
        if len(body) < size or zlib.crc32(body) != crc:
            log.warning("the journal of run %s is cut short at byte %d: the calls after it run again", run_id, at)
            break
        for name, index, digest, blob in pickle.loads(body):
            entries[(name, index)] = (digest, blob)
        at += _HEADER.size + size
    return entries


class Checkpoints:
    """One eager run's journal (what it keeps) and, when it resumes an earlier run, that
    run's (what it may return without running)."""

    def __init__(self, run_id: str, flow: Any, earlier: Any = None, entries: dict | None = None, keep: bool = True):
        self.run_id = run_id
        self.flow = flow
        self.keep = keep
        self.pending: collections.deque = collections.deque()
        self.flushed_at = time.monotonic()
        self.modes: dict = {}  # task id -> keep_mode
        self.unpicklable: set = set()  # names of tasks warned about
        self.fd: int | None = None
        self.lock = threading.Lock()
        #: The journal could not be written (a full disk...): nothing more is appended (a
        #: batch after a torn one could not be read), and the warning was given once.
        self.broken = False
        #: The run resumed (a RunSummary), or None.
        self.earlier = earlier
        self.entries = entries if entries is not None else {}
        self.returned = 0  # calls returned from the earlier run's journal
        self.changed = 0  # calls found there whose arguments differ
        self.children: dict | None = None  # the earlier run's subflow runs by flow name, once read

    # ----- a call ----------------------------------------------------------------------------

    def lookup(self, slot: Any, index: int, args: tuple, kwargs: dict | None) -> tuple:
        """``(digest, found)`` for call ``index`` of ``slot``'s task: the digest of its
        arguments (None when nothing is kept or they cannot be pickled) and, when resuming
        and the earlier run finished that call with the same arguments, ``(value, blob)``
        (else None)."""
        mode = self.modes.get(slot.task_id)
        if mode is None:
            mode = self.modes[slot.task_id] = keep_mode(slot.task, self.flow) if self.keep else 0
        if not mode and not self.entries:
            return None, None
        digest = digest_of(args, kwargs)
        return digest, self._recorded(slot.name, index, digest, f"call {index} of task {slot.name!r}")

    def _recorded(self, name: Any, index: int, digest: bytes | None, what: str) -> tuple | None:
        """``(value, blob)`` the earlier run kept for call ``index`` of ``name`` with
        arguments of ``digest`` (taken out: a call is returned once), or None."""
        if not self.entries:
            return None
        recorded = self.entries.pop((name, index), None)
        if recorded is None:
            return None
        if digest is None or recorded[0] != digest:
            self.changed += 1
            if self.changed <= _LISTED:
                why = "cannot be pickled to compare" if digest is None else "differ from the recorded call's"
                log.warning("resuming run %s: %s runs again: its arguments %s", self.earlier.run_id, what, why)
            return None
        try:
            value = pickle.loads(recorded[1])
        except Exception as exc:
            log.warning("resuming run %s: %s runs again: its kept value cannot be read back (%s: %s)",
                        self.earlier.run_id, what, type(exc).__name__, exc)
            return None
        self.returned += 1
        return value, recorded[1]

    # ----- a subflow call --------------------------------------------------------------------
    #
    # The value of a subflow run that completed is kept in its parent's journal, under
    # ("flow", the subflow's name) and the index of the call among that subflow's calls
    # in the parent run. A resumed parent returns it without running the subflow again;
    # a subflow call the earlier parent did not finish resumes that subflow run instead.

    def lookup_subflow(self, flow: Any, index: int, parameters: dict) -> tuple:
        """``(digest, found)`` for call ``index`` of subflow ``flow`` with ``parameters``
        (as :meth:`lookup`; the digest is None when the call's value is not kept)."""
        keeps = self.keep and flow.persist_result is not False
        if not keeps and not self.entries:
            return None, None
        digest = digest_of((), parameters)
        found = self._recorded(("flow", flow.name), index, digest, f"call {index} of subflow {flow.name!r}")
        return (digest if keeps else None), found

    def kept_subflow(self, flow: Any, index: int, digest: bytes | None, value: Any, blob: bytes | None = None) -> None:
        """Call ``index`` of subflow ``flow`` completed with ``value`` (or was returned
        from the earlier run as ``blob``): keep it, when it can be pickled."""
        if digest is None:
            return
        if blob is None:
            try:
                blob = _dumps(value)
            except Exception as exc:
                log.warning("the value of subflow %r cannot be pickled (%s: %s): a resumed run runs it again",
                            flow.name, type(exc).__name__, exc)
                return
        self.pending.append((("flow", flow.name), index, digest, blob))

    def earlier_subflow_run(self, store: Any, flow_name: str, index: int) -> Any:
        """The run of call ``index`` of subflow ``flow_name`` in the run resumed (a
        RunSummary), or None: when it did not complete, this call resumes it."""
        if self.earlier is None:
            return None
        children = self.children
        if children is None:
            children = {}
            try:
                for child in store.child_runs(self.earlier.run_id):
                    children.setdefault(child.flow_name, []).append(child)
            except Exception as exc:  # (the store is down: the subflows run from the start)
                log.warning("resuming run %s: its subflow runs could not be read (%s: %s): they run again from the "
                            "start", self.earlier.run_id, type(exc).__name__, exc)
            self.children = children
        runs = children.get(flow_name, ())
        return runs[index] if index < len(runs) else None

    def kept(self, slot: Any, index: int, digest: bytes | None, value: Any) -> None:
        """Call ``index`` of ``slot``'s task succeeded with ``value``: keep it (pickled
        now: a value the flow changes afterwards is kept as it was returned). Raises
        :class:`CheckpointError` when ``persist_result=True`` and it cannot be pickled."""
        mode = self.modes.get(slot.task_id)
        if not mode:
            return
        try:
            blob = _dumps(value)
        except Exception as exc:
            if mode == 2:
                raise CheckpointError(f"Could not checkpoint the result of call {index} of task {slot.name!r} "
                                      f"(persist_result=True): {type(exc).__name__}: {exc}") from exc
            if slot.name not in self.unpicklable:
                self.unpicklable.add(slot.name)
                log.warning("the results of task %r cannot be pickled (%s: %s): its calls are not checkpointed and "
                            "a resumed run runs them again", slot.name, type(exc).__name__, exc)
            return
        self.pending.append((slot.name, index, digest, blob))
        if time.monotonic() - self.flushed_at >= FLUSH_SECONDS or len(self.pending) >= FLUSH_CALLS:
            self.flush()

    def copied(self, slot: Any, index: int, digest: bytes | None, blob: bytes) -> None:
        """A call returned from the earlier run: kept again in this run's journal (so a
        crash of this run loses nothing either)."""
        if self.modes.get(slot.task_id):
            self.pending.append((slot.name, index, digest, blob))

    # ----- the journal -----------------------------------------------------------------------

    def flush(self) -> None:
        """Append the calls kept since the last flush to the journal, as one batch."""
        self.flushed_at = time.monotonic()
        if not self.pending:
            return
        with self.lock:  # (calls and subflows end on several threads: one batch at a time, in order)
            self._write_batch()

    def _write_batch(self) -> None:
        pending = self.pending
        batch = [pending.popleft() for _ in range(len(pending))]
        if self.broken or not batch:
            return
        body = pickle.dumps(batch, 5)
        record = _HEADER.pack(len(body), zlib.crc32(body)) + body
        try:
            if self.fd is None:
                path = journal_path(self.run_id)
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            written = os.write(self.fd, record)
            if written != len(record):  # (a disk that filled up mid-write)
                raise OSError(f"only {written} of {len(record)} bytes written")
        except OSError as exc:
            self.broken = True
            log.warning("could not write the journal of run %s (%s): it stops here, and a resumed run runs the "
                        "calls after this point again", self.run_id, exc)

    def finish(self, completed: bool) -> None:
        """The run ended: close its journal; a Completed run deletes it, and the journal
        of the run it resumed."""
        self.flush()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.earlier is not None and (self.returned or self.changed):
            log.info("resumed run %s: %d call(s) returned from its checkpoints%s", self.earlier.run_id,
                     self.returned, f", {self.changed} ran again with other arguments" if self.changed else "")
        if completed:
            for run_id in (self.run_id, None if self.earlier is None else self.earlier.run_id):
                if run_id is not None:
                    try:
                        journal_path(run_id).unlink()
                    except FileNotFoundError:
                        pass
                    except OSError as exc:
                        log.warning("could not delete the journal of run %s: %s", run_id, exc)


def start_resume(store: Any, run_id: str, flow_name: str, given: dict) -> tuple:
    """``(earlier run, parameters, journal entries)`` to resume run ``run_id`` of the
    flow named ``flow_name`` with: the parameters ``given``, the others as the run was
    recorded with. Raises :class:`~ferroflow.store.UnknownRunError` for an unknown run
    and :class:`ResumeError` for a run of another flow, a run still running, or
    parameters that cannot be restored. A run without a journal (recorded on another
    machine, or with persistence off) is resumed with every call running again (a
    warning says so)."""
    earlier = find_run(store, run_id, flow_name)
    parameters = resumed_parameters(store, earlier, given)
    entries = read_journal(earlier.run_id)
    if entries is None:
        log.warning("run %s left no checkpoints here (%s): every call of the resumed run runs again",
                    earlier.run_id, journal_path(earlier.run_id))
    return earlier, parameters, entries or {}
