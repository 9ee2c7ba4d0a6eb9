"""Which tasks of a flow keep their results, have targets, or cache: one
:class:`~ferroflow.runtime.checkpoints.Checkpoint` per task (or None), decided once
per flow run."""

from __future__ import annotations

from typing import Any

from ferroflow.errors import FlowDefinitionError
from ferroflow.results import LocationTemplate
from ferroflow.runtime.caching import cache_of
from ferroflow.runtime.checkpoints import Checkpoint

__all__ = ["checkpoint_of", "keeps_nothing"]


def checkpoint_of(task: Any, flow: Any, slug: str, mapped: bool) -> Checkpoint | None:
    """The checkpoint of ``task`` in ``flow``: its ``result`` (else the flow's) unless
    ``checkpoint=False``, its ``target``, and its cache."""
    if keeps_nothing(task, flow):
        return None  # (most tasks)
    result, target = _result_of(task, flow), task.target
    if target is not None and result is None:
        raise FlowDefinitionError(
            f"Task {task.name!r} has target={target!r} but no result to keep it in: "
            f"give the task or Flow({flow.name!r}) a result=ferroflow.results.Result(...)"
        )
    cache = cache_of(task, flow.name, slug, result, mapped)
    if result is None and cache is None:
        return None
    return Checkpoint(result, None if target is None else LocationTemplate(target), cache)


def keeps_nothing(task: Any, flow: Any) -> bool:
    """Whether ``task`` has no checkpoint in ``flow``, whatever its slug: no result to
    keep (its own or the flow's), no target and no cache."""
    return (_result_of(task, flow) is None and task.target is None and task.cache_for is None
            and task.cache_key_fn is None)


def _result_of(task: Any, flow: Any) -> Any:
    """The result ``task`` keeps its values in: its own, else the flow's (constants and
    collections keep none), and none with ``checkpoint=False``."""
    if task.checkpoint is False:
        return None
    result = task.result
    if result is None and not task.auto_generated:
        result = getattr(flow, "result", None)
    return result
