"""Prefect 3's names for task options, accepted by ``@task`` beside ferroflow's.

``@task(retries=2, retry_delay_seconds=5, timeout_seconds=60, log_prints=True)`` is
``@task(max_retries=2, retry_delay=5, timeout=60, log_stdout=True)``; a task may not be
given both names of one option. The options Prefect 3 has and Prefect 1 had not
(``cache_policy``, ``persist_result``, the ``on_completion`` hooks, ``on_failure`` as a
list of hooks) are kept on the task as :class:`EagerOptions` and used by eager flows
(``@flow``); a deferred flow ignores them, except ``cache_policy``, which becomes the
task's ``cache_key_fn`` (see :mod:`ferroflow.cache_policies`).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

__all__ = ["EagerOptions", "RENAMED", "add_hook", "check_hooks", "eager_options", "split"]

#: Prefect 3's name -> ferroflow's.
RENAMED = {
    "retries": "max_retries",
    "retry_delay_seconds": "retry_delay",
    "timeout_seconds": "timeout",
    "log_prints": "log_stdout",
    "cache_expiration": "cache_for",
}

#: Accepted for Prefect 3's signature; they change nothing here.
_IGNORED = frozenset({"description", "version", "cache_result_in_memory", "viz_return_value"})


@dataclasses.dataclass(frozen=True)
class EagerOptions:
    """The Prefect 3 options of a task that ferroflow's deferred tasks do not have."""

    #: Hooks called as ``hook(task, task_run, state)`` when a call of the task completes
    #: or fails (in eager flows).
    on_completion: tuple = ()
    on_failure: tuple = ()
    #: Called as ``hook(task, task_run, state)`` as each attempt of a call starts
    #: (``Running``, then ``Retrying`` for a retry).
    on_running: tuple = ()
    #: Called as ``hook(task, task_run, state)`` when a call ends ``Cancelled`` (its flow
    #: run was interrupted, or its asyncio task cancelled, before it ended).
    on_cancellation: tuple = ()
    #: ``persist_result``: None (decide from the cache policy), True or False.
    persist_result: bool | None = None
    #: The cache policy given (kept to show; it is the task's ``cache_key_fn`` too).
    cache_policy: Any = None
    refresh_cache: bool = False
    #: ``log_prints`` as given (None: not given; the flow's then applies to the task's
    #: calls; False: its prints stay prints even in a flow with ``log_prints=True``).
    log_prints: bool | None = None
    #: ``retry_condition_fn(task, task_run, state) -> bool`` (Prefect 3's; ``state`` an
    #: eager Failed state whose ``result()`` raises the attempt's exception).
    retry_condition_fn: Any = None
    #: ``cache_expiration`` of zero (or less): a cached value is never reused, so the
    #: task does not cache at all (in a deferred flow as in an eager one).
    never_reuse: bool = False


def check_hooks(value: Any, name: str, owner: str) -> tuple:
    """The hooks given as ``name=`` (a callable or a list of them), as a tuple."""
    if value is None:
        return ()
    hooks = tuple(value) if isinstance(value, (list, tuple)) else (value,)
    for hook in hooks:
        if not callable(hook):
            raise TypeError(f"{owner}: {name} must be a list of callables hook(obj, run, state), got {hook!r}")
    return hooks


def add_hook(task: Any, name: str, fn: Any) -> Any:
    """Prefect 3's decorator form, ``@my_task.on_failure``: ``fn`` added to ``task``'s
    ``name`` hooks (``on_completion``, ``on_failure``, ``on_running``,
    ``on_cancellation``); returns ``fn``.
    (A copy made before, by ``with_options`` or a deferred call, keeps its own.)"""
    check_hooks(fn, name, f"Task {task.name!r}")
    base = eager_options(task) or EagerOptions()
    hooks: dict[str, Any] = {name: (*getattr(base, name), fn)}
    task.__dict__["_ff_eager_options"] = dataclasses.replace(base, **hooks)
    return fn


def split(options: dict, owner: str, fn: Any = None,
          base: EagerOptions | None = None) -> tuple[dict, EagerOptions | None]:
    """``(ferroflow's options, EagerOptions or None)`` from a task's keyword options,
    renaming Prefect 3's. ``owner`` names the task in errors; ``fn`` is its function
    (a cache policy keyed on the task's source hashes it); ``base``: the task's
    EagerOptions so far, which the options given change (``with_options``)."""
    if not any(name in options for name in (*RENAMED, *_IGNORED, "on_completion", "persist_result",
                                            "cache_policy", "refresh_cache", "retry_condition_fn",
                                            "on_running", "on_cancellation", "retry_jitter_factor")) \
            and not isinstance(options.get("on_failure"), (list, tuple)):
        return options, None
    given = dict(options)
    for name in _IGNORED:
        given.pop(name, None)
    if "retries" in given and "retry_delay_seconds" not in given and "retry_delay" not in given:
        given["retry_delay"] = 0  # (Prefect 3 retries at once unless told to wait)
    extra: dict[str, Any] = {}
    if given.get("log_prints") is not None:
        extra["log_prints"] = bool(given["log_prints"])
    if _not_positive(given.get("cache_expiration")):
        del given["cache_expiration"]
        extra["never_reuse"] = True
    for old, new in RENAMED.items():
        if old in given:
            if new in given:
                raise TypeError(f"{owner}: give {old}= or {new}= (the same option), not both")
            given[new] = given.pop(old)
    if "retry_jitter_factor" in given:
        from ferroflow import retries

        factor = given.pop("retry_jitter_factor")
        if factor is not None:
            if "retry_delay" not in given:
                raise TypeError(f"{owner}: retry_jitter_factor= spreads the retry delays: give "
                                f"retry_delay_seconds= with it")
            delay = retries.check_retry_delay(given["retry_delay"], owner)
            given["retry_delay"] = retries.with_jitter_factor(delay, factor, owner)
    for name in ("on_completion", "on_running", "on_cancellation"):
        if name in given:
            extra[name] = check_hooks(given.pop(name), name, owner)
    if isinstance(given.get("on_failure"), (list, tuple)):
        extra["on_failure"] = check_hooks(given.pop("on_failure"), "on_failure", owner)
    if "persist_result" in given:
        persist = given.pop("persist_result")
        if persist is not None and not isinstance(persist, bool):
            raise TypeError(f"{owner}: persist_result must be True, False or None, got {persist!r}")
        extra["persist_result"] = persist
    if "retry_condition_fn" in given:
        condition = given.pop("retry_condition_fn")
        if condition is not None and not callable(condition):
            raise TypeError(f"{owner}: retry_condition_fn must be a callable (task, task_run, state) -> bool")
        if given.get("retry_condition") is not None:
            raise TypeError(f"{owner}: give retry_condition_fn= or retry_condition=, not both")
        extra["retry_condition_fn"] = condition
    if "refresh_cache" in given:
        extra["refresh_cache"] = bool(given.pop("refresh_cache"))
    if "cache_policy" in given:
        from ferroflow.cache_policies import as_key_fn

        policy = given.pop("cache_policy")
        extra["cache_policy"] = policy
        key_fn = as_key_fn(policy, owner, fn)
        if key_fn is not None:
            if given.get("cache_key_fn") is not None:
                raise TypeError(f"{owner}: give cache_policy= or cache_key_fn=, not both")
            given["cache_key_fn"] = key_fn
    if extra.get("never_reuse"):  # (nothing to key, nothing to keep)
        given.pop("cache_key_fn", None)
        given.pop("cache_for", None)
    return given, dataclasses.replace(base or EagerOptions(), **extra)


def _not_positive(value: Any) -> bool:
    """Whether ``cache_expiration=value`` is zero or less (a duration or seconds)."""
    if isinstance(value, datetime.timedelta):
        return value <= datetime.timedelta(0)
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0


def eager_options(task: Any) -> EagerOptions | None:
    """The :class:`EagerOptions` of ``task``, or None."""
    return task.__dict__.get("_ff_eager_options")
