"""The executor conformance suite (ferroflow.testing.conformance) on the built-in
executors, run the two ways a plugin author can: subclassing, and the factory
function."""

from __future__ import annotations

from ferroflow.executors.local import LocalExecutor
from ferroflow.executors.processes import ProcessesExecutor
from ferroflow.executors.threads import ThreadsExecutor
from ferroflow.testing.conformance import ExecutorConformance, executor_conformance


class TestLocalConformance(ExecutorConformance):
    executor_factory = LocalExecutor


class TestThreadsConformance(ExecutorConformance):
    executor_factory = staticmethod(lambda: ThreadsExecutor(max_workers=4))


TestProcessesConformance = executor_conformance(lambda: ProcessesExecutor(max_workers=2), name="Processes")
