"""The built-in ``local`` executor: runs work units in the calling thread, one after
the other. It registers through the same ``register_executors`` hook a third-party
plugin uses."""

from __future__ import annotations

from collections import deque

from ferroflow.executors.base import Executor, WorkUnit
from ferroflow.plugins import hookimpl


class LocalExecutor(Executor):
    """Run task runs in-process, sequentially. The default executor."""

    name = "local"
    batches = True  # it only calls unit.run()

    @property
    def runs_inline(self) -> bool:  # type: ignore[override]
        """True unless a subclass changes ``submit`` or ``wait`` (to watch or alter each
        unit): such an executor gets every unit."""
        cls = type(self)
        return cls.submit is LocalExecutor.submit and cls.wait is LocalExecutor.wait

    def __init__(self) -> None:
        self._queue: deque[WorkUnit] = deque()

    def submit(self, unit: WorkUnit) -> None:
        self._queue.append(unit)

    def wait(self) -> list:
        # One unit per call, so the engine reports (and shows progress) between units.
        unit = self._queue.popleft()
        return [(unit, unit.run())]

    def shutdown(self) -> None:
        self._queue.clear()


@hookimpl
def register_executors(register) -> None:
    register("local", LocalExecutor)
