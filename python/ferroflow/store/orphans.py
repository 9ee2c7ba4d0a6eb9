"""Runs whose process died without ending them (``kill -9``, the OOM killer, a machine
that went down): found and marked ``Crashed``, so that ``ferroflow runs`` does not show
them ``Running`` for ever.

While a run is live, its process's run-store writer stamps ``runs.heartbeat_at`` every
:data:`HEARTBEAT_SECONDS` (from a thread of its own, so a task that runs for hours does
not stop it). A run still ``Running`` in the store is an *orphan* when:

* it was started on this machine and its process (``runs.pid``) no longer exists (or
  that pid now belongs to a process started after the run): it is marked at once; or
* its last heartbeat (its start, if none) is older than :data:`HEARTBEAT_TIMEOUT`
  seconds: its process is presumed dead, wherever it ran. On this machine that rule is
  applied only when the process cannot be seen running: a process of this machine that
  exists, is the run's own and is not stopped is alive, however long its heartbeat has
  been silent (a task that holds the GIL for minutes, a regular expression gone
  quadratic, keeps the heartbeat thread from running; its run is not taken from it).

Marking a run revokes its process's lease (``runs.owner``): a process that was only
stopped (``SIGSTOP``, a laptop asleep, a process on another machine cut off) and comes back finds its
run taken and stops it (``RunLostError``: the flow ends ``Cancelled``, nothing more is
recorded), so that a resumed run and this one never run the same task runs on. A run
whose process could not write all its records (``runs.record_error``) is marked
:data:`UNKNOWN` instead: its missing end says nothing of how it ended. ``ferroflow
runs``, ``ferroflow runs show`` and ``ferroflow runs reap`` look for orphans first.
"""

from __future__ import annotations

import os
import sys

__all__ = ["HEARTBEAT_ENV", "HEARTBEAT_SECONDS", "HEARTBEAT_TIMEOUT", "CRASHED", "UNKNOWN", "check_timeout",
           "orphan_message", "process_exists", "process_running_since"]

#: The environment variable that sets :data:`HEARTBEAT_SECONDS` (for tests and
#: experiments; set it alike for the processes that run flows and those that reap).
HEARTBEAT_ENV = "FERROFLOW_HEARTBEAT_SECONDS"


def _heartbeat_seconds(default: float = 10.0) -> float:
    text = os.environ.get(HEARTBEAT_ENV)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < float("inf"):
        print(f"ferroflow: warning: {HEARTBEAT_ENV}={text!r} is not a positive number of seconds; "
              f"using {default:g}", file=sys.stderr)
        return default
    return value


#: Seconds between two heartbeats of a live run (10; ``$FERROFLOW_HEARTBEAT_SECONDS``).
HEARTBEAT_SECONDS = _heartbeat_seconds()
#: Seconds without a heartbeat after which a run's process is presumed dead: six
#: heartbeat periods (60 s).
HEARTBEAT_TIMEOUT = 6 * HEARTBEAT_SECONDS
#: The state an orphan is given.
CRASHED = "Crashed"
#: The state an orphan is given when its record was incomplete already (its process
#: could not write the store): it may have finished, it may have been killed.
UNKNOWN = "Unknown"


def check_timeout(timeout: float) -> float:
    """``timeout`` if it leaves a live run room for a late heartbeat (at least two
    heartbeat periods); a ValueError saying so otherwise."""
    least = 2 * HEARTBEAT_SECONDS
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= least:
        raise ValueError(f"the heartbeat timeout must be at least {least:g} seconds (live runs beat every "
                         f"{HEARTBEAT_SECONDS:g} s; a shorter timeout would mark them Crashed), got {timeout!r}")
    return float(timeout)


def process_exists(pid: int) -> bool:
    """Whether a process ``pid`` exists on this machine (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    except OSError:
        return True  # cannot tell: leave it to the heartbeat
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def process_running_since(pid: int, started_at: float) -> bool | None:
    """Whether the process ``pid`` of this machine is the one that started a run at
    ``started_at`` (epoch seconds) and is running now: True (it exists, started by then,
    and is not stopped), False (it is gone, a zombie, or the pid now belongs to a process
    started after the run), None (it exists but is stopped, or this system cannot
    tell: leave it to the heartbeat)."""
    if not process_exists(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        with open("/proc/stat", "rb") as f:
            boot = next(float(line.split()[1]) for line in f if line.startswith(b"btime "))
        began = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError, StopIteration):
        return None
    if began > started_at + 2.0:  # boot time is whole seconds: a margin, not a guess
        return False  # the pid was reused by a later process
    return None if fields[0] in (b"T", b"t") else True


def orphan_message(run_id: str, hostname: str | None, pid: int | None, last_sign: float,
                   now: float, this_host: str, timeout: float | None = None,
                   incomplete: bool = False, started_at: float | None = None) -> str | None:
    """Why the ``Running`` run ``run_id`` is an orphan (its ``Crashed`` message), or None
    when its process may still be running it. ``last_sign``: its last heartbeat, or its
    start; ``timeout``: default :data:`HEARTBEAT_TIMEOUT`. ``incomplete``: its process
    could not write all its records (``runs.record_error``), so a missing end says
    nothing of how the run ended (the message for an :data:`UNKNOWN` run).
    ``started_at``: when the run started, to tell its process from a later one that got
    its pid (default ``last_sign``)."""
    where = f"pid {pid} on {hostname}" if pid is not None else f"on {hostname}"
    resume = f" Resume it with `ferroflow run FLOW_FILE --resume {run_id}`."
    unknown = " while the run store could not take its records: how the run ended is not known"
    if hostname == this_host and pid is not None and pid != os.getpid():
        running = process_running_since(pid, last_sign if started_at is None else started_at)
        if running is False:
            if incomplete:
                return f"The flow run's process ({where}) ended without its end being recorded,{unknown}.{resume}"
            return (f"The flow run's process ({where}) ended without ending the run: it was killed or "
                    f"crashed.{resume}")
        if running:
            return None  # alive, though perhaps silent: a task may hold the GIL for long
    silent = now - last_sign
    timeout = HEARTBEAT_TIMEOUT if timeout is None else timeout
    if silent > timeout:
        return (f"No heartbeat from the flow run's process ({where}) for {silent:.0f} s (more than "
                f"{timeout:g} s){unknown if incomplete else ''}: it is presumed dead.{resume}")
    return None
