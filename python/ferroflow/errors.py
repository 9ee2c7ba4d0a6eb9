"""Typed errors raised by ferroflow.

Every error names its culprit (the task, the parameter, the cycle's path, the plugin)
so that a message read at 3 a.m. says what to fix.
"""

from __future__ import annotations

import os
import traceback


class FerroflowError(Exception):
    """Base class of every error ferroflow raises on purpose."""


class FlowDefinitionError(FerroflowError, ValueError):
    """A flow or task was built in a way ferroflow cannot run."""


class CycleError(FlowDefinitionError):
    """The flow's graph has a cycle.

    ``cycle`` lists the task names along the cycle, first name repeated at the end:
    ``["extract", "transform", "extract"]``.
    """

    def __init__(self, cycle: list[str]):
        self.cycle = list(cycle)
        super().__init__("Cycle found; flows must be acyclic: " + " -> ".join(self.cycle))


class ParameterError(FerroflowError, ValueError):
    """A flow run was given an unknown parameter or lacks a required one."""


class ParameterBindError(ParameterError, TypeError):
    """An eager flow (``@flow``) was called with arguments its function cannot take
    (Prefect 3's name): unknown, missing or repeated ones. Nothing ran."""


class ParameterTypeError(ParameterError, TypeError):
    """An eager flow's argument does not match its type hint (Prefect 3's name); the
    message names each parameter at fault and why. Nothing ran."""


class TaskRunTimeoutError(FerroflowError, TimeoutError):
    """A task call of an eager flow took longer than its ``timeout_seconds`` (Prefect
    3's name); raised in the flow's function where the task was called."""


class FlowRunTimeoutError(FerroflowError, TimeoutError):
    """An eager flow run took longer than its ``timeout_seconds``."""


class FailedRun(FerroflowError):
    """``state.result()`` of a failed run that carries no exception of its own (a task
    that returned ``Failed(message=...)``, say): its message is the state's."""


class CrashedRun(FerroflowError):
    """``state.result()`` of a run that crashed (ended by its process, not its code)."""


class CancelledRun(FerroflowError):
    """``state.result()`` of a cancelled run."""


class MissingResult(FerroflowError):
    """``state.result()`` of a completed state made without data (``Completed()``)."""


class UnfinishedRun(FerroflowError):
    """``state.result()`` of a run that has not finished."""


class MissingContextError(FerroflowError, RuntimeError):
    """Something that needs a running flow or task (``get_run_logger()``) was called
    outside any."""


class UpstreamTaskError(FerroflowError):
    """A task call of an eager flow did not run: a task it waits for (``wait_for=``, or
    a future among its arguments) failed, and it was not wrapped in ``allow_failure``."""


class ScheduleError(FerroflowError, ValueError):
    """A schedule, clock, filter or adjustment was given input it cannot use.

    Raised when the object is built, never later while runs are being scheduled. The
    message names the argument at fault and its value: the cron field and value, the
    date that is not a datetime, the interval. It subclasses ``ValueError``, so code written for
    Prefect 1 that catches ``ValueError`` still catches it.
    """


class PluginError(FerroflowError):
    """A plugin could not be loaded or does not honour its hook's contract."""


class PluginContractError(PluginError):
    """A plugin's executor, result store, serializer or notifier broke its hook's
    contract where ferroflow crossed into it (``wait()`` returned the wrong shape, a
    factory built the wrong kind of object, ``dumps()`` returned no bytes...).

    The message names the thing (its kind and registered name), the plugin's
    distribution and version, and the rule it broke; the same are attributes:
    ``kind`` (``"executor"``), ``name`` (``"ferroflow-dask:dask"``, or the class
    when it was not registered), ``distribution`` and ``version`` (None when unknown)
    and ``rule``. See ``docs/plugin-contracts.md``.
    """

    def __init__(self, kind: str, name: str, distribution: str | None, version: str | None, rule: str):
        self.kind = kind
        self.name = name
        self.distribution = distribution
        self.version = version
        self.rule = rule
        source = distribution if distribution else "unknown distribution"
        if distribution and version:
            source = f"{distribution} {version}"
        super().__init__(f"{kind} {name!r} (from {source}) broke the {kind} contract: {rule}")


class ExecutorError(FerroflowError):
    """An executor failed (as opposed to the user's code inside a task)."""


class EngineError(FerroflowError):
    """ferroflow's own engine hit an unexpected condition.

    The run that hit it ends Failed with this error as the flow state's result.
    """


def formatted_traceback(exc: BaseException) -> str:
    """``exc`` with its traceback as Python prints it, from the first frame of the
    user's code: the frames of ferroflow's runtime that called it (the same in every
    failure, and each costing a parse of its line for the carets) are left out,
    unless nothing would be left."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename.startswith(_RUNTIME_DIR):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


#: Where the runtime layer's modules are (see :func:`formatted_traceback`).
_RUNTIME_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runtime") + os.sep


def one_line(exc: BaseException) -> str:
    """``"ExceptionType: first line of the message"`` of ``exc``, or just
    ``"ExceptionType"`` when its message is empty or its ``str()`` raises (an error
    message must not fail on a broken exception). The one text of an exception that
    ferroflow's own messages and warnings embed."""
    try:
        text = str(exc).strip()
    except Exception:  # an exception whose __str__ raises
        text = ""
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class TaskTimeout(BaseException):
    """Raised inside a task run that exceeded its ``timeout``; the ``result`` of the
    run's ``TimedOut`` state (Prefect 1's ``TaskTimeoutSignal``). A ``BaseException``,
    as there, so a task's ``except Exception`` cannot swallow it."""


class SecretError(FerroflowError):
    """A secret cannot be set or read (its name is not valid, its value too short, the
    server refused...). The message names the secret, never its value or ciphertext."""


class UnknownSecretError(SecretError):
    """No secret of that name exists."""


class SecretKeyError(SecretError):
    """``FERROFLOW_SECRET_KEY`` is missing, or is not the key the secrets were
    encrypted with."""
