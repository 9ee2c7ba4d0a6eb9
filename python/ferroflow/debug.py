"""Debugging helpers: :func:`raise_on_exception`, Prefect 1's
``prefect.utilities.debug.raise_on_exception``.

Inside ``with raise_on_exception():`` a flow run stops at the first exception raised
by a task's code (its function, including a timeout), one of its state handlers, its
custom trigger or one of the flow's state handlers, and ``flow.run()`` raises that
exception instead of returning a state: a debugger (``pdb.pm()``) then opens where it
was raised. Signals (``SKIP``, ``FAIL``, ``RETRY``...) and trigger failures are states,
not errors: they do not stop the run, as in Prefect 1. A task with retries is not
retried: its first error stops the run.

The run still ends cleanly: the executor is shut down and the run is recorded
``Failed`` ("The run stopped at the first error (raise_on_exception): ..."), the task
run that raised ``Failed`` with its error and traceback, the task runs its failure
decides at once as it would without the debugging (a downstream task whose trigger
fails: ``TriggerFailed``), and every other task run not finished at that moment
``Cancelled``, the task runs of its work unit after it included (they did not run).

It is ``with ferroflow.context(raise_on_exception=True):`` (so that spelling works too,
as ``prefect.context(raise_on_exception=True)`` does), read when ``flow.run()`` starts.
It works on every executor: on ``local`` and ``threads`` the exception is the very
object the task raised, with its traceback; from a worker process (``processes``,
Dask, Ray) it is a copy unpickled in the flow's process, whose traceback starts in the
engine (the task run's state keeps the formatted traceback from the worker).
"""

from __future__ import annotations

import contextlib
import traceback
from collections.abc import Iterator

from ferroflow._core import FAILED, TIMED_OUT
from ferroflow.runtime.context import context, current_frame

__all__ = ["raise_on_exception", "TaskRaised"]

#: The context key that turns it on.
KEY = "raise_on_exception"


@contextlib.contextmanager
def raise_on_exception() -> Iterator[None]:
    """Make the flow runs started in this block raise the first exception of a task
    (see the module docstring)::

        with raise_on_exception():
            flow.run()  # raises the task's ZeroDivisionError
    """
    with context(**{KEY: True}):
        yield


def asked() -> bool:
    """Whether a flow run starting here is to raise its first exception."""
    return bool(context.get(KEY))


def raising() -> bool:
    """Whether the task run (or flow run) being handled in this thread raises its
    exceptions: the current frame's run was started with :func:`raise_on_exception`."""
    frame = current_frame()
    return frame is not None and frame.run is not None and frame.run.raise_on_exception


class TaskRaised(BaseException):
    """The first exception of a run under :func:`raise_on_exception`, on its way out:
    from where it was caught to the end of the work unit, or from the engine's own
    calls of user code (triggers, handlers) to ``flow.run()``. Internal: ``flow.run()``
    raises ``error`` itself.

    A ``BaseException``, so that no ``except Exception`` on the way takes it for an
    error of its own.

    Attributes:
        error: The exception raised by the user's code.
        detail: ``(message, formatted traceback)`` of the task run's ``Failed`` state.
        code: The state code it ends with (``FAILED``, ``TIMED_OUT``...).
        task_id, index: The task run (None: a flow's state handler; index None: not a
            mapped child).
        reported: Whether the core was told already (a work unit's result was).
    """

    def __init__(self, error: BaseException, detail: tuple, code: int = FAILED,
                 task_id: int | None = None, index: int | None = None, reported: bool = False):
        super().__init__(error)
        self.error = error
        self.detail = detail
        self.code = code
        self.task_id = task_id
        self.index = index
        self.reported = reported

    @classmethod
    def here(cls, error: BaseException, message: str, code: int = FAILED) -> TaskRaised:
        """The TaskRaised of ``error``, caught in the task run (or flow run) of the
        current frame, with ``message`` for its state."""
        frame = current_frame()
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        task_id = index = None
        if frame is not None and frame.task_name is not None:
            task_id, index = frame.task_id, frame.map_index
        return cls(error, (message, text), code, task_id, index)

    @classmethod
    def of_task(cls, error: BaseException) -> TaskRaised:
        """The TaskRaised of an exception the task's own code raised (its function, or
        its timeout), with Prefect's message for it."""
        from ferroflow.runtime.timeouts import TaskTimeout

        if isinstance(error, TaskTimeout):
            return cls.here(error, "Task timed out during execution.", TIMED_OUT)
        return cls.here(error, f"Error during execution of task: {error!r}")
