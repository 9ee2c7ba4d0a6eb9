"""Which tasks of a flow keep their results, have targets, or cache: one
:class:`~ferroflow.runtime.checkpoints.Checkpoint` per task (or None), decided once
per flow run (per task met, in an eager run)."""

from __future__ import annotations

from typing import Any

from ferroflow.core.prefect3_options import eager_options
from ferroflow.errors import FlowDefinitionError
from ferroflow.results import LocationTemplate
from ferroflow.runtime.caching import cache_of
from ferroflow.runtime.checkpoints import Checkpoint

__all__ = ["checkpoint_of", "eager_key_fn", "keeps_nothing"]


def checkpoint_of(task: Any, flow: Any, slug: str, mapped: bool, eager: bool = False) -> Checkpoint | None:
    """The checkpoint of ``task`` in ``flow``: its ``result`` (else the flow's) unless
    ``checkpoint=False``, its ``target``, and its cache: with Prefect 3's rules
    (:func:`eager_key_fn`) when ``eager`` (a task called in an ``@flow``)."""
    key_fn = None
    if eager:
        key_fn = eager_key_fn(task)
        if key_fn is None and _result_of(task, flow) is None and task.target is None:
            return None
    elif keeps_nothing(task, flow):
        return None  # (most tasks)
    result, target = _result_of(task, flow), task.target
    if target is not None and result is None:
        raise FlowDefinitionError(
            f"Task {task.name!r} has target={target!r} but no result to keep it in: "
            f"give the task or Flow({flow.name!r}) a result=ferroflow.results.Result(...)"
        )
    if eager:
        options = eager_options(task)
        cache = None if key_fn is None else cache_of(task, flow.name, slug, result, mapped, key_fn,
                                                      options is not None and options.refresh_cache)
    else:
        cache = cache_of(task, flow.name, slug, result, mapped)
    if result is None and cache is None:
        return None
    return Checkpoint(result, None if target is None else LocationTemplate(target), cache)


def eager_key_fn(task: Any) -> Any:
    """The cache key function of ``task`` called in an eager flow, or None when its
    calls are not cached (Prefect 3's rules): none with ``persist_result=False`` or a
    ``cache_expiration`` of zero; else its ``cache_key_fn`` (or cache policy's), else
    :data:`~ferroflow.cache_policies.DEFAULT`'s with ``persist_result=True``."""
    options = eager_options(task)
    if options is not None and (options.persist_result is False or options.never_reuse):
        return None
    if task.cache_key_fn is not None:
        return task.cache_key_fn
    if options is not None and options.persist_result:
        from ferroflow.cache_policies import DEFAULT, as_key_fn

        return as_key_fn(DEFAULT, f"Task {task.name!r}", task.run)
    return None


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
