"""Task logging: ``get_logger()`` and the records kept with a run's states.

A task logs with the logger of its name, ``ferroflow.task.<task name>``
(``context.logger``, ``Task.logger``, ``get_logger("<task name>")``: one object, shared
by the task's mapped children). Records logged through a :func:`get_logger` logger
while a task runs carry ``flow_name``, ``flow_run_id``, ``task_name``, ``task_slug``,
``task_full_name`` and ``map_index`` attributes (and ``task_run_name`` when the task has
one), so a handler's format string can use them. During ``flow.run()`` the records of
every logger under ``ferroflow`` logged by a task run are also kept with the run:
``state.logs`` of a task run's (or a mapped child's) State lists what it logged.

Secret values (:mod:`ferroflow.redaction`) are scrubbed from records: task loggers and
the handlers ferroflow adds carry :data:`ferroflow.redaction.FILTER`, so a record
logged through a task logger reaches every handler (yours too) with ``********`` in
place of a secret, and the records kept with a run are scrubbed whatever logger
emitted them.

The handlers ferroflow adds to keep records (:class:`KeepingHandler`) do not count as
logging being configured: a record that no other handler gets is shown as Python shows
it when nothing is configured (``logging.lastResort``: WARNING and above, on stderr).
"""

from __future__ import annotations

import io
import logging
from collections.abc import MutableMapping
from typing import Any

from ferroflow.redaction import FILTER
from ferroflow.runtime.context import current_frame

__all__ = ["get_logger", "get_run_logger", "handlers_reached", "KeepingHandler", "LogEntry", "RunLogHandler",
           "StdoutToLogger", "TaskLogger"]

TASK_LOGGER = "ferroflow.task"
#: The logger of eager flows' own code (``ferroflow.flow.<flow name>``).
FLOW_LOGGER = "ferroflow.flow"

# Task and flow loggers speak at INFO unless the application chose a level.
for _name in (TASK_LOGGER, FLOW_LOGGER):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.INFO)


class TaskLogger(logging.LoggerAdapter):
    """A task logger: the :class:`logging.Logger` ``ferroflow.task`` or
    ``ferroflow.task.<name>``, whose records get the running task run's identity.

    Logging through it adds ``flow_name``, ``flow_run_id``, ``task_name``,
    ``task_slug``, ``task_full_name`` and ``map_index`` (and ``task_run_name`` when the
    task has one) to each record logged during a task run. Everything else is the
    logger's: ``addHandler``, ``removeHandler``, ``handlers``, ``setLevel``, ``level``,
    ``propagate``, ``filters``... read and set the underlying logger, so code written
    for Prefect 1's ``get_logger(name)`` (a plain ``Logger``) configures it as it did.
    """

    #: Logger attributes that are set on the logger, not on the adapter.
    _FORWARDED = frozenset({"level", "propagate", "disabled", "handlers", "filters", "parent"})

    def __init__(self, name: str | None = None):
        logger = logging.getLogger(TASK_LOGGER if name is None else f"{TASK_LOGGER}.{name}")
        logger.addFilter(FILTER)  # (once: a logger keeps one copy of a filter)
        super().__init__(logger, {})
        object.__setattr__(self, "_task", name)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        frame = current_frame()
        if frame is not None and frame.task_name is not None:
            index = frame.map_index
            run = frame.run
            extra = {
                "flow_name": None if run is None else run.flow_name,
                "flow_run_id": None if run is None else run.flow_run_id,
                "task_name": frame.task_name,
                "task_slug": frame.task_slug,
                "task_full_name": frame.task_name if index is None else f"{frame.task_name}[{index}]",
                "map_index": index,
            }
            if frame.run_name is not None:
                from ferroflow.runtime.context import frame_values

                extra["task_run_name"] = frame_values(frame)["task_run_name"]
            kwargs["extra"] = {**extra, **kwargs.get("extra", {})}
        return msg, kwargs

    def __getattr__(self, name: str) -> Any:
        # Only for what the adapter lacks: addHandler, handlers, filters, getChild...
        if name.startswith("__") or name in ("logger", "extra", "_task"):
            raise AttributeError(name)
        return getattr(self.logger, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._FORWARDED:
            setattr(self.logger, name, value)
        else:
            object.__setattr__(self, name, value)

    def __reduce__(self) -> tuple:
        return get_logger, (self._task,)

    def __repr__(self) -> str:
        return f"<TaskLogger {self.logger.name} ({logging.getLevelName(self.getEffectiveLevel())})>"


_LOGGERS: dict = {}


def get_logger(name: str | None = None) -> TaskLogger:
    """The task logger ``ferroflow.task`` (``name`` None) or ``ferroflow.task.<name>``,
    as Prefect 1's ``get_logger`` gives ``prefect`` and ``prefect.<name>``.

    A task's logger is the one of its name: ``context.logger`` and ``Task.logger``
    inside task ``"load"`` are ``get_logger("load")``, the same object, so a handler
    added to ``get_logger("load")`` sees what task ``"load"`` logs (every mapped child
    included: they share their task's logger). Its records carry the task run's
    identity (see :class:`TaskLogger`); the level is INFO unless you set one (on
    ``ferroflow.task`` or below).
    """
    logger = _LOGGERS.get(name)
    if logger is None:
        logger = _LOGGERS.setdefault(name, TaskLogger(name))
    return logger


def get_run_logger() -> Any:
    """The logger of the run this code is part of (Prefect 3's ``get_run_logger``): in a
    task, its task logger (:func:`get_logger` of its name); in an eager flow's own code,
    ``ferroflow.flow.<flow name>``. Its records are kept with the run (``ferroflow
    logs``). Outside any run it raises :class:`~ferroflow.errors.MissingContextError`."""
    frame = current_frame()
    if frame is None or frame.run is None or not frame.run.flow_run_id:
        from ferroflow.errors import MissingContextError

        raise MissingContextError("There is no active flow or task run context.")
    if frame.task_name is not None:
        return get_logger(frame.task_name)
    return logging.getLogger(f"{FLOW_LOGGER}.{frame.run.flow_name}")


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
    logger: logging.Logger | None = logging.getLogger(name) if name != "root" else logging.getLogger()
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

    Records are scrubbed of secret values before they are kept or shown
    (:data:`ferroflow.redaction.FILTER`).
    """

    def __init__(self, level: int = logging.NOTSET) -> None:
        super().__init__(level)
        self.addFilter(FILTER)

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

    def __init__(self, run: Any, level: int = logging.INFO, flow_level: bool = False):
        super().__init__(level)
        self.entries: dict = {}
        #: Records not yet handed to the run store, as its log rows.
        self.pending: list = []
        self._run = run
        #: Keep the records of the flow's own code too (an eager flow's), as the run's.
        self.flow_level = flow_level

    def emit(self, record: logging.LogRecord) -> None:
        self.show_unhandled(record)
        frame = current_frame()
        if frame is None or frame.run is not self._run:
            return  # another run's (or no) task: not ours to keep
        if frame.task_name is None:
            if not self.flow_level:
                return  # flow-level records are not kept with a task run
            key: tuple = (None, -1)
        else:
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

    def __init__(self, logger: Any):
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
