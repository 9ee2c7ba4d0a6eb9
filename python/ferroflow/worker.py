"""A worker (``ferroflow worker --pool NAME``): claims due runs of one work pool from a
ferroflow server and launches each in a process of its own.

The loop, single-threaded, every ``tick`` (0.1 s):

* **Ended processes** are collected. A process that ended its run itself (exit codes
  0, 1, 3, 4 and 130 of :mod:`ferroflow.launchers.base`) needs nothing more; any other
  end (killed by a signal, out of memory, ``os._exit``) gives the run back as
  ``Crashed`` (:func:`ferroflow.store.claims.release_run`: nothing happens when the run
  ended after all), and the server retries it where its deployment allows.
* **Heartbeats** every ``heartbeat_interval`` (2 s) register the worker and keep the
  runs it holds alive; the answer names the runs to cancel (interrupted at once:
  SIGINT, the engine's Ctrl-C path, which ends the run ``Cancelled`` with its
  unfinished task runs; killed with their whole process group ``cancel_grace`` (5 s)
  later if still there, and given back ``Cancelled``) and the runs it lost (claimed by
  another after this worker was thought dead: killed at once, nothing recorded).
* **Claims** every ``poll_interval`` (0.25 s) while slots are free: at most the free
  slots, each launched at once through the launcher (``process`` by default, or any
  registered by a plugin, see ``docs/writing-a-launcher.md``).
* **Stopping** (SIGTERM or SIGINT; :meth:`Worker.stop`): no more claims; runs still going
  after ``grace`` (30 s) are cancelled through the server and interrupted, then killed
  ``cancel_grace`` later. A second signal skips the grace.

When the server cannot be reached the worker claims nothing, lets its runs go on (they
keep their records in memory or spool files until it is back) and tries again with
backoff; it never exits for it. Spool files of runs that died are pushed when the
server answers again.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ferroflow.client.http import Client, ClientError, Unreachable, _segment
from ferroflow.launchers.base import (
    EXIT_CODES,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_STARTED,
    EXIT_REFUSED,
    EXIT_SUCCESS,
    LaunchSpec,
)

__all__ = ["Worker"]

log = logging.getLogger("ferroflow.worker")

#: Exit codes of a process that ended its run itself (or was refused it).
_ENDED_ITSELF = frozenset({EXIT_SUCCESS, EXIT_FAILED, EXIT_NOT_STARTED, EXIT_REFUSED, EXIT_INTERRUPTED})
_PUSH_SPOOL_EVERY = 30.0


@dataclass
class _Launched:
    claim: dict
    handle: Any
    started: float
    cancel_since: float | None = None
    killed: bool = False
    lost: bool = False
    notes: list = field(default_factory=list)


class Worker:
    """One worker of pool ``pool`` on the server at ``server`` (default
    ``FERROFLOW_API_URL``; its key ``api_key``, default ``FERROFLOW_API_KEY``),
    running at most ``concurrency`` runs at once through launcher ``launcher`` (a
    registered name or a :class:`~ferroflow.launchers.base.Launcher`). ``working_dir``
    is where entrypoint paths are resolved (default the current directory);
    ``max_runs`` stops the worker once it launched that many (None: serve until
    stopped). :meth:`serve` runs the loop (see the module docstring)."""

    def __init__(self, pool: str, *, server: str | None = None, api_key: str | None = None, concurrency: int = 1,
                 launcher: Any = "process", launcher_options: Mapping[str, Any] | None = None,
                 name: str | None = None, working_dir: str | None = None, poll_interval: float = 0.25,
                 heartbeat_interval: float = 2.0, grace: float = 30.0, cancel_grace: float = 5.0,
                 max_runs: int | None = None):
        from ferroflow.launchers import get_launcher

        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self.pool = pool
        self.id = uuid.uuid4().hex
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.concurrency = int(concurrency)
        self.client = Client(server, api_key=api_key, timeout=10.0)
        self.server = self.client.url
        self._api_key = self.client.api_key
        self.launcher = get_launcher(launcher, **dict(launcher_options or {})) if isinstance(launcher, str) \
            else launcher
        self.working_dir = os.path.abspath(working_dir or os.getcwd())
        self.poll_interval = float(poll_interval)
        self.heartbeat_interval = float(heartbeat_interval)
        self.grace = float(grace)
        self.cancel_grace = float(cancel_grace)
        self.max_runs = max_runs
        self.running: dict[str, _Launched] = {}
        self.launched = 0
        self._stop_asked = 0
        self._stop_since: float | None = None
        self._wake = threading.Event()
        self._down_since: float | None = None
        self._backoff = 0.0
        self._next_contact = 0.0
        self._pushed_at = 0.0
        self._warned_pool = False

    # ----- control -------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the worker to stop: no more claims, runs get ``grace`` seconds to end;
        asked again, they are cancelled at once. Safe from a signal handler."""
        self._stop_asked += 1
        self._wake.set()

    def _signal(self, signum: int, frame: Any) -> None:
        self.stop()

    def serve(self, install_signals: bool = True) -> int:
        """Run until stopped (or ``max_runs`` launched runs ended); returns 0."""
        previous = {}
        if install_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                previous[sig] = signal.signal(sig, self._signal)
        log.info("worker %s (%s) serves pool %r of %s, %d run(s) at once, launcher %s", self.id[:8], self.name,
                 self.pool, self.server, self.concurrency, getattr(self.launcher, "name", type(self.launcher).__name__))
        next_beat = next_claim = 0.0
        try:
            while True:
                now = time.monotonic()
                self._collect()
                stopping = self._stopping(now)
                if stopping and not self.running:
                    break
                if now >= next_beat:
                    self._heartbeat("stopping" if stopping else "online")
                    next_beat = now + self.heartbeat_interval
                self._enforce_cancels(now)
                if not stopping and now >= next_claim and len(self.running) < self.concurrency:
                    self._claim()
                    next_claim = now + self.poll_interval
                self._wake.wait(0.1)
                self._wake.clear()
            self._heartbeat("stopped")
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for launched in self.running.values():  # (an error in the loop: leave no process behind)
                launched.handle.kill()
            self.launcher.close()
            self.client.close()
        log.info("worker %s stopped", self.id[:8])
        return 0

    def _stopping(self, now: float) -> bool:
        if self.max_runs is not None and self.launched >= self.max_runs and not self._stop_asked:
            self._stop_asked = 1
        if not self._stop_asked:
            return False
        if self._stop_since is None:
            self._stop_since = now
            if self.running:
                log.info("worker %s stopping: no more claims; %d run(s) have %.0f s to end", self.id[:8],
                         len(self.running), self.grace)
        if self.running and (self._stop_asked > 1 or now - self._stop_since >= self.grace):
            for run_id, launched in self.running.items():
                if launched.cancel_since is None:
                    log.warning("run %s still going as the worker stops: cancelling it", run_id)
                    self._call(lambda r=run_id: self.client.post(f"/api/v1/runs/{r}/cancel"), quiet=True)
                    self._interrupt(run_id, launched, now)
        return True

    # ----- server calls ---------------------------------------------------------------

    def _call(self, fn: Any, quiet: bool = False) -> Any:
        """``fn()`` against the server, or None while it cannot be reached (with backoff:
        0.5 s doubling to 5 s; a warning when it first happens, a line when it is back)."""
        now = time.monotonic()
        if now < self._next_contact:
            return None
        try:
            result = fn()
        except Unreachable as exc:
            self._backoff = min(5.0, max(0.5, self._backoff * 2))
            self._next_contact = now + self._backoff
            if self._down_since is None:
                self._down_since = now
                log.warning("cannot reach the server (%s); runs go on, no new claims; trying again", exc)
            return None
        except ClientError as exc:
            if exc.status in (401, 403):
                log.error("the server refused the worker's key (%s %s): give a key with the run role "
                          "(FERROFLOW_API_KEY)", exc.status, exc.title)
            elif not quiet:
                log.warning("the server answered %s %s: %s", exc.status, exc.title, exc.detail)
            return None
        if self._down_since is not None:
            log.warning("the server answers again (after %.0f s)", now - self._down_since)
            self._down_since = None
        self._backoff = 0.0
        return result

    def _heartbeat(self, state: str) -> None:
        held = {run_id: launched.claim["lease"] for run_id, launched in self.running.items() if not launched.lost}
        body = {"name": self.name[:200], "pool": self.pool, "hostname": socket.gethostname()[:200],
                "pid": os.getpid(), "concurrency": self.concurrency, "state": state, "runs": held}
        answer = self._call(lambda: self.client.post(f"/api/v1/workers/{self.id}/heartbeat", body))
        if answer is None:
            return
        if not answer.get("pool_known", True) and not self._warned_pool:
            self._warned_pool = True
            log.warning("no deployment uses pool %r yet: this worker waits for one (see `ferroflow deployments ls`)",
                        self.pool)
        now = time.monotonic()
        for run_id in answer.get("cancelling", []):
            launched = self.running.get(run_id)
            if launched is not None and launched.cancel_since is None:
                log.info("run %s: cancel asked; interrupting it", run_id)
                self._interrupt(run_id, launched, now)
        for run_id in answer.get("lost", []):
            launched = self.running.get(run_id)
            if launched is not None and not launched.lost:
                log.warning("run %s is no longer this worker's (given to another or ended): stopping its process",
                            run_id)
                launched.lost = True
                launched.handle.kill()
        if now - self._pushed_at >= _PUSH_SPOOL_EVERY:
            self._pushed_at = now
            self._push_spool()

    def _push_spool(self) -> None:
        from ferroflow.store.remote import push_spool

        try:
            for path, sent in push_spool(self.server, self._api_key):
                log.info("sent %d spooled batch(es) of a process that is gone (%s)", sent, path.name)
        except Exception as exc:  # (tried again later)
            log.debug("pushing spool files failed: %s", exc)

    def _claim(self) -> None:
        free = self.concurrency - len(self.running)
        if self.max_runs is not None:
            free = min(free, self.max_runs - self.launched)
        if free <= 0:
            return
        body = {"worker_id": self.id, "count": free, "hostname": socket.gethostname()[:200], "pid": os.getpid()}
        found = self._call(lambda: self.client.post(f"/api/v1/pools/{_segment(self.pool)}/claim", body))
        for claim in found or []:
            self._launch(claim)

    # ----- runs -----------------------------------------------------------------------

    def _launch(self, claim: dict) -> None:
        run_id = claim["run_id"]
        spec = LaunchSpec(run_id=run_id, lease=claim["lease"], flow_name=claim["flow_name"],
                          entrypoint=claim["entrypoint"], parameters=claim["parameters"],
                          executor=claim["executor"], executor_options=claim["executor_options"],
                          resume_from=claim["resume_from"], server=self.server, api_key=self._api_key,
                          working_dir=self.working_dir)
        try:
            handle = self.launcher.launch(spec)
        except Exception as exc:
            log.error("run %s of deployment %r: the launcher could not start it: %s", run_id, claim["deployment"],
                      exc)
            self._release(run_id, claim["lease"], "Failed",
                          f"The worker's launcher could not start the run: {type(exc).__name__}: {exc}")
            return
        self.launched += 1
        self.running[run_id] = _Launched(claim, handle, time.monotonic())
        retry = f", attempt {claim['attempt']} resuming {claim['resume_from']}" if claim["resume_from"] else ""
        log.info("run %s of deployment %r started (%s%s)", run_id, claim["deployment"],
                 getattr(handle, "description", "launched"), retry)

    def _release(self, run_id: str, lease: str, state: str, message: str) -> None:
        body = {"lease": lease, "state": state, "message": message[:10_000]}
        for _ in range(60):  # (the server may be away: a crash must still be told)
            if self._call(lambda: self.client.post(f"/api/v1/runs/{run_id}/release", body)) is not None:
                return
            if self._down_since is None:
                return  # (refused outright: nothing to retry)
            time.sleep(max(0.5, self._next_contact - time.monotonic()))
        log.error("run %s: could not tell the server it ended %s; the server's reaper will", run_id, state)

    def _interrupt(self, run_id: str, launched: _Launched, now: float) -> None:
        launched.cancel_since = now
        try:
            launched.handle.interrupt()
        except Exception as exc:
            log.warning("run %s: interrupting its process failed (%s); killing it", run_id, exc)
            launched.handle.kill()
            launched.killed = True

    def _enforce_cancels(self, now: float) -> None:
        for run_id, launched in self.running.items():
            if launched.cancel_since is not None and not launched.killed \
                    and now - launched.cancel_since >= self.cancel_grace and launched.handle.poll() is None:
                log.warning("run %s did not stop %.0f s after its interrupt: killing its processes", run_id,
                            self.cancel_grace)
                launched.handle.kill()
                launched.killed = True

    def _collect(self) -> None:
        for run_id, launched in list(self.running.items()):
            code = launched.handle.poll()
            if code is None:
                continue
            del self.running[run_id]
            lease = launched.claim["lease"]
            if launched.lost:
                log.info("run %s: its process was stopped (the run is another's)", run_id)
            elif launched.killed:
                log.info("run %s: its process was killed after a cancel", run_id)
                self._release(run_id, lease, "Cancelled",
                              f"Cancelled: its process did not stop within {self.cancel_grace:.0f} s of the "
                              f"interrupt and was killed.")
            elif code == EXIT_REFUSED:
                # Refused its claim (then giving it back changes nothing: the lease is
                # another's), or could not record its start (the server away): the run,
                # still Pending under this lease, goes back to be claimed again.
                log.info("run %s: its process could not start it (exit code %d)", run_id, code)
                self._release(run_id, lease, "Scheduled", "Given back: its process could not record its start.")
            elif code in _ENDED_ITSELF:
                log.info("run %s ended (exit code %d)", run_id, code)
            else:
                how = f"signal {-code} ({_signal_name(-code)})" if code < 0 else \
                    f"exit code {code} ({EXIT_CODES.get(code, 'not a launcher exit code')})"
                log.warning("run %s: its process ended by %s before ending the run: giving it back Crashed",
                            run_id, how)
                self._release(run_id, lease, "Crashed",
                              f"Crashed: the flow process ({launched.handle.description}) ended by {how} before "
                              f"ending the run.")
            self._wake.set()


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return "unknown"
