"""Checking the task options about results, targets, caching and run names
(``result``, ``checkpoint``, ``target``, ``cache_for``, ``cache_validator``,
``cache_key``, ``cache_key_fn``, ``task_run_name``). Each check takes the task (for
its name in messages) and the value given, and returns the normalised value."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

__all__ = [
    "check_result",
    "check_checkpoint",
    "check_target",
    "check_cache_for",
    "check_cache_validator",
    "check_cache_key",
    "check_cache_key_fn",
    "check_task_run_name",
    "check_result_combination",
]


def check_result(t: Any, value: Any) -> Any:
    """A :class:`ferroflow.results.Result`, or what ``Result(store)`` takes (a store
    name, a URL or a path)."""
    if value is None:
        return None
    from ferroflow.results import Result

    if isinstance(value, Result):
        return value
    if isinstance(value, str):
        return Result(value)
    kind = "Flow" if any(c.__name__ == "Flow" for c in type(t).__mro__) else "Task"
    raise TypeError(
        f"{kind} {t.name!r}: result must be a ferroflow.results.Result or a URL/path string, got {value!r}"
    )


def check_checkpoint(t: Any, value: Any) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"Task {t.name!r}: checkpoint must be True, False or None, got {value!r}")
    return value


def check_target(t: Any, value: Any) -> str | Callable[..., str] | None:
    """A location template string or a callable; checked now, formatted per task run."""
    if value is None:
        return None
    from ferroflow.results import LocationTemplate, ResultLocationError

    try:
        LocationTemplate(value)
    except ResultLocationError as exc:
        raise ValueError(f"Task {t.name!r}: bad target: {exc}") from None
    return value


def check_cache_for(t: Any, value: Any) -> datetime.timedelta | None:
    if value is None:
        return None
    from ferroflow.retries import as_timedelta

    if (value <= datetime.timedelta(0) if isinstance(value, datetime.timedelta)
            else isinstance(value, (int, float)) and not isinstance(value, bool) and value <= 0):
        raise ValueError(f"Task {t.name!r}: cache_for must be positive, got {value!r}")
    return as_timedelta(value, f"Task {t.name!r}: cache_for", "a datetime.timedelta or a number of seconds")


def check_cache_validator(t: Any, value: Any) -> Any:
    """One of :mod:`ferroflow.cache_validators`, or a callable of the user's
    ``validator(state, inputs, parameters) -> bool`` (Prefect 1's signature)."""
    if value is None:
        return None
    if not callable(value):
        raise TypeError(
            f"Task {t.name!r}: cache_validator must be one of ferroflow.cache_validators "
            f"(all_inputs, duration_only, partial_inputs_only([...]), ...) or a callable "
            f"validator(state, inputs, parameters) -> bool, got {value!r}"
        )
    return value


def check_cache_key(t: Any, value: Any) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise TypeError(f"Task {t.name!r}: cache_key must be a non-empty str, got {value!r}")
    return value


def check_cache_key_fn(t: Any, value: Any) -> Callable[..., Any] | None:
    if value is not None and not callable(value):
        raise TypeError(
            f"Task {t.name!r}: cache_key_fn must be a callable (context, inputs) -> str, got {value!r}"
        )
    return value


def check_task_run_name(t: Any, value: Any) -> str | Callable[..., str] | None:
    """A ``str.format`` template (``"load-{source}"``) or a callable returning a str."""
    if value is None or callable(value):
        return value
    if not isinstance(value, str) or not value:
        raise TypeError(f"Task {t.name!r}: task_run_name must be a template string or a callable, got {value!r}")
    from ferroflow.results import LocationTemplate, ResultLocationError

    try:
        LocationTemplate(value)
    except ResultLocationError as exc:
        raise ValueError(f"Task {t.name!r}: bad task_run_name: {exc}") from None
    return value


def check_result_combination(t: Any) -> None:
    """Constraints between these options, checked after any of them changes."""
    if t.cache_validator is not None and t.cache_for is None and t.cache_key_fn is None:
        raise ValueError(f"Task {t.name!r}: cache_validator is set, so cache_for must be set too")
    if t.cache_key is not None and t.cache_for is None and t.cache_key_fn is None:
        raise ValueError(f"Task {t.name!r}: cache_key is set, so cache_for must be set too")
    if t.checkpoint is False and t.target is not None:
        raise ValueError(f"Task {t.name!r}: a target needs checkpointing; drop checkpoint=False")
