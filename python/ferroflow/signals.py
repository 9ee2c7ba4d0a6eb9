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

Your own signal, as in Prefect 1: subclass ``PrefectStateSignal`` (the base of every
signal) and set ``_state_cls`` to the state class it ends a task run in -- one of
``Failed``, ``TriggerFailed``, ``Success``, ``Skipped``, ``Retrying``, ``Paused``, or
your own subclass of one. The core keeps one byte per state, so a state of your own
class is recorded as the ferroflow class it derives from: ``_state_cls =
SkippedResult`` (a ``Success`` subclass) gives a ``Success`` state, in state handlers
and in the flow's result; the signal's ``state`` is an instance of your class. See
``docs/migrating-from-prefect-1.md``.
"""

from __future__ import annotations

from typing import Any

from ferroflow import states

__all__ = ["FerroflowSignal", "PrefectStateSignal", "FAIL", "TRIGGERFAIL", "SUCCESS", "SKIP", "RETRY", "LOOP",
           "PAUSE"]

_NOTHING = object()

#: The states a signal may end a task run in (the engine's codes for them are
#: ``ferroflow.executors.base.SIGNAL_CODES``).
SIGNAL_STATES = ("Failed", "TriggerFailed", "Success", "Skipped", "Retrying", "Paused")


def _state_name_of(signal_cls: type[FerroflowSignal]) -> str:
    """The ferroflow state a signal class with its own ``_state_cls`` produces: the
    nearest class of :mod:`ferroflow.states` among ``_state_cls`` and its bases, which
    must be one of :data:`SIGNAL_STATES` (else TypeError)."""
    chosen = signal_cls._state_cls
    if not (isinstance(chosen, type) and issubclass(chosen, states.State)):
        raise TypeError(f"{signal_cls.__name__}._state_cls must be a state class (of ferroflow.states, "
                        f"or a subclass of one), got {chosen!r}")
    nearest = next(c for c in chosen.__mro__ if c.__module__ == states.__name__)
    if nearest.__name__ not in SIGNAL_STATES:
        raise TypeError(f"{signal_cls.__name__}._state_cls = {chosen.__name__}: a signal ends a task run in "
                        f"one of {', '.join(SIGNAL_STATES)} (or a subclass of one), not {nearest.__name__}")
    return nearest.__name__


class FerroflowSignal(BaseException):
    """Base class of every signal (also named ``PrefectStateSignal``, as in Prefect 1).

    ``state_name`` names the ferroflow state it produces; a subclass that sets only
    ``_state_cls`` gets the ``state_name`` of the nearest ferroflow state class among
    ``_state_cls`` and its bases."""

    state_name = "State"
    _state_cls: type = states.State

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "_state_cls" in cls.__dict__ and "state_name" not in cls.__dict__:
            cls.state_name = _state_name_of(cls)

    def __init__(self, message: str | None = None, result: Any = _NOTHING):
        super().__init__(message)
        self.message = message
        # A signal without an explicit result carries itself as the state's result,
        # as in Prefect 1, so the state still explains what happened.
        self.result = self if result is _NOTHING else result

    @property
    def state(self) -> states.State:
        """An instance of ``_state_cls`` with this signal's message and result (Prefect
        1's ``signal.state``). The task run's recorded state is of the ferroflow class
        named by ``state_name``."""
        return self._state_cls(self.message, self.result)


#: Prefect 1's name for the base of signals that choose a state.
PrefectStateSignal = FerroflowSignal


class FAIL(FerroflowSignal):
    """Fail the task run (retries apply)."""

    state_name = "Failed"
    _state_cls = states.Failed


class TRIGGERFAIL(FAIL):
    """The task's trigger did not pass; the task run is never retried."""

    state_name = "TriggerFailed"
    _state_cls = states.TriggerFailed


class SUCCESS(FerroflowSignal):
    """Finish the task run successfully with ``result``."""

    state_name = "Success"
    _state_cls = states.Success


class SKIP(FerroflowSignal):
    """Skip the task run; downstream tasks skip too unless they opt out with
    ``skip_on_upstream_skip=False``."""

    state_name = "Skipped"
    _state_cls = states.Skipped


class RETRY(FerroflowSignal):
    """Retry the task run now, even when ``max_retries`` is used up."""

    state_name = "Retrying"
    _state_cls = states.Retrying


class PAUSE(FerroflowSignal):
    """Pause the task run until someone approves it (see ``docs/pause-and-approve.md``).

    Tasks downstream of it wait; everything else runs on. When nothing else can run,
    the flow run ends ``Paused``; ``flow.run(resume=RUN_ID, approve=["task"])`` runs
    it again with ``ferroflow.context.resume`` True for the approved tasks, so a task
    that paused with :func:`ferroflow.pause_task` goes on."""

    state_name = "Paused"
    _state_cls = states.Paused


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
    _state_cls = states.Looped

    def __init__(self, message: str | None = None, result: Any = _NOTHING):
        if result is _NOTHING:
            result = repr(self)  # before the message is set, as in Prefect 1
        super().__init__(message, result)
