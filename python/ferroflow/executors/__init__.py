"""Executors run the engine's work units. See :mod:`ferroflow.executors.base` for the
contract and :mod:`ferroflow.executors.local` for the built-in in-process executor."""

from ferroflow.executors.base import Executor, UnitResult, WorkUnit

__all__ = ["Executor", "UnitResult", "WorkUnit"]
