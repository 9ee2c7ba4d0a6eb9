"""``scheduled``: the retry waits the core armed during ``flow.run()``.

The fixture wraps the core's ``Run`` so that after each report it records every new
retry timer as ``(task id, map index or None, attempt, wait in ms)``: tests assert on
the delays the core scheduled, never on wall-clock time.
"""

from __future__ import annotations

import pytest

from ferroflow import _core


class Scheduled(list):
    """Recorded timers, with helpers to pick one task run's."""

    def _rows(self, flow, task, index):
        task_id = list(flow.tasks).index(task)
        return [row for row in self if row[0] == task_id and row[1] == index]

    def waits(self, flow, task, index=None) -> list:
        """Waits (ms) armed for one task run (a task, or child ``index``), in order."""
        return [row[3] for row in self._rows(flow, task, index)]

    def attempts(self, flow, task, index=None) -> list:
        """The attempt each of those waits followed."""
        return [row[2] for row in self._rows(flow, task, index)]


class _RecordingRun:
    """The core's Run, recording each retry timer it arms."""

    def __init__(self, real, log: Scheduled):
        self._real = real
        self._log = log

    def __getattr__(self, name):
        return getattr(self._real, name)

    def report(self, reports, now_ms):
        real = self._real
        before = set(real.pending_retries())
        real.report(reports, now_ms)
        for due, task, index in real.pending_retries():
            if (due, task, index) in before:
                continue
            if index is None:
                attempt = real.task_run_count(task)
            else:
                attempt = real.child_run_counts(task, index, index + 1)[0]
            self._log.append((task, index, attempt, due - now_ms))


@pytest.fixture
def scheduled(monkeypatch):
    log = Scheduled()
    real_run = _core.Run
    monkeypatch.setattr(_core, "Run", lambda *args, **kwargs: _RecordingRun(real_run(*args, **kwargs), log))
    return log
