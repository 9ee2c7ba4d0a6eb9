"""Signals: raise one inside a task (or a trigger) to put the task in a given state.

Signals derive from ``BaseException`` so that a user's ``except Exception`` cannot
swallow them by accident.

=================  ====================================================
signal             resulting state
=================  ====================================================
``FAIL``           ``Failed`` (retried like any failure)
``TRIGGERFAIL``    ``TriggerFailed`` (never retried)
``SUCCESS``        ``Success`` with ``result``
``SKIP``           ``Skipped`` (propagates downstream)
``RETRY``          ``Retrying`` now, even when ``max_retries`` is used up
``LOOP``           run the task again at once (``context.loop_count``,
                   ``context.loop_result``); its last return is the result
``PAUSE``          ``Paused``: the task (and what depends on it) waits for
                   approval; the flow run ends ``Paused`` and is resumed
                   with ``flow.run(resume=RUN_ID, approve=[...])``
=================  ====================================================
"""

from __future__ import annotations

from typing import Any

__all__ = ["FerroflowSignal", "FAIL", "TRIGGERFAIL", "SUCCESS", "SKIP", "RETRY", "LOOP", "PAUSE"]

_NOTHING = object()


class FerroflowSignal(BaseException):
    """Base class of every signal; ``state_name`` names the state it produces."""

    state_name = "State"

    def __init__(self, message: str | None = None, result: Any = _NOTHING):
        super().__init__(message)
        self.message = message
        # A signal without an explicit result carries itself as the state's result,
        # as in Prefect 1, so the state still explains what happened.
        self.result = self if result is _NOTHING else result


class FAIL(FerroflowSignal):
    """Fail the task run (retries apply)."""

    state_name = "Failed"


class TRIGGERFAIL(FAIL):
    """The task's trigger did not pass; the task run is never retried."""

    state_name = "TriggerFailed"


class SUCCESS(FerroflowSignal):
    """Finish the task run successfully with ``result``."""

    state_name = "Success"


class SKIP(FerroflowSignal):
    """Skip the task run; downstream tasks skip too unless they opt out with
    ``skip_on_upstream_skip=False``."""

    state_name = "Skipped"


class RETRY(FerroflowSignal):
    """Retry the task run now, even when ``max_retries`` is used up."""

    state_name = "Retrying"


class PAUSE(FerroflowSignal):
    """Pause the task run until someone approves it (see ``docs/pause-and-approve.md``).

    Tasks downstream of it wait; everything else runs on. When nothing else can run,
    the flow run ends ``Paused``; ``flow.run(resume=RUN_ID, approve=["task"])`` runs
    it again with ``ferroflow.context.resume`` True for the approved tasks, so a task
    that paused with :func:`ferroflow.pause_task` goes on."""

    state_name = "Paused"


class LOOP(FerroflowSignal):
    """Run the task again at once, as the next iteration of a loop.

    The next call sees ``ferroflow.context.loop_count`` (1 in the first call, one more
    per iteration) and ``ferroflow.context.loop_result`` (this signal's ``result``).
    The value the task finally returns (or the state it finally raises) ends the task
    run; iterations are not attempts: ``task_run_count`` does not change, and a
    ``timeout`` applies to each iteration. As in Prefect 1, a LOOP without ``result``
    carries ``repr()`` of itself::

        @task
        def countdown(n):
            left = context.get("loop_result", n)
            if left > 0:
                raise signals.LOOP(f"{left} to go", result=left - 1)
            return context.loop_count
    """

    state_name = "Looped"

    def __init__(self, message: str | None = None, result: Any = _NOTHING):
        if result is _NOTHING:
            result = repr(self)  # before the message is set, as in Prefect 1
        super().__init__(message, result)
