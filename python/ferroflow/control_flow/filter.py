"""``FilterTask``: keep the results of a list (usually a mapped task's) that pass a
test, as Prefect 1's ``FilterTask``.

By default it drops ``None`` and exceptions (the values of children that failed), so
a mapped pipeline goes on with what succeeded. It runs whatever its upstream states
(trigger ``all_finished``, ``skip_on_upstream_skip=False``)::

    keep_good = FilterTask()
    evens = FilterTask(filter_func=lambda x: x % 2 == 0,
                       log_func=lambda kept: f"{len(kept)} even numbers")

    with Flow("filter") as flow:
        results = keep_good(fetch.map(urls))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ferroflow import triggers
from ferroflow.core.task import Task

__all__ = ["FilterTask"]


def _is_value(result: Any) -> bool:
    """The default test: neither None nor an exception. Signals (a skipped child's
    ``SKIP``) are ``BaseException``s, not exceptions, and are kept, as in Prefect 1."""
    return not isinstance(result, (type(None), Exception))


class FilterTask(Task):
    """Returns the items of its input ``task_results`` for which ``filter_func(item)``
    is true (default: those neither None nor an exception), in order; logs
    ``log_func(kept)`` at INFO when ``log_func`` is given.

    Its defaults, which ``task_kwargs`` may change: ``trigger=all_finished`` and
    ``skip_on_upstream_skip=False``.
    """

    def __init__(self, filter_func: Callable[[Any], bool] | None = None,
                 log_func: Callable[[list[Any]], Any] | None = None, **task_kwargs: Any):
        task_kwargs.setdefault("skip_on_upstream_skip", False)
        task_kwargs.setdefault("trigger", triggers.all_finished)
        self.filter_func = filter_func or _is_value
        self.log_func = log_func
        super().__init__(**task_kwargs)

    def run(self, task_results: list[Any]) -> list[Any]:  # type: ignore[override]  # a task's run() takes its own inputs
        """The items of ``task_results`` that pass ``filter_func``."""
        kept = [r for r in task_results if self.filter_func(r)]
        if self.log_func is not None:
            self.logger.info(self.log_func(kept))
        return kept
