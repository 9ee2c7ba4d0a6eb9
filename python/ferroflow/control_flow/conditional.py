"""Branches and their reunion: :func:`switch`, :func:`ifelse` and :func:`merge`, and
the tasks they add (:class:`CompareValue`, :class:`Merge`).

A branch is chosen at run time by a :class:`CompareValue` task: it succeeds when its
input equals the value it was built with and raises ``SKIP`` otherwise, and the skip
propagates to every task downstream of it that keeps the default
``skip_on_upstream_skip=True``. :class:`Merge` opts out of that propagation and
returns the first branch result that is not None.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ferroflow import signals, triggers
from ferroflow.core.collections import as_task
from ferroflow.core.edge import EdgeAnnotation
from ferroflow.core.task import Task, active_flow, tags, task

if TYPE_CHECKING:  # pragma: no cover
    from ferroflow.core.flow import Flow

__all__ = ["CompareValue", "Merge", "switch", "ifelse", "merge"]


class CompareValue(Task):
    """Succeeds (with result None) when its input ``value`` equals the ``value`` it
    was built with; raises ``SKIP('Provided value "x" did not match "y"')`` otherwise.

    Named ``CompareValue: "<value>"`` unless ``name`` is given (``case`` names it
    ``case(<value>)``).
    """

    def __init__(self, value: Any, **task_kwargs: Any):
        self.value = value
        task_kwargs.setdefault("name", f'CompareValue: "{value}"')
        super().__init__(**task_kwargs)

    def run(self, value: Any) -> None:  # type: ignore[override]  # a task's run() takes its own inputs
        """Raise SKIP unless ``value == self.value``."""
        if value != self.value:
            raise signals.SKIP(f'Provided value "{value}" did not match "{self.value}"')


_BRANCH_KEY = re.compile(r"task_(\d+)\Z")


class Merge(Task):
    """Returns the first result of a branch that was not skipped: the first input, in
    argument order, that is neither None nor the ``SKIP`` signal a skipped branch
    carries as its result.

    Its trigger is :func:`~ferroflow.triggers.not_all_skipped` and it does not skip
    when an upstream task skipped (``skip_on_upstream_skip=False``, which may not be
    changed): it skips only when *every* branch skipped, and fails (TriggerFailed) when
    a branch failed.
    """

    def __init__(self, **task_kwargs: Any):
        if task_kwargs.setdefault("skip_on_upstream_skip", False):
            raise ValueError("Merge tasks must have `skip_on_upstream_skip=False`.")
        task_kwargs.setdefault("trigger", triggers.not_all_skipped)
        super().__init__(**task_kwargs)

    def run(self, **task_results: Any) -> Any:
        """The first value that is neither None nor a ``SKIP`` signal (branches
        ``task_1``, ``task_2``, ... in that order), or None."""
        for _, value in sorted(task_results.items(), key=_branch_order):
            if value is not None and not isinstance(value, signals.SKIP):
                return value
        return None


def _branch_order(item: tuple) -> tuple:
    found = _BRANCH_KEY.match(item[0])
    return (0, int(found.group(1)), "") if found else (1, 0, item[0])


def _check_condition(what: str, condition: Any) -> None:
    if not isinstance(condition, Task):
        raise TypeError(
            f"{what}: the condition must be a Task (its result is compared at run time), "
            f"got {type(condition).__name__} {condition!r}"
            + (" (did you forget @task?)" if callable(condition) else "")
        )


def _check_value(what: str, value: Any) -> None:
    if isinstance(value, (Task, EdgeAnnotation)):
        raise TypeError(
            f"{what}: the value to compare with must be a plain value, not the task "
            f"{value!r}; compare two results with `a.is_equal(b)` and branch on that"
        )


def _flow_for(what: str, flow: Flow | None) -> Flow:
    flow = flow if flow is not None else active_flow()
    if flow is None:
        raise ValueError(
            f"{what} adds tasks to a flow: call it inside a `with Flow(...)` block "
            "(or pass flow=...)"
        )
    return flow


def switch(condition: Task, cases: dict[Any, Any], mapped: bool = False, flow: Flow | None = None) -> None:
    """Run only the branch whose key equals ``condition``'s result.

    For each ``value -> task`` of ``cases`` a :class:`CompareValue` task (tagged
    ``"switch"``) compares ``condition``'s result with ``value`` and becomes an upstream
    dependency of ``task``; every other branch is Skipped, and so is everything
    downstream of it unless it sets ``skip_on_upstream_skip=False`` (see
    :func:`merge`). No matching key: every branch is Skipped.

    ``mapped=True`` maps the comparisons over ``condition``'s children (one branch
    choice per child). ``flow`` defaults to the active flow.

    ::

        with Flow("route") as flow:
            kind = classify()
            switch(kind, {"image": resize(), "text": tokenize()})
    """
    flow = _flow_for("switch()", flow)
    _check_condition("switch()", condition)
    if not isinstance(cases, dict):
        raise TypeError(f"switch(): cases must be a dict {{value: task}}, got {type(cases).__name__} {cases!r}")
    for value in cases:
        _check_value(f"switch() case {value!r}", value)
    with tags("switch"):
        for value, branch in cases.items():
            branch = as_task(branch, flow=flow)
            match = CompareValue(value).bind(value=condition, mapped=mapped, flow=flow)
            branch.set_dependencies(flow=flow, upstream_tasks=[match], mapped=mapped)


@task
def as_bool(x: Any) -> bool:
    """``bool(x)``: the condition task :func:`ifelse` adds."""
    return bool(x)


def ifelse(condition: Task, true_task: Any, false_task: Any, mapped: bool = False,
           flow: Flow | None = None) -> None:
    """Run ``true_task`` when ``condition``'s result is truthy, else ``false_task``.

    Adds an ``as_bool`` task over ``condition`` and a :func:`switch` on it; the branch
    not taken is Skipped (with everything downstream of it that does not set
    ``skip_on_upstream_skip=False``). Either task may be None (no branch).
    ``mapped=True`` decides per child of a mapped ``condition``.
    """
    flow = _flow_for("ifelse()", flow)
    _check_condition("ifelse()", condition)
    cases = {value: branch for value, branch in ((True, true_task), (False, false_task)) if branch is not None}
    if cases:
        truth = as_bool(condition, mapped=mapped, flow=flow)
        switch(truth, cases, mapped=mapped, flow=flow)


def merge(*branches: Any, flow: Flow | None = None, mapped: bool = False, **task_kwargs: Any) -> Task:
    """A :class:`Merge` task over ``branches``: the first result of a branch that was
    not skipped and is not None (in argument order); Skipped when every branch
    skipped, TriggerFailed when a branch failed.

    ``mapped=True`` merges mapped branches child by child (child ``i`` merges the
    children ``i`` of the branches); without it a mapped branch arrives as the list of
    its children's results. ``task_kwargs`` go to the Merge task (``name``, ...).

    ::

        with Flow("pick") as flow:
            big = is_big(n)
            with case(big, True):
                a = handle_big(n)
            with case(big, False):
                b = handle_small(n)
            result = merge(a, b)
    """
    if not branches:
        raise ValueError("merge() needs at least one branch to merge")
    flow = _flow_for("merge()", flow)
    return Merge(**task_kwargs).bind(
        **{f"task_{i}": branch for i, branch in enumerate(branches, 1)}, flow=flow, mapped=mapped
    )
