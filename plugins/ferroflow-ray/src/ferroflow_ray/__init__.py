"""ferroflow-ray: run ferroflow's work units as Ray tasks.

Registered as the ``ray`` executor through the ``register_executors`` hook::

    flow.run(executor="ray")                                   # a local Ray instance
    flow.run(executor=RayExecutor(address="10.0.0.5:6379"))    # an existing cluster

    ferroflow run etl.py --executor ray -o address=10.0.0.5:6379

How it works: the engine packs ready task runs into work units (a slice of a mapped
task's children, a batch of the ready runs of ordinary tasks, or one task run);
:meth:`RayExecutor.submit` packs a unit (:class:`ferroflow.executors.shipping.Shipper`)
and starts one Ray task running it; :meth:`RayExecutor.wait` waits with ``ray.wait``
for the first of the outstanding tasks to finish and turns the bytes that came back
into the unit's result (log records handled again in this process, loop state
merged). States, retries and triggers are decided by ferroflow's engine in this
process, as with every other executor.

* **Small payloads.** A unit carries its own slice of a mapped task's arguments (a
  batch, its runs' arguments and its tasks' plans). The parts units share (the run's
  context, a mapped task's plan and unmapped arguments) are put in Ray's object store
  once per run and passed by reference; a worker fetches and loads each once.
* **Ray's resources.** A unit asks for one CPU (``num_cpus_per_unit`` changes that). A
  task opts into more with tags: ``ray-num-cpus:2``, ``ray-num-gpus:1``,
  ``ray-resource:NAME=AMOUNT`` (see :func:`ray_options`).
* **Lost workers.** Ray runs a unit again when the worker process running it dies
  (up to ``max_retries`` times); if that is not enough, the unit runs again in halves
  until the task run that kills its workers is alone, and that one fails with
  :class:`~ferroflow.executors.remote.WorkerCrashedError` (the task's own
  ``max_retries`` apply). A unit's outcome is returned exactly once.
* **Ctrl-C and errors.** ``shutdown()`` cancels every outstanding Ray task
  (``ray.cancel(force=True)``: a running one is stopped by ending its worker
  process), then shuts down the Ray instance only if this executor started it.
"""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Iterable, Mapping
from typing import Any

from ferroflow.errors import ExecutorError, one_line
from ferroflow.executors.base import Executor, WorkUnit
from ferroflow.executors.crash_split import CrashSplitter, groups_by_task
from ferroflow.executors.resources import ResourceTags
from ferroflow.executors.shipping import (
    Parcel,
    SharedParts,
    Shipper,
    WorkerCrashedError,
    failed_result,
    is_batch,
    label_of,
    run_shipped,
    subject_of,
)
from ferroflow.plugins import hookimpl

__all__ = ["RayExecutor", "ray_options", "probe_address", "TAG_PREFIX", "register_executors"]

#: Tags starting with this ask Ray for resources (see :func:`ray_options`).
TAG_PREFIX = "ray-"
_TAGS = ("ray-num-cpus:N", "ray-num-gpus:N", "ray-resource:NAME=N")
#: Seconds between two looks at the cluster's size (for ``slots()``, resource checks).
_REFRESH = 10.0
#: What a gRPC (HTTP/2) client sends first: the connection preface and an empty SETTINGS
#: frame. A Ray head node (GCS) or Ray Client server answers with a SETTINGS frame.
_H2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_H2_SETTINGS = 0x04
#: Shared parts kept in the object store during a flow run (least recently used out).
_SHARED_KEPT = 32


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is a dependency of this distribution
        raise ExecutorError(f"The ray executor needs the `ray` package, which cannot be imported ({exc}); "
                            f"install it with `pip install ferroflow-ray`") from exc
    return ray


# ----- resources from tags ---------------------------------------------------------------


def ray_options(tags: Iterable[str], task_name: str = "task") -> dict:
    """The Ray task options (``num_cpus``, ``num_gpus``, ``resources``) that the tags of
    task ``task_name`` ask for.

    =========================  ===========================================
    tag                        Ray option
    =========================  ===========================================
    ``ray-num-cpus:2``         ``num_cpus=2`` (fractions allowed: ``0.5``)
    ``ray-num-gpus:1``         ``num_gpus=1``
    ``ray-resource:NAME=N``    ``resources={"NAME": N}`` (repeatable)
    =========================  ===========================================

    Amounts follow ferroflow's one rule for resource tags
    (:mod:`ferroflow.executors.resources`): a number >= 0, where 0 asks for none
    (``ray-num-cpus:0``: ``num_cpus=0``, a unit that reserves no CPU;
    ``ray-resource:NAME=0``: no entry in ``resources``). Tags that do not start with
    ``ray-`` or hold no ``:`` are not Ray's and are ignored. A ``ray-...:...`` tag that
    is none of the above, a value that is not an amount, or two different amounts for
    the same resource raise :class:`~ferroflow.errors.ExecutorError` naming the task and
    the tag.
    """
    for tag in sorted(tags):
        if not tag.startswith(TAG_PREFIX) or ":" not in tag:
            continue
        kind, _, value = tag[len(TAG_PREFIX):].partition(":")
        if kind == "resource":
            name, _, amount = value.partition("=")
            if name.strip() in ("CPU", "GPU"):
                raise ExecutorError(f"Task {task_name!r} has the tag {tag!r}: ask for {name.strip()}s with "
                                    f"'ray-num-{name.strip().lower()}s:{amount}'")
        elif kind not in ("num-cpus", "num-gpus"):
            raise ExecutorError(f"Task {task_name!r} has the tag {tag!r}, which is not a Ray resource tag "
                                f"(those are {', '.join(repr(t) for t in _TAGS)}; a tag without ':' is "
                                f"not read as one)")
    asked = ResourceTags(tags, task_name, "Ray")
    options: dict = {}
    for option, prefix, what in (("num_cpus", "ray-num-cpus:", "CPU"), ("num_gpus", "ray-num-gpus:", "GPU")):
        amount = asked.amount(prefix, what)
        if amount is not None:
            options[option] = amount
    resources = asked.named("ray-resource:", "custom Ray resource", "ray-resource:db_connections=1")
    if resources:
        options["resources"] = resources
    return options


def _request(options: Mapping[str, Any]) -> dict:
    """The resources a Ray task with ``options`` needs on one node (Ray's names)."""
    need = {"CPU": options.get("num_cpus", 1), "GPU": options.get("num_gpus", 0), **options.get("resources", {})}
    return {name: amount for name, amount in need.items() if amount}


def _fits(need: Mapping[str, float], nodes: list) -> bool:
    return any(all(node.get(name, 0) + 1e-9 >= amount for name, amount in need.items()) for node in nodes)


def _describe(resources: Mapping[str, float]) -> str:
    shown = {name: amount for name, amount in resources.items()
             if not name.startswith("node:") and name not in ("memory", "object_store_memory")}
    return ", ".join(f"{name}={amount:g}" for name, amount in sorted(shown.items())) or "none"


# ----- reaching a cluster ---------------------------------------------------------------------


def _split_address(address: str) -> tuple | None:
    """``(host, port)`` of ``host:port``, ``[v6]:port`` or ``ray://host:port``; None for
    addresses Ray resolves itself (``auto``, ``local``, a bare host)."""
    target = address.split("://", 1)[1] if "://" in address else address
    target = target.split("/", 1)[0]
    if target.startswith("["):
        host, _, rest = target[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, colon, port = target.rpartition(":")
        if not colon:
            return None
    if not port:
        return None
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ExecutorError(f"The Ray address {address!r} is not HOST:PORT (port {port!r} is not a port number)")
    return host, int(port)


def _recv(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def probe_address(address: str, timeout: float, source: str = "address") -> None:
    """Fail fast, naming ``address``, when no Ray cluster answers there: nothing listens,
    the host is unknown or unreachable, nothing answers within ``timeout`` seconds, or
    what answers does not speak gRPC (HTTP/2) as a Ray head node does.

    ``ray.init`` itself would retry such an address for minutes. Addresses Ray resolves
    itself (``auto``, ``local``) are left to it; with ``RAY_USE_TLS`` set only the TCP
    connection is checked."""
    parts = _split_address(address)
    if parts is None:
        return
    host, port = parts
    where = f"the Ray cluster at {source} {address!r}"
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true", "yes"):
                return
            sock.settimeout(timeout)
            sock.sendall(_H2_HELLO)
            head = _recv(sock, 9)
    except socket.gaierror as exc:
        raise ExecutorError(f"Cannot reach {where}: the host {host!r} is unknown ({exc.strerror or exc})") from None
    except TimeoutError:
        raise ExecutorError(f"Cannot reach {where}: nothing answered on {host}:{port} within {timeout:g} s "
                            f"(RayExecutor connect_timeout)") from None
    except OSError as exc:
        reason = exc.strerror or one_line(exc)
        raise ExecutorError(f"Cannot reach {where}: {reason} (is a Ray head node running there? start one "
                            f"with `ray start --head`)") from None
    if len(head) < 9 or head[3] != _H2_SETTINGS:
        raise ExecutorError(f"Cannot use {where}: something answers on {host}:{port}, but not as a Ray head "
                            f"node (no gRPC answer); check the host and port (`ray status` on the head node "
                            f"prints the address)")


# ----- payloads -----------------------------------------------------------------------------------


def run_on_ray(head: bytes, *parts: Any) -> bytes:
    """What a Ray task runs: :func:`~ferroflow.executors.shipping.run_shipped`, a part
    in the object store passed as ``[reference]`` (so that Ray does not fetch it for
    every task) and fetched only by a worker that has not loaded it yet."""
    return run_shipped(head, *parts, fetch=_fetch)


def _fetch(reference: Any) -> Any:
    import ray

    return ray.get(reference)


def _user_paths() -> list:
    """The directories on this process's ``sys.path`` that are not Python's own or an
    environment's packages: the flow's directory, the current directory, ``PYTHONPATH``."""
    import sys

    prefixes = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix) if p}
    paths: list = []
    for entry in sys.path:
        if not isinstance(entry, str):
            continue
        path = os.path.realpath(entry or os.curdir)
        if (not os.path.isdir(path) or path in paths or "site-packages" in path.split(os.sep)
                or any(path == p or path.startswith(p + os.sep) for p in prefixes)):
            continue
        paths.append(path)
    return paths


def _with_driver_path(runtime_env: Any) -> Any:
    """``runtime_env`` (for a Ray instance on this machine) with ``PYTHONPATH`` set to
    this process's own directories (see :func:`_user_paths`), so that Ray's workers
    import the modules a flow's tasks use as this process does, whatever the current
    directory. A ``PYTHONPATH`` the user gives, or a runtime_env that is not a dict, is
    left alone."""
    if runtime_env is not None and not isinstance(runtime_env, dict):
        return runtime_env
    paths = _user_paths()
    env = dict(runtime_env or {})
    env_vars = dict(env.get("env_vars") or {})
    if not paths or "PYTHONPATH" in env_vars:
        return runtime_env
    env_vars["PYTHONPATH"] = os.pathsep.join(paths)
    env["env_vars"] = env_vars
    return env


# ----- the executor ------------------------------------------------------------------------------


class RayExecutor(Executor):
    """Run work units as Ray tasks.

    Args:
        address: The Ray cluster to connect to: ``"HOST:PORT"`` of its head node (what
            ``ray start --head`` prints), ``"ray://HOST:10001"`` (Ray Client, needs
            ``ray[client]``) or ``"auto"`` (the cluster ``ray start`` started on this
            machine). Default: a new local Ray instance (or the cluster named by the
            ``RAY_ADDRESS`` environment variable, as ``ray.init()`` does).
        init_kwargs: More keyword arguments for ``ray.init()`` (``num_cpus``,
            ``object_store_memory``, ``runtime_env``, ``namespace``...).
        num_cpus_per_unit: CPUs a work unit asks Ray for (default 1, Ray's default);
            a task's ``ray-num-cpus:N`` tag overrides it.
        resources_from_tags: Read ``ray-...`` tags (see :func:`ray_options`).
        max_in_flight: Units run at once (``slots()``). Default: the cluster's CPUs
            divided by ``num_cpus_per_unit``.
        max_retries: How many times Ray runs a unit again when the worker process
            running it dies (Ray's ``max_retries``; -1: for ever). After that the
            unit runs in halves until the task run that kills its workers is alone;
            it fails with :class:`~ferroflow.executors.remote.WorkerCrashedError` and
            the task's own ``max_retries`` apply.
        connect_timeout: Seconds to wait for the cluster at ``address`` to answer
            before giving up with an :class:`~ferroflow.errors.ExecutorError`.
        check_resources: Fail a task's runs at once when no node of the cluster has
            the resources its tags ask for (instead of waiting for such a node
            forever). Set it to False on a cluster that an autoscaler grows.

    If this process is already connected to Ray (``ray.init()`` was called), the
    executor uses that connection and leaves it open; ``init_kwargs`` are then unused.
    It calls ``ray.shutdown()`` at the end of a flow run only when it called
    ``ray.init()`` itself: a local instance it started stops; a cluster it connected
    to is only disconnected from.

    A local Ray instance that the executor starts gives its workers this process's
    own ``sys.path`` directories (``runtime_env`` ``env_vars.PYTHONPATH``, unless
    ``init_kwargs`` sets one), so tasks import the modules next to the flow's file.

    ``timeout=`` is hard for Python code: Ray runs a task in its worker's main thread,
    where ``SIGALRM`` interrupts the task run.
    """

    name = "ray"
    batches = True  # shipping.py packs TaskRuns batches too

    def __init__(self, address: str | None = None, init_kwargs: Mapping[str, Any] | None = None,
                 num_cpus_per_unit: float | None = None, resources_from_tags: bool = True,
                 max_in_flight: int | None = None, max_retries: int = 3, connect_timeout: float = 10.0,
                 check_resources: bool = True) -> None:
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ValueError(f"address must be a Ray cluster address such as '10.0.0.5:6379', got {address!r}")
        if init_kwargs is None:
            init_kwargs = {}
        if not isinstance(init_kwargs, Mapping) or not all(isinstance(k, str) for k in init_kwargs):
            raise TypeError(f"init_kwargs must be a dict of keyword arguments for ray.init(), got {init_kwargs!r}")
        if "address" in init_kwargs:
            raise ValueError("give the Ray cluster's address as RayExecutor(address=...), not in init_kwargs")
        if num_cpus_per_unit is not None and not _is_amount(num_cpus_per_unit):
            raise ValueError(f"num_cpus_per_unit must be a number of CPUs >= 0, got {num_cpus_per_unit!r}")
        if max_in_flight is not None and (isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int)
                                          or max_in_flight < 1):
            raise ValueError(f"max_in_flight must be a positive integer, got {max_in_flight!r}")
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < -1:
            raise ValueError(f"max_retries must be an integer >= 0 (or -1: retry forever), got {max_retries!r}")
        if not _is_amount(connect_timeout) or connect_timeout <= 0:
            raise ValueError(f"connect_timeout must be a number of seconds > 0, got {connect_timeout!r}")
        for name, flag in (("resources_from_tags", resources_from_tags), ("check_resources", check_resources)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False (on the command line: {name}=false), got {flag!r}")
        self.address = address.strip() if address is not None else None
        self.init_kwargs = dict(init_kwargs)
        self.num_cpus_per_unit = num_cpus_per_unit
        self.resources_from_tags = resources_from_tags
        self.max_in_flight = max_in_flight
        self.max_retries = max_retries
        self.connect_timeout = float(connect_timeout)
        self.check_resources = check_resources
        self._ray: Any = None
        self._started = False
        self._owner = False
        self._pending: dict = {}
        self._done: list = []
        self._splitter = CrashSplitter()  # lost units, run again in halves
        self._remote: Any = None
        self._tasks: dict = {}  # task id -> its options (or the error), made once per run
        self._remotes: dict = {}  # (name, options) -> the remote function with them
        self._shipper = Shipper("a worker")
        self._shared = SharedParts(self._upload, _SHARED_KEPT)
        self._plans = SharedParts(self._upload_plan, _SHARED_KEPT)
        self._nodes: list = []
        self._nodes_at = -math.inf
        self._cpus: float | None = None
        self._cpus_at = -math.inf
        #: Counters of the last flow run: units submitted, bytes sent with them (total and
        #: largest), shared parts put in the object store once (and their bytes; the
        #: run's context and unmapped arguments, and apart, mapped tasks' plans), units
        #: whose worker was lost for good, units run again in halves to find a task run
        #: that kills its workers, Ray tasks cancelled at shutdown.
        self.stats = self._fresh_stats()

    def __repr__(self) -> str:
        where = f"address={self.address!r}" if self.address else "local"
        return f"RayExecutor({where})"

    @staticmethod
    def _fresh_stats() -> dict:
        return {"units": 0, "bytes": 0, "max_bytes": 0, "shared": 0, "shared_bytes": 0, "plans": 0, "lost": 0,
                "split": 0, "cancelled": 0}

    # ----- the contract ---------------------------------------------------------

    def start(self) -> None:
        ray = self._ray = _import_ray()
        self._pending = {}
        self._done = []
        self._tasks = {}
        self._remotes = {}
        self._shipper = Shipper("a worker")
        self._shared = SharedParts(self._upload, _SHARED_KEPT)
        self._plans = SharedParts(self._upload_plan, _SHARED_KEPT)
        self._nodes_at = self._cpus_at = -math.inf
        self.stats = self._fresh_stats()
        self._splitter = CrashSplitter(self.stats)
        if ray.is_initialized():
            self._owner = False
        else:
            self._connect(ray)
            self._owner = True
        try:
            self._remote = ray.remote(run_on_ray)
            self.slots()  # the cluster answers (and its size is known) before the first unit
        except BaseException:
            self._release()
            raise
        self._started = True

    def slots(self) -> int:
        if self.max_in_flight is not None:
            return self.max_in_flight
        if self._ray is None:
            raise RuntimeError("RayExecutor.slots() before start(): the cluster's CPUs are not known yet "
                               "(or give max_in_flight)")
        now = time.monotonic()
        if self._cpus is None or now - self._cpus_at > _REFRESH:
            self._cpus = float(self._ray.cluster_resources().get("CPU", 0))
            self._cpus_at = now
        per = self.num_cpus_per_unit or 1
        return max(1, int(self._cpus // per + 1e-9))

    def submit(self, unit: WorkUnit) -> None:
        if not self._started:
            raise RuntimeError("RayExecutor.submit() before start()")
        groups = groups_by_task(unit, self._option_group)
        if groups is not None:  # a batch whose tasks ask for different resources
            for part in self._splitter.divide(unit, groups):
                self.submit(part)
            return
        try:
            remote = self._remote_for(unit)
        except ExecutorError as exc:  # a bad tag, no node fits
            self._done.append((unit, failed_result(unit, exc)))
            return
        parcel = self._shipper.pack(unit)
        if parcel.sent is None:  # nothing of it can be sent: its runs failed, saying why
            self._done.append((unit, parcel.decided))
            return
        parts: list = []
        sent = len(parcel.head)
        for piece in parcel.pieces:
            if piece is not None and piece.key:  # to Ray's object store, once per run
                shared = self._plans if piece.kind == "plan" else self._shared
                parts.append([shared.ref(piece.blob)])
            else:
                parts.append(None if piece is None else piece.blob)
                sent += 0 if piece is None else len(piece.blob)
        ref = remote.remote(parcel.head, *parts)
        self._pending[ref] = parcel
        stats = self.stats
        stats["units"] += 1
        stats["bytes"] += sent
        stats["max_bytes"] = max(stats["max_bytes"], sent)

    def wait(self) -> list:
        if not self._started:
            raise RuntimeError("RayExecutor.wait() before start()")
        out: list = []
        while True:
            done, self._done = self._done, []
            for unit, result in done:
                self._splitter.handle(unit, result, False, self.submit, out)
            pending = self._pending
            if not pending:
                if out:
                    return out
                if self._done:
                    continue
                raise RuntimeError("RayExecutor.wait() with no unit in flight")
            ray = self._ray
            refs = list(pending)
            try:
                # Blocks in Ray's wait, which Ctrl-C interrupts; not at all when results
                # decided here are waiting to be returned.
                ready, rest = ray.wait(refs, num_returns=1, timeout=0 if out else None, fetch_local=True)
                if ready and rest:
                    more, _ = ray.wait(rest, num_returns=len(rest), timeout=0, fetch_local=True)
                    ready.extend(more)
            except ray.exceptions.RayError as exc:
                raise ExecutorError(f"The ray executor lost its Ray cluster while waiting for work units: "
                                    f"{one_line(exc)}") from exc
            for ref in ready:
                parcel = pending.pop(ref)  # popped once: a unit's outcome is returned once
                self._splitter.handle(parcel.unit, *self._outcome(parcel, ref), self.submit, out)
            if out:
                return out

    def shutdown(self) -> None:
        if not self._started:
            return
        self._started = False
        pending, self._pending = self._pending, {}
        self._done = []
        self._splitter.clear()
        self._shared.clear()  # Ray frees those objects once no task needs them
        self._plans.clear()
        try:
            for ref in pending:
                # A task not started yet is dropped; a running one is stopped by ending
                # the worker process that runs it (its task run may be in C code that
                # a KeyboardInterrupt would not reach).
                try:
                    self._ray.cancel(ref, force=True, recursive=True)
                except Exception:
                    continue
                self.stats["cancelled"] += 1
        finally:
            self._release()

    # ----- helpers ----------------------------------------------------------------------

    def _connect(self, ray: Any) -> None:
        address, source = self.address, "address"
        if address is None and os.environ.get("RAY_ADDRESS"):
            address, source = os.environ["RAY_ADDRESS"], "RAY_ADDRESS"
        if address is not None:
            probe_address(address, self.connect_timeout, source)
        kwargs = dict(self.init_kwargs)
        if address is None:
            kwargs["runtime_env"] = _with_driver_path(kwargs.get("runtime_env"))
        try:
            ray.init(address=self.address, **kwargs)
        except Exception as exc:
            if ray.is_initialized():
                ray.shutdown()
            what = (f"connect to the Ray cluster at {source} {address!r}" if address is not None
                    else "start a local Ray instance")
            raise ExecutorError(f"The ray executor could not {what}: {one_line(exc)}") from exc

    def _release(self) -> None:
        if self._owner:
            self._owner = False
            self._ray.shutdown()

    def _upload(self, shared: bytes) -> Any:
        self.stats["shared"] += 1
        self.stats["shared_bytes"] += len(shared)
        return self._ray.put(shared)

    def _upload_plan(self, plan: bytes) -> Any:
        self.stats["plans"] += 1
        return self._ray.put(plan)

    def _remote_for(self, unit: Any) -> Any:
        """The remote function with the options of ``unit``'s task (a batch: of its
        first run's task, whose options all its tasks share; see
        :meth:`_option_group`); raises ExecutorError for bad tags or resources no node
        has."""
        entry = self._options(*self._task_of(unit))
        if isinstance(entry, ExecutorError):
            raise entry
        name = label_of(unit)
        key = (name, *sorted((option, repr(value)) for option, value in entry.items()))
        remote = self._remotes.get(key)
        if remote is None:
            try:
                remote = self._remote.options(name=name, max_retries=self.max_retries, retry_exceptions=False,
                                              **entry)
            except (TypeError, ValueError) as exc:
                raise ExecutorError(f"Ray refuses the options {entry!r} of {subject_of(unit)}: "
                                    f"{one_line(exc)}") from exc
            if not is_batch(unit):  # (a task's units share it; a batch's name is its own)
                self._remotes[key] = remote
        return remote

    def _option_group(self, plan: Any) -> Any:
        """What a batch's task run is grouped by: the options its task asks Ray for (a
        task whose tags are wrong, alone)."""
        entry = self._options(plan.task_id, plan.tags, plan.name)
        if isinstance(entry, ExecutorError):
            return ("error", plan.task_id)
        return tuple(sorted((name, repr(value)) for name, value in entry.items()))

    @staticmethod
    def _task_of(unit: Any) -> tuple:
        """``(task id, tags, name)`` of ``unit``'s task (a batch: its first run's)."""
        if is_batch(unit):
            plan = unit.plans[unit.task_ids[0]]
            return plan.task_id, plan.tags, plan.name
        tags = unit.frame.task_tags if unit.frame is not None else getattr(unit.owner, "tags", None) or ()
        return unit.task_id, tags, unit.label

    def _options(self, task_id: int, tags: Iterable[str], label: str) -> Any:
        """The Ray options of task ``task_id`` (or the ExecutorError saying why it has
        none), found once per run."""
        entry = self._tasks.get(task_id)
        if entry is None:
            try:
                entry = self._options_for(tags, label)
            except ExecutorError as exc:
                entry = exc
            self._tasks[task_id] = entry
        return entry

    def _options_for(self, tags: Iterable[str], label: str) -> dict:
        options: dict = {}
        if self.num_cpus_per_unit is not None:
            options["num_cpus"] = self.num_cpus_per_unit
        if self.resources_from_tags:
            options.update(ray_options(tags, label))
        else:
            tags = ()
        if self.check_resources:
            need = _request(options)
            if not _fits(need, self._alive_nodes(refresh=False)) and not _fits(need, self._alive_nodes(refresh=True)):
                asked = [t for t in sorted(tags) if t.startswith(TAG_PREFIX)]
                largest = max(self._alive_nodes(refresh=False), key=lambda n: n.get("CPU", 0), default={})
                raise ExecutorError(
                    f"Task {label!r} asks Ray for {_describe(need)}"
                    f"{' (tags ' + ', '.join(map(repr, asked)) + ')' if asked else ''}, which no node of the Ray "
                    f"cluster has (the largest has {_describe(largest)}); start nodes that have it, or set "
                    f"RayExecutor(check_resources=False) when an autoscaler adds them")
        return options

    def _alive_nodes(self, refresh: bool) -> list:
        now = time.monotonic()
        if refresh and now - self._nodes_at > 1.0 or now - self._nodes_at > _REFRESH:
            self._nodes = [dict(node.get("Resources", {})) for node in self._ray.nodes() if node.get("Alive")]
            self._nodes_at = now
        return self._nodes

    def _outcome(self, parcel: Parcel, ref: Any) -> tuple:
        """``(result, lost)`` of the parcel of ``ref`` (``lost``: its worker died for good)."""
        ray = self._ray
        errors = ray.exceptions
        unit = parcel.sent
        try:
            payload = ray.get(ref)
        except (errors.RaySystemError, errors.LocalRayletDiedError) as exc:
            raise ExecutorError(f"The ray executor lost its Ray cluster (while getting the results of "
                                f"{subject_of(unit)}): {one_line(exc)}") from exc
        except (errors.WorkerCrashedError, errors.NodeDiedError, errors.OutOfMemoryError,
                errors.ObjectLostError) as exc:
            self.stats["lost"] += 1
            error = WorkerCrashedError(
                f"The Ray worker running a work unit of {subject_of(unit)} ({unit.size} task run(s)) was lost: "
                f"{one_line(exc)} ({_attempts(self.max_retries)}: RayExecutor max_retries={self.max_retries})",
                label_of(unit))
            return parcel.failed(error, str(exc)), True
        except errors.TaskCancelledError as exc:
            return parcel.failed(ExecutorError(
                f"The Ray task running a work unit of {subject_of(unit)} was cancelled from outside the flow "
                f"run: {one_line(exc)}"), str(exc)), False
        except errors.RayError as exc:  # a runtime_env that cannot be set up, an unschedulable task...
            return parcel.failed(ExecutorError(
                f"Task {label_of(unit)!r} could not run on Ray: {one_line(exc)}"), str(exc)), False
        try:
            return parcel.unpack(payload), False
        except ExecutorError as exc:
            return parcel.failed(exc), False


def _attempts(max_retries: int) -> str:
    """What Ray tried before giving up on a unit, for a message."""
    if max_retries < 0:
        return "Ray retries it for ever, but could not run it"
    return f"Ray ran the unit {max_retries + 1} time(s)"


def _is_amount(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and value >= 0


@hookimpl
def register_executors(register) -> None:
    """Register :class:`RayExecutor` as ``"ray"``."""
    register("ray", RayExecutor)
