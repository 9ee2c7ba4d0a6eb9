"""ferroflow-dask: run a flow's work units on a Dask cluster.

Registered as the ``dask`` executor through the ``register_executors`` hook::

    flow.run(executor="dask")                                   # a LocalCluster for the run
    flow.run(executor=DaskExecutor(address="tcp://10.0.0.5:8786"))  # an existing scheduler
    flow.run(executor=DaskExecutor(cluster_class="dask_jobqueue.SLURMCluster",
                                   cluster_kwargs={"cores": 8, "memory": "16GB"},
                                   adapt_kwargs={"minimum": 1, "maximum": 20}))

or ``ferroflow run flow.py --executor dask --executor-option address=tcp://...``.

The engine stays in the flow process: it packs ready task runs into work units (a
slice of a mapped task's children sized to take about 0.1 s, a batch of the ready runs
of ordinary tasks, or one task run) and this executor submits each unit as one Dask
task (``client.submit(run_shipped, head, *parts)``, see
:mod:`ferroflow.executors.shipping`). A million mapped children make about a hundred
Dask tasks, not a million, and a layer of a hundred ordinary tasks a few. A part units
share (the run's context, a mapped task's plan and unmapped arguments) is loaded once
per worker; it goes to the cluster once per run (scattered) when it is at least
:data:`SHARED_SCATTER_BYTES`, and inline with each unit below that (a few KB: cheaper
than a dependency, which would draw units to the worker holding the part). No flow object travels, and
results come back to the flow process, which decides states, retries and triggers as
with any executor.

Dask's own guarantees apply: a worker that dies has its tasks run again elsewhere
(``distributed.scheduler.allowed-failures`` times; then the unit runs again in halves
until the task run that kills its workers is alone, and that one fails with a
:class:`~ferroflow.executors.remote.WorkerCrashedError`: the task's retries apply). A
unit's outcome is recorded once, even if Dask completes a recomputed task again. See
``README.md`` for resources (``dask-resource:GPU=1`` tags), timeouts and
Ctrl-C.
"""

from __future__ import annotations

import importlib
import logging
import math
import multiprocessing
import re
import socket
import time
import traceback
import uuid
from typing import Any

from ferroflow.errors import ExecutorError, one_line
from ferroflow.executors.base import Executor, UnitResult, WorkUnit
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

__all__ = ["DaskExecutor", "RESOURCE_TAG", "CONNECT_TIMEOUT", "register_executors"]

log = logging.getLogger("ferroflow.dask")

#: Tag prefix through which a task asks for Dask worker resources:
#: ``@task(tags=["dask-resource:GPU=1"])``.
RESOURCE_TAG = "dask-resource:"
#: Seconds given to reach a scheduler (``client_kwargs={"timeout": ...}`` changes it).
CONNECT_TIMEOUT = 10.0
#: A part larger than this is scattered to the cluster first instead of being embedded
#: in the task graph (which Dask warns about past 10 MB): a unit's own part, or a part
#: units share (the run's parameters, a mapped task's plan or unmapped arguments), which
#: is sent once per run either way.
SCATTER_BYTES = 4 << 20
#: A part units share this large or larger is scattered to the cluster once per run and
#: named by the units that need it; a smaller one travels with each of them.
SHARED_SCATTER_BYTES = 64 << 10
#: Seconds given to close the client, and a cluster the executor started.
CLOSE_TIMEOUT = 30.0

_KEY_SAFE = re.compile(r"[^A-Za-z0-9_.]+")


class DaskExecutor(Executor):
    """Run work units on a Dask cluster.

    Args:
        address: The address of a running Dask scheduler (``"tcp://host:8786"``). The
            executor connects to it and never closes it. Leave out to start a cluster
            for each flow run.
        cluster_class: The cluster to start when there is no ``address``: a class or
            its dotted path (``"dask_jobqueue.SLURMCluster"``). Default
            ``distributed.LocalCluster`` (worker processes on this machine; Dask's
            defaults pick their number and threads from the CPUs).
        cluster_kwargs: Keyword arguments of ``cluster_class``
            (``{"n_workers": 4, "threads_per_worker": 1}``).
        adapt_kwargs: When given (even ``{}``), ``cluster.adapt(**adapt_kwargs)``
            makes the cluster scale with the load (``{"minimum": 1, "maximum": 10}``).
        client_kwargs: Keyword arguments of ``distributed.Client``. ``timeout``
            (seconds to reach the scheduler) defaults to :data:`CONNECT_TIMEOUT`;
            ``set_as_default`` to False, so your own Dask code is not redirected.
        resources_from_tags: Turn tags ``dask-resource:NAME=AMOUNT`` of a task into
            Dask resource restrictions of its units (default True).

    ``slots()`` is the number of worker threads of the cluster (for an adaptive
    cluster, what its ``maximum`` would give). Timeouts are soft (task runs execute in
    worker threads). Ctrl-C cancels the submitted units; a running one cannot be
    interrupted by Dask: on an external cluster it finishes in the background and its
    result is dropped, a cluster the executor started is closed with its workers.
    """

    name = "dask"
    batches = True  # shipping.py packs TaskRuns batches too

    def __init__(self, address: str | None = None, cluster_class: str | type | None = None,
                 cluster_kwargs: dict | None = None, adapt_kwargs: dict | None = None,
                 client_kwargs: dict | None = None, resources_from_tags: bool = True) -> None:
        if address is not None and (not isinstance(address, str) or not address.strip()):
            raise ValueError(f"address must be a Dask scheduler address such as 'tcp://127.0.0.1:8786', "
                             f"got {address!r}")
        if address is not None and (cluster_class is not None or cluster_kwargs or adapt_kwargs is not None):
            raise ValueError("address= connects to a running Dask scheduler, while cluster_class, cluster_kwargs "
                             "and adapt_kwargs describe a cluster to start: give one or the other")
        self.address = address.strip() if address is not None else None
        self.cluster_class = _resolve_class(cluster_class) if cluster_class is not None else None
        self.cluster_kwargs = _mapping("cluster_kwargs", cluster_kwargs)
        self.adapt_kwargs = None if adapt_kwargs is None else _mapping("adapt_kwargs", adapt_kwargs)
        self.client_kwargs = _mapping("client_kwargs", client_kwargs)
        if not isinstance(resources_from_tags, bool):
            raise ValueError(f"resources_from_tags must be True or False, got {resources_from_tags!r}")
        self.resources_from_tags = resources_from_tags
        timeout = self.client_kwargs.get("timeout", CONNECT_TIMEOUT)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < math.inf:
            raise ValueError(f"client_kwargs['timeout'] must be a positive number of seconds, got {timeout!r}")
        #: Seconds given to reach the scheduler.
        self.connect_timeout = float(timeout)
        self._client: Any = None
        self._cluster: Any = None  # only a cluster this executor started (and closes)
        self._completions: Any = None
        self._running: dict = {}  # Dask key -> (parcel, future, scattered head or None)
        self._ready: list = []  # outcomes decided without Dask
        self._splitter = CrashSplitter()  # units whose workers kept dying, run in halves
        self._shipper = Shipper("a worker")
        self._shared = SharedParts(self._send_part)  # each large shared part, scattered once
        self._resources: dict = {}  # (task id, tags) -> resources or the error
        self._warned: set = set()
        #: Counters of the last run, for the curious (and the tests): units submitted and
        #: bytes embedded in the graph, large shared parts scattered once per run, parts
        #: scattered (those, and units' own parts over SCATTER_BYTES), late duplicates
        #: ignored, units split.
        self.stats = self._fresh_stats()

    def __repr__(self) -> str:
        if self.address is not None:
            return f"DaskExecutor(address={self.address!r})"
        cls = self.cluster_class
        name = "distributed.LocalCluster" if cls is None else f"{cls.__module__}.{cls.__qualname__}"
        return f"DaskExecutor(cluster_class={name})"

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` of the current run (None outside a run)."""
        return self._client

    @property
    def cluster(self) -> Any:
        """The cluster this executor started for the current run (None with ``address``)."""
        return self._cluster

    # ----- the contract ---------------------------------------------------------

    def start(self) -> None:
        import distributed

        self._running, self._ready, self._resources, self._warned = {}, [], {}, set()
        self.stats = self._fresh_stats()
        self._splitter = CrashSplitter(self.stats)
        self._shipper = Shipper("a worker")
        self._shared = SharedParts(self._send_part)
        kwargs = {"set_as_default": False, **self.client_kwargs, "timeout": self.connect_timeout}
        cluster = client = None
        try:
            if self.address is not None:
                _probe(self.address, self.connect_timeout)
                try:
                    client = distributed.Client(self.address, **kwargs)
                except (OSError, ValueError, TimeoutError) as exc:
                    raise ExecutorError(f"Could not connect to the Dask scheduler at {self.address!r} "
                                        f"(connect timeout {self.connect_timeout:g} s): {one_line(exc)}") from None
            else:
                cluster = self._start_cluster()
                client = distributed.Client(cluster, **kwargs)
            # Without results: as_completed's own fetch of a result loses the future
            # (raises in Dask's event loop, and wait() would hang) when the worker that
            # held it dies and the computation Dask starts again fails; _fetch() does not.
            self._completions = distributed.as_completed(loop=client.loop)
        except BaseException:  # Ctrl-C included: the engine calls shutdown() only after a start
            if client is not None:
                _close(client, "its Dask client")
            if cluster is not None:
                _close(cluster, "the Dask cluster it started")
            raise
        self._client, self._cluster = client, cluster

    def slots(self) -> int:
        client = self._require("slots")
        threads = client.nthreads()
        total = sum(threads.values())
        maximum = (self.adapt_kwargs or {}).get("maximum")
        if isinstance(maximum, (int, float)) and not isinstance(maximum, bool) and math.isfinite(maximum):
            per_worker = self.cluster_kwargs.get("threads_per_worker") or (total // len(threads) if threads else 1)
            total = max(total, int(maximum) * max(1, int(per_worker)))
        return max(1, total)

    def submit(self, unit: WorkUnit) -> None:
        client = self._require("submit")
        if client.status not in ("running", "connecting"):
            raise ExecutorError(f"The Dask client of {self!r} is {client.status}: the connection to the scheduler "
                                f"was lost")
        groups = groups_by_task(unit, self._resource_group) if self.resources_from_tags else None
        if groups is not None:  # a batch whose tasks ask for different resources
            for part in self._splitter.divide(unit, groups):
                self.submit(part)
            return
        try:
            resources = self._resources_of(unit)
        except ExecutorError as exc:  # fail the unit's task runs, not the flow run
            self._ready.append((unit, failed_result(unit, exc)))
            return
        parcel = self._shipper.pack(unit)
        if parcel.sent is None:  # nothing of it can be sent: its runs failed, saying why
            self._ready.append((unit, parcel.decided))
            return
        # Batches share a name: one large Dask task group, which Dask queues on the
        # scheduler (workers hold one unit per thread), as it does a mapped task's units.
        name = "ferroflow-batch" if is_batch(unit) else _KEY_SAFE.sub("_", unit.label)[:60] or "task"
        key = f"{name}-{uuid.uuid4().hex}"
        parts = []
        sent = 0
        for piece in parcel.pieces:
            if piece is not None and piece.key and len(piece.blob) >= SHARED_SCATTER_BYTES:
                parts.append(self._shared.ref(piece.blob))  # in the cluster once per run
            else:
                parts.append(None if piece is None else piece.blob)
                sent += 0 if piece is None else len(piece.blob)
        head = parcel.head
        # A large head is not embedded in the graph: it is scattered to the cluster.
        first = self._scatter(head) if len(head) > SCATTER_BYTES else head
        future = client.submit(run_shipped, first, *parts, key=key, pure=False, resources=resources)
        # (a scattered head is kept until the unit is back)
        self._running[key] = (parcel, future, first if first is not head else None)
        self.stats["units"] += 1
        self.stats["bytes"] += sent + (len(head) if first is head else 0)
        self._track(future)

    @staticmethod
    def _fresh_stats() -> dict:
        return {"units": 0, "bytes": 0, "shared": 0, "scattered": 0, "ignored": 0, "split": 0}

    def _send_part(self, part: bytes) -> Any:
        """A large shared part, scattered to the cluster once."""
        self.stats["shared"] += 1
        return self._scatter(part)

    def _scatter(self, part: bytes) -> Any:
        self.stats["scattered"] += 1
        return self._client.scatter(part, hash=False)

    def wait(self) -> list:
        self._require("wait")
        out: list = []
        while True:
            ready, self._ready = self._ready, []
            for unit, result in ready:
                self._splitter.handle(unit, result, False, self.submit, out)
            if self._running:
                try:
                    batch = self._completions.next_batch(block=not out)  # Ctrl-C interrupts it
                except StopIteration:
                    raise ExecutorError(f"{self!r} lost track of {len(self._running)} Dask future(s)") from None
            else:
                batch = []
            for future, result in self._fetch(batch):
                entry = self._running.get(future.key)
                if entry is None or entry[1] is not future:
                    # A late or duplicate completion (a recomputed task Dask reports
                    # again): the unit's outcome was recorded already.
                    self.stats["ignored"] += 1
                    continue
                del self._running[future.key]
                lost = isinstance(result, tuple) and len(result) == 3 and _is_killed_worker(result[1])
                parcel = entry[0]
                self._splitter.handle(parcel.unit, self._outcome(parcel, future, result), lost, self.submit, out)
            if out:
                return out
            if not self._running and not self._ready:
                raise RuntimeError("DaskExecutor.wait() with no unit in flight")

    def shutdown(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        running, self._running = self._running, {}
        self._ready = []
        self._splitter.clear()
        self._shared.clear()
        if self._completions is not None:
            self._completions.clear()
            self._completions = None
        if client is None:
            return
        futures = [entry[1] for entry in running.values()]
        if futures and client.status == "running":
            # Ctrl-C or an error: what has not started never will. (Dask cannot stop a
            # task already running in a worker thread: on a cluster started here it
            # ends with the cluster; elsewhere it finishes and its result is dropped.)
            try:
                client.cancel(futures)
            except Exception as exc:
                log.warning("could not cancel %d Dask future(s): %s", len(futures), one_line(exc))
        del futures, running
        _close(client, "its Dask client")
        if cluster is not None:
            _close(cluster, "the Dask cluster it started")

    # ----- inside ----------------------------------------------------------------

    def _fetch(self, futures: list) -> list:
        """``(future, result)`` of completed futures, their results fetched in one go:
        the bytes of run_shipped(), ``(type, exception, traceback)`` of a failed one, or
        None (cancelled). A result lost with a worker before it was fetched is computed
        again by Dask and waited for; if that fails, the failure is the result."""
        client = self._client
        finished = {f.key: f for f in futures if f.status == "finished"}
        try:
            values = client.gather(finished, errors="skip") if finished else {}
        except (OSError, TimeoutError) as exc:
            raise ExecutorError(f"The Dask client of {self!r} could not fetch results from the cluster: "
                                f"{one_line(exc)}") from exc
        out = []
        for future in futures:
            value = values.get(future.key)
            if value is None and future.status == "error":
                exc = future.exception()
                value = (type(exc), exc, future.traceback())
            out.append((future, value))
        return out

    def _require(self, what: str) -> Any:
        if self._client is None:
            raise RuntimeError(f"DaskExecutor.{what}() before start()")
        return self._client

    def _track(self, future: Any) -> None:
        """Have ``future``'s completion reach :meth:`wait` (which fetches its result)."""
        self._completions.add(future)

    def _start_cluster(self) -> Any:
        cls = self.cluster_class
        kwargs = dict(self.cluster_kwargs)
        if cls is None:
            from distributed import LocalCluster

            cls = LocalCluster
            kwargs.setdefault("processes", True)
        name = f"{cls.__module__}.{cls.__qualname__}"
        if kwargs.get("processes", False) and getattr(multiprocessing.current_process(), "_inheriting", False):
            raise ExecutorError(
                f"{name} was asked to start worker processes from a worker process that is importing the "
                f"flow's script again (Python's 'spawn' does that): call flow.run() under "
                f"`if __name__ == \"__main__\":` in the script, or use `ferroflow run`")
        try:
            cluster = cls(**kwargs)
        except Exception as exc:
            raise ExecutorError(f"Could not start a Dask cluster {name}(**{kwargs!r}): {one_line(exc)}") from exc
        if self.adapt_kwargs is not None:
            adapt = getattr(cluster, "adapt", None)
            try:
                if adapt is None:
                    raise TypeError(f"{name} has no adapt() method")
                adapt(**self.adapt_kwargs)
            except Exception as exc:
                _close(cluster, "the Dask cluster it started")
                raise ExecutorError(f"Could not make the Dask cluster {name} adaptive with "
                                    f"adapt(**{self.adapt_kwargs!r}): {one_line(exc)}") from exc
        return cluster

    def _resources_of(self, unit: Any) -> dict | None:
        """The Dask resources a unit asks for through its task's tags, or None (for a
        batch: through the tags of its first run's task, which all its tasks share; see
        :meth:`_resource_group`)."""
        if not self.resources_from_tags:
            return None
        if is_batch(unit):
            plan = unit.plans[unit.task_ids[0]]
            known = self._resources_for(plan.task_id, plan.tags, plan.name)
        else:
            tags = unit.frame.task_tags if unit.frame is not None else frozenset(getattr(unit.owner, "tags", ()) or ())
            known = self._resources_for(unit.task_id, tags, unit.label)
        if isinstance(known, ExecutorError):
            raise known
        return known

    def _resources_for(self, task_id: int, tags: Any, label: str) -> Any:
        """The resources task ``task_id``'s tags ask for: a dict, None, or the error."""
        if not tags:
            return None
        key = (task_id, tags)
        known = self._resources.get(key, self)
        if known is self:
            try:
                known = resources_from_tags(tags, label)
            except ExecutorError as exc:
                known = exc
            if isinstance(known, dict):
                self._check_offered(label, known)
            self._resources[key] = known
        return known

    def _resource_group(self, plan: Any) -> Any:
        """What a batch's task run is grouped by: the resources its task asks for (a
        task with a malformed tag, alone)."""
        known = self._resources_for(plan.task_id, plan.tags, plan.name)
        if isinstance(known, ExecutorError):
            return ("error", plan.task_id)
        return None if known is None else tuple(sorted(known.items()))

    def _check_offered(self, label: str, wanted: dict) -> None:
        """Warn (once per resource) when no worker offers enough of a resource a task
        asks for: Dask would hold its units until such a worker joins."""
        try:
            workers = self._client.scheduler_info(n_workers=-1).get("workers", {})
        except TypeError:  # older distributed: no n_workers
            workers = self._client.scheduler_info().get("workers", {})
        except Exception:
            return
        for name, amount in wanted.items():
            offered = [w.get("resources", {}).get(name, 0) for w in workers.values()]
            if any(o >= amount for o in offered) or (name, amount) in self._warned:
                continue
            self._warned.add((name, amount))
            log.warning("task %r asks for Dask resource %s=%g (tag %r), but no worker of the cluster offers that "
                        "much now (%s): its task runs wait until such a worker joins (e.g. "
                        "`dask worker SCHEDULER --resources \"%s=%g\"`)", label, name, amount,
                        f"{RESOURCE_TAG}{name}={amount:g}",
                        f"offered: {', '.join(f'{o:g}' for o in offered)}" if offered else "no workers",
                        name, amount)

    def _outcome(self, parcel: Parcel, future: Any, result: Any) -> UnitResult:
        # Decided by what _fetch() fetched, never by ``future.status`` now: a worker
        # that dies after the result was fetched makes Dask reset the future to
        # "pending" (to compute it again), which does not undo the result in hand.
        if isinstance(result, (bytes, bytearray, memoryview)):
            return parcel.unpack(result)
        unit = parcel.sent
        if isinstance(result, tuple) and len(result) == 3 and isinstance(result[1], BaseException):
            typ, exc, tb = result  # the unit's Dask task failed
            text = "".join(traceback.format_exception(typ, exc, tb))
            if _is_killed_worker(exc):
                index = unit.indices[0] if unit.indices is not None and unit.size == 1 else None
                error: BaseException = WorkerCrashedError(
                    f"The Dask workers running a work unit of {subject_of(unit)} ({unit.size} task run(s)) kept "
                    f"dying, and Dask gave up on it: {one_line(exc)}", label_of(unit), index)
            else:
                error = ExecutorError(f"Task {label_of(unit)!r} could not run on the Dask cluster: {one_line(exc)}")
            return parcel.failed(error, text)
        client = self._client
        if client is not None and client.status not in ("running", "connecting"):
            raise ExecutorError(f"The Dask client of {self!r} is {client.status}: the connection to the scheduler "
                                f"was lost")
        if future.cancelled():
            return parcel.failed(ExecutorError(
                f"The Dask task of a work unit of {label_of(unit)!r} was cancelled (outside the flow run)"))
        return parcel.failed(ExecutorError(f"The Dask task of a work unit of {label_of(unit)!r} returned "
                                           f"{type(result).__name__}, not the bytes of run_shipped() "
                                           f"(future status {future.status!r})"))


def resources_from_tags(tags: Any, label: str = "?") -> dict | None:
    """``{"GPU": 1}`` from tags like ``"dask-resource:GPU=1"``; None when they ask for
    nothing (no such tag, or only amounts of 0, which restrict nothing). Read by
    ferroflow's one rule for resource tags (:mod:`ferroflow.executors.resources`): a
    malformed tag, an amount that is not a number >= 0, or two amounts of one resource
    raise :class:`~ferroflow.errors.ExecutorError` naming the task and the tag."""
    wanted = ResourceTags(tags, label, "Dask").named(RESOURCE_TAG, "Dask resource", f"{RESOURCE_TAG}GPU=1")
    return wanted or None


def _is_killed_worker(exc: BaseException) -> bool:
    try:
        from distributed.scheduler import KilledWorker
    except ImportError:  # pragma: no cover - moved in a future distributed
        return type(exc).__name__ == "KilledWorker"
    return isinstance(exc, KilledWorker)


def _mapping(name: str, value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError(f"{name} must be a dict of keyword arguments, got {value!r}")
    return dict(value)


def _resolve_class(value: str | type) -> type:
    if isinstance(value, str):
        module_name, _, attr = value.strip().rpartition(".")
        if not module_name or not attr:
            raise ValueError(f"cluster_class must be a class or its dotted path such as "
                             f"'distributed.LocalCluster', got {value!r}")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise ValueError(f"cluster_class {value!r}: cannot import module {module_name!r}: {one_line(exc)}") from exc
        cls = getattr(module, attr, None)
        if cls is None:
            raise ValueError(f"cluster_class {value!r}: module {module_name!r} has no attribute {attr!r}")
        value = cls
    if not callable(value):
        raise ValueError(f"cluster_class must be a class or its dotted path, got {value!r}")
    return value


def _probe(address: str, timeout: float) -> None:
    """Fail fast and clearly on an address that is malformed, or where nothing
    listens within ``timeout`` seconds (before a Client, whose failed start leaves
    threads to clean up)."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        if scheme not in ("tcp", "tls"):
            return
        host, port = parse_host_port(location)
    except ValueError as exc:
        raise ExecutorError(f"{address!r} is not a Dask scheduler address ({exc}); expected e.g. "
                            f"'tcp://127.0.0.1:8786'") from None
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            socket.create_connection((host, port), timeout=max(0.05, left)).close()
            return
        except OSError as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ExecutorError(f"Could not connect to the Dask scheduler at {address!r} within "
                                    f"{timeout:g} s: {one_line(exc)}") from None
            time.sleep(min(0.2, left))  # a scheduler that is starting: try again


def _close(thing: Any, what: str) -> None:
    try:
        thing.close(timeout=CLOSE_TIMEOUT)
    except Exception as exc:
        log.warning("the dask executor could not close %s: %s", what, one_line(exc))


@hookimpl
def register_executors(register) -> None:
    """Register :class:`DaskExecutor` as ``"dask"``."""
    register("dask", DaskExecutor)
