"""``ferroflow run FILE.py[:NAME]`` for an eager flow (an ``@flow`` function).

The run goes through :meth:`ferroflow.eager.flow.EagerFlow.run_with`: ``--param``
values are checked and coerced by the flow's type hints, ``--resume RUN_ID`` resumes
an earlier run. Progress and the summary use the display of deferred runs
(:mod:`ferroflow.cli.progress`), fed with snapshots ``(task name, {state: count})``
of the run's ledger: a thread of the display's own takes one every ``interval`` (the
ledger's tallies, a few microseconds a task), never one per call. Exit codes are those
of deferred runs: 0 Completed, 1 otherwise, 130 after Ctrl-C.
"""

from __future__ import annotations

import threading
from typing import Any

from ferroflow import _core

__all__ = ["EagerProgress", "snapshot_of", "summary_state"]


def snapshot_of(run: Any) -> list:
    """``[(task name, {state name: calls})]`` of an eager run, in the order its tasks
    were met."""
    ledger = run.ledger
    names = _core.STATE_NAMES
    out = []
    for slot in sorted(list(run.slots.values()), key=lambda s: s.task_id):
        tallies = ledger.tallies(slot.task_id)
        out.append((slot.name, {names[code]: n for code, n in enumerate(tallies) if n}))
    return out


def summary_state(state: Any, snapshot: list) -> Any:
    """The final state of an eager run in the shape the summary renders (a ferroflow
    state named as the run store names it, one ``Mapped`` row per task: its calls)."""
    from ferroflow import states

    cls = getattr(states, state.store_name, None)
    if not (isinstance(cls, type) and issubclass(cls, states.State)):
        cls = states.Failed
    failed = state.is_failed() or state.is_crashed() or state.is_cancelled()
    data = state.data if failed and isinstance(state.data, BaseException) else None
    shown = cls(state.message, data)
    shown.task_states = {name: states.Mapped() for name, _ in snapshot}  # type: ignore[attr-defined]
    return shown


class EagerProgress:
    """Feeds a :class:`~ferroflow.cli.progress.ProgressDisplay` from an eager run (see
    the module docstring); ``lock`` is held while the display draws, and by the console
    log handler's ``close()`` (see :meth:`close`)."""

    def __init__(self, display: Any):
        self.display = display
        self.lock = threading.Lock()
        self.run: Any = None
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.final: Any = None

    def watch(self, run: Any) -> None:
        """The run starts (the top-level one: a subflow's runs are not shown apart)."""
        if self.run is not None:
            return
        self.run = run
        with self.lock:
            self.display.start(run.info.flow_name, [])
        if self.display.mode != "off":
            self.thread = threading.Thread(target=self._poll, name="ferroflow-progress", daemon=True)
            self.thread.start()

    def _poll(self) -> None:
        interval = max(0.05, float(self.display.interval))
        while not self.stop.wait(interval):
            try:
                snapshot = snapshot_of(self.run)
                with self.lock:
                    self.display.update(snapshot)
            except Exception:  # a display never fails a run
                return

    def done(self, run: Any, state: Any) -> None:
        if run is not self.run:
            return
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        snapshot = snapshot_of(run)
        with self.lock:
            self.display.update(snapshot)
            shown = summary_state(state, snapshot)
            shown.run_name = run.info.run_name
            self.display.finish(shown)

    def close(self) -> None:
        """Erase the live table (before a console line is written)."""
        with self.lock:
            self.display.close()
