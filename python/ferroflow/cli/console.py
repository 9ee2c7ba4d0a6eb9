"""Warnings on the console during ``ferroflow run``.

While ``ferroflow run`` runs a flow, :class:`ConsoleLog` (on the ``ferroflow`` logger)
shows every WARNING, ERROR and CRITICAL record of ferroflow's loggers on stderr, one
line each, in the CLI's own style::

    ferroflow: warning: resuming run 3f2a...: task 'parse', map index 7, runs again: ...
    ferroflow: warning: task parse[3]: the row has no id

A record that reaches a handler the user configured (``logging.basicConfig()`` in the
flow's file, a handler on ``ferroflow``) is left to that handler, so nothing is shown
twice. Before writing, the live progress table is erased; the next update redraws it.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

from ferroflow.redaction import FILTER
from ferroflow.runtime.context import current_frame
from ferroflow.runtime.logs import KeepingHandler, handlers_reached

__all__ = ["ConsoleLog"]


class ConsoleLog(logging.Handler):
    """Shows ferroflow's warnings and errors on ``stream`` (default: ``sys.stderr`` at
    the time of the record) unless a handler of the user's gets them.

    Args:
        display: the run's progress display (its ``close()`` erases the live table),
            or None.
        stream: where lines go; None for the current ``sys.stderr``.
    """

    def __init__(self, display: Any = None, stream: TextIO | None = None):
        super().__init__(logging.WARNING)
        self.display = display
        self.stream = stream
        self.setFormatter(logging.Formatter("%(message)s"))
        self.addFilter(FILTER)  # secret values show as ********

    def emit(self, record: logging.LogRecord) -> None:
        if any(h is not self and not isinstance(h, KeepingHandler) for h in handlers_reached(record.name)):
            return  # the user's logging shows it
        try:
            text = self.format(record)
            task = _task_of(record)
            line = f"ferroflow: {record.levelname.lower()}: " + (f"task {task}: " if task else "") + text
            if self.display is not None:
                self.display.close()
            stream = self.stream if self.stream is not None else sys.stderr
            stream.write(line + "\n")
            stream.flush()
        except Exception:  # logging's own policy for a handler that fails
            self.handleError(record)


def _task_of(record: logging.LogRecord) -> str | None:
    """``name`` or ``name[i]`` of the task run that emitted ``record``, if any."""
    name = getattr(record, "task_full_name", None)
    if name is not None:
        return str(name)
    frame = current_frame()
    if frame is None or frame.task_name is None:
        return None
    index = frame.map_index
    return frame.task_name if index is None else f"{frame.task_name}[{index}]"
