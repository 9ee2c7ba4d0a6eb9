"""Task logging: ``get_logger()`` and the records kept with a run's states.

Records logged through :func:`get_logger` (or any logger under ``ferroflow``) while a
task runs carry ``flow_name``, ``flow_run_id``, ``task_name``, ``task_full_name`` and
``map_index`` attributes (and ``task_run_name`` when the task has one), so a handler's
format string can use them. During
``flow.run()`` they are also kept with the run: ``state.logs`` of a task run's (or a
mapped child's) State lists what it logged.

The handlers ferroflow adds to keep records (:class:`KeepingHandler`) do not count as
logging being configured: a record that no other handler gets is shown as Python shows
it when nothing is configured (``logging.lastResort``: WARNING and above, on stderr).
"""

from __future__ import annotations

import io
import logging
from typing import Any, Optional

from ferroflow.engine.context import current_frame

__all__ = ["get_logger", "handlers_reached", "KeepingHandler", "LogEntry", "RunLogHandler", "StdoutToLogger"]

TASK_LOGGER = "ferroflow.task"

# Task loggers speak at INFO unless the application chose a level.
if logging.getLogger(TASK_LOGGER).level == logging.NOTSET:
    logging.getLogger(TASK_LOGGER).setLevel(logging.INFO)


class _ContextAdapter(logging.LoggerAdapter):
    """Adds the running task's identity to every record."""

    def process(self, msg: Any, kwargs: dict) -> tuple:
        frame = current_frame()
        if frame is not None and frame.task_name is not None:
            index = frame.map_index
            extra = {
                "flow_name": frame.run.flow_name,
                "flow_run_id": frame.run.flow_run_id,
                "task_name": frame.task_name,
                "task_full_name": frame.task_name if index is None else f"{frame.task_name}[{index}]",
                "map_index": index,
            }
            if frame.run_name is not None:
                from ferroflow.engine.context import _frame_values

                extra["task_run_name"] = _frame_values(frame)["task_run_name"]
            kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        return msg, kwargs


def get_logger(name: Optional[str] = None) -> logging.LoggerAdapter:
    """A logger for task code (``ferroflow.task`` or ``ferroflow.task.<name>``) whose
    records carry the flow, task and map index of the task run that logs."""
    return _ContextAdapter(logging.getLogger(TASK_LOGGER if name is None else f"{TASK_LOGGER}.{name}"), {})


class LogEntry(tuple):
    """One kept record: ``(created, level, logger, message)``."""

    __slots__ = ()

    created = property(lambda self: self[0])
    level = property(lambda self: self[1])
    logger = property(lambda self: self[2])
    message = property(lambda self: self[3])

    def __repr__(self) -> str:
        return f"<{self.level} {self.logger}: {self.message}>"


def handlers_reached(name: str) -> list:
    """The handlers a record of logger ``name`` reaches, in the order
    ``Logger.callHandlers`` calls them (whatever their levels)."""
    logger: Optional[logging.Logger] = logging.getLogger(name) if name != "root" else logging.getLogger()
    found: list = []
    while logger is not None:
        found.extend(logger.handlers)
        if not logger.propagate:
            break
        logger = logger.parent
    return found


class KeepingHandler(logging.Handler):
    """A handler ferroflow adds to keep records (with a run, or to send them from a
    worker), not to show them.

    Python shows a record on stderr (``logging.lastResort``, WARNING and above) only
    when no handler at all gets it, so a keeping handler alone would hide warnings
    that nobody configured logging for. :meth:`show_unhandled` puts that back.
    """

    def show_unhandled(self, record: logging.LogRecord) -> None:
        """Show ``record`` as ``logging.lastResort`` would when it reaches no handler
        other than keeping ones; the first keeping handler it reaches does it, so
        several (one per concurrent run) show it once."""
        last = logging.lastResort
        if last is None or record.levelno < last.level:
            return
        reached = handlers_reached(record.name)
        if reached and reached[0] is self and all(isinstance(h, KeepingHandler) for h in reached):
            last.handle(record)


class RunLogHandler(KeepingHandler):
    """Keeps records emitted during one flow run's task runs, keyed by task run, and
    shows on stderr what no other handler gets (see :class:`KeepingHandler`)."""

    def __init__(self, run: Any, level: int = logging.INFO):
        super().__init__(level)
        self.entries: dict = {}
        #: Records not yet handed to the run store, as its log rows.
        self.pending: list = []
        self._run = run

    def emit(self, record: logging.LogRecord) -> None:
        self.show_unhandled(record)
        frame = current_frame()
        if frame is None or frame.run is not self._run:
            return  # another run's (or no) task: not ours to keep
        if frame.task_name is None:
            return  # flow-level records are not kept with a task run
        index = frame.map_index
        key = (frame.task_id, -1 if index is None else index)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not break the task
            message = str(record.msg)
        self.entries.setdefault(key, []).append(LogEntry((record.created, record.levelname, record.name, message)))
        self.pending.append((key[0], key[1], record.created, record.levelno, record.name, message))


class StdoutToLogger(io.TextIOBase):
    """A stream that turns printed lines into INFO records (``log_stdout=True``)."""

    def __init__(self, logger: logging.LoggerAdapter):
        self._logger = logger
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line:
                self._logger.info(line)
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self._logger.info(self._pending)
            self._pending = ""
