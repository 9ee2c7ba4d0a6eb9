"""Prefect 3's state hooks in eager flows: ``@task(on_completion=[...], on_failure=[...])``
and ``@flow(on_completion=..., on_failure=..., on_cancellation=..., on_crashed=...)``.

A hook is called as ``hook(task, task_run, state)`` (for a flow: ``hook(flow,
flow_run, state)``) once the run ended in that kind of state, in the order given. A
hook that raises does not change the run's state: the error is logged (logger
``ferroflow.hooks``) and the next hook is called, as in Prefect 3.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from ferroflow.runtime.context import CURRENT_FRAME, Frame

__all__ = ["call_hooks"]

log = logging.getLogger("ferroflow.hooks")


def call_hooks(hooks: Iterable[Any], owner: Any, run: Any, state: Any, frame: Frame | None = None) -> None:
    """Call each hook with ``(owner, run, state)`` (in ``frame``, so that the context and
    logging inside a hook are the run's); log, never raise, what a hook raises."""
    token = CURRENT_FRAME.set(frame) if frame is not None else None
    try:
        for hook in hooks:
            try:
                hook(owner, run, state)
            except Exception:
                name = getattr(hook, "__name__", repr(hook))
                log.exception("the hook %s of %s raised; the run's state stays %s", name,
                              getattr(owner, "name", owner), state.name)
    finally:
        if token is not None:
            CURRENT_FRAME.reset(token)
