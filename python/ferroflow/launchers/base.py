"""The launcher contract: how a worker starts a flow run it claimed, somewhere.

A worker claims a run (state ``Pending``, fenced by a lease token) and hands a
:class:`LaunchSpec` to a :class:`Launcher`, which starts the run (a local process, a
container, a pod) and returns a :class:`Launched` handle the worker polls, interrupts
or kills. Whatever the launcher, the run itself is executed by
``python -m ferroflow.launchers.execute`` (:mod:`ferroflow.launchers.execute`), whose
exit code tells the worker how the run went (the ``EXIT_*`` constants below).

The contract in full, with an example launcher: ``docs/writing-a-launcher.md``.
"""

from __future__ import annotations

import abc
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "API_KEY_ENV",
    "EXIT_CODES",
    "EXIT_CRASHED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_STARTED",
    "EXIT_REFUSED",
    "EXIT_SUCCESS",
    "SPEC_ENV",
    "WATCH_STDIN_ENV",
    "LaunchSpec",
    "Launched",
    "Launcher",
]

#: The run ended ``Success``.
EXIT_SUCCESS = 0
#: The run ended in another final state (``Failed``, ``TimedOut``...), recorded.
EXIT_FAILED = 1
#: The launched process failed in an unexpected way (its spec was unreadable, the
#: engine raised, the store could not record a failure): the run may not be ended, so
#: the worker treats this code as a crash (``Crashed`` unless the run ended).
EXIT_CRASHED = 2
#: The run could not start (the entrypoint does not import, no such flow, invalid
#: parameters, unknown executor, missing working directory): the run is recorded
#: ``Failed`` with a message naming the problem, by the launched process itself.
EXIT_NOT_STARTED = 3
#: The claim was refused: the run is no longer this claim's (taken over, cancelled or
#: started already). Nothing was recorded; the worker does nothing more with it.
EXIT_REFUSED = 4
#: The run was interrupted (``Launched.interrupt``, SIGINT or SIGTERM) and ended
#: ``Cancelled``, recorded; a run cancelled through the server ends with this code too.
EXIT_INTERRUPTED = 130

#: Exit code -> what it means (for messages and docs).
EXIT_CODES: dict[int, str] = {
    EXIT_SUCCESS: "the run ended Success",
    EXIT_FAILED: "the run ended in another final state (Failed...)",
    EXIT_CRASHED: "the launched process failed unexpectedly; the run may not be ended",
    EXIT_NOT_STARTED: "the run could not start; it is recorded Failed with the reason",
    EXIT_REFUSED: "the claim was refused; nothing recorded",
    EXIT_INTERRUPTED: "the run was interrupted and ended Cancelled",
}

#: Environment variable holding the spec (:meth:`LaunchSpec.to_json`) of the launched run.
SPEC_ENV = "FERROFLOW_LAUNCH_SPEC"
#: Environment variable holding the API key the launched run records with.
API_KEY_ENV = "FERROFLOW_API_KEY"
#: Environment variable: ``1`` makes the launched process kill its process group when
#: its stdin reaches end of file (the worker holding the other end of the pipe died).
WATCH_STDIN_ENV = "FERROFLOW_LAUNCH_WATCH_STDIN"

_RUN_ID = re.compile(r"[0-9a-f]{32}")
_FIELDS = ("run_id", "lease", "flow_name", "entrypoint", "parameters", "executor", "executor_options",
           "resume_from", "server", "working_dir", "env")


@dataclass(frozen=True)
class LaunchSpec:
    """Everything needed to start one claimed flow run.

    Attributes:
        run_id: The claimed run's id (32 lowercase hex digits).
        lease: The claim's fencing token, passed to ``run_flow(lease=...)``: the store
            refuses to start the run unless it is still ``Pending`` under it.
        flow_name: The flow's name (what the run is recorded under if it cannot start).
        entrypoint: ``path/to/file.py:flow`` (a relative path is relative to
            ``working_dir``) or ``package.module:flow``.
        parameters: The run's parameters (JSON values).
        executor: A registered executor name, or None for the flow's own or ``"local"``.
        executor_options: Keyword arguments for the executor's factory.
        resume_from: A crashed run whose checkpoints this run resumes from, or None.
        server: The ferroflow server URL the run records through, or None for the
            default store (``FERROFLOW_API_URL``, ``FERROFLOW_DATABASE_URL``, embedded).
        api_key: The API key to record with. It reaches the launched process through
            its environment (``FERROFLOW_API_KEY``), never its command line, and is not
            part of :meth:`to_json`; it is hidden from ``repr``.
        working_dir: The directory the run starts in, or None for the launcher's.
        env: Extra environment variables for the launched process.
    """

    run_id: str
    lease: str
    flow_name: str
    entrypoint: str
    parameters: dict = field(default_factory=dict)
    executor: str | None = None
    executor_options: dict = field(default_factory=dict)
    resume_from: str | None = None
    server: str | None = None
    api_key: str | None = field(default=None, repr=False)
    working_dir: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.run_id, str) or not _RUN_ID.fullmatch(self.run_id):
            raise ValueError(f"run_id must be 32 lowercase hex digits, got {self.run_id!r}")
        for name in ("lease", "flow_name", "entrypoint"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string, got {value!r}")
        for name in ("executor", "resume_from", "server", "api_key", "working_dir"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{name} must be a string or None, got {type(value).__name__}")
        for name in ("parameters", "executor_options"):
            value = getattr(self, name)
            if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                raise ValueError(f"{name} must be a mapping with string keys, got {type(value).__name__}")
            object.__setattr__(self, name, dict(value))
        if not isinstance(self.env, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.env.items()):
            raise ValueError("env must map strings to strings")
        object.__setattr__(self, "env", dict(self.env))

    def to_json(self) -> str:
        """The spec as JSON, without ``api_key`` (it travels in the environment).

        Raises:
            ValueError: ``parameters`` or ``executor_options`` hold non-JSON values.
        """
        return json.dumps({name: getattr(self, name) for name in _FIELDS}, allow_nan=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, api_key: str | None = None) -> LaunchSpec:
        """The spec :meth:`to_json` made, with ``api_key`` (None: none).

        Raises:
            ValueError: not JSON, not an object, a missing or unknown field, or a field
                of the wrong type.
        """
        try:
            data: Any = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"a launch spec must be JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"a launch spec must be a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise ValueError(f"unknown launch spec fields: {', '.join(unknown)}")
        missing = [name for name in ("run_id", "lease", "flow_name", "entrypoint") if name not in data]
        if missing:
            raise ValueError(f"launch spec fields missing: {', '.join(missing)}")
        data = {k: v for k, v in data.items() if v is not None or k not in ("parameters", "executor_options", "env")}
        return cls(api_key=api_key, **data)


class Launched(abc.ABC):
    """A handle on one launched run, given by :meth:`Launcher.launch`.

    ``description`` says where it runs (``"pid 1234"``, ``"container 3f2a..."``), for
    logs. Every method may be called from the worker's threads at any time, also after
    the run ended (then :meth:`interrupt` and :meth:`kill` do nothing harmful).
    """

    description: str = ""

    @abc.abstractmethod
    def poll(self) -> int | None:
        """The exit code once the run's process ended (``EXIT_*``; a negative number
        ``-N`` when signal N killed it), else None. Never blocks."""

    @abc.abstractmethod
    def wait(self, timeout: float | None = None) -> int | None:
        """Wait until the run's process ends (at most ``timeout`` seconds; None: no
        limit) and return its exit code, or None if it is still running."""

    @abc.abstractmethod
    def interrupt(self) -> None:
        """Ask the run to stop cleanly: it ends ``Cancelled`` (recorded) and its
        process exits with :data:`EXIT_INTERRUPTED`. Returns at once (a process:
        SIGINT to its process group)."""

    @abc.abstractmethod
    def kill(self) -> None:
        """Stop the run and everything it started, now (a process: SIGKILL to its
        process group). Nothing is recorded: the worker marks the run."""


class Launcher(abc.ABC):
    """Starts claimed flow runs. Registered through the ``register_launchers`` plugin
    hook under :attr:`name`; built by ``factory(**options)``
    (:func:`ferroflow.launchers.get_launcher`)."""

    name: str = ""

    @abc.abstractmethod
    def launch(self, spec: LaunchSpec) -> Launched:
        """Start the run ``spec`` describes: its process runs
        ``python -m ferroflow.launchers.execute`` with ``FERROFLOW_LAUNCH_SPEC`` set to
        ``spec.to_json()``, ``FERROFLOW_API_KEY`` to ``spec.api_key`` (when given),
        ``spec.env`` added to its environment. Returns once it is started (not ended).

        Raises:
            Exception: it could not be started at all (an ``OSError``, a refused
                container...); the worker then marks the run.
        """

    def close(self) -> None:  # noqa: B027 - optional, a no-op by default
        """Release what the launcher holds (clients, connections). Default: nothing."""

    def __enter__(self) -> Launcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
