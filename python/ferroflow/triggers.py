"""Triggers decide whether a task runs, given the states of its upstream tasks.

A trigger is a callable ``trigger(upstream_states: dict[Edge, State]) -> bool`` that
returns True to run the task or raises a signal (usually ``TRIGGERFAIL``). Mapped
upstream states are expanded to their children before counting.

The built-in triggers below are also understood by ferroflow's Rust core: each carries
a ``_ff_spec`` tuple, and the core evaluates it on counters of upstream states without
calling Python. Any other callable is a *custom* trigger and is called with the
upstream states, exactly as in Prefect 1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ferroflow import signals
from ferroflow.states import Mapped

if TYPE_CHECKING:  # pragma: no cover
    from ferroflow.core.edge import Edge
    from ferroflow.states import State

UpstreamStates = dict["Edge", "State"]
Trigger = Callable[[UpstreamStates], bool]

__all__ = [
    "all_successful",
    "all_failed",
    "any_successful",
    "any_failed",
    "all_finished",
    "always_run",
    "some_successful",
    "some_failed",
    "not_all_skipped",
    "manual_only",
]


def _expanded(upstream_states: UpstreamStates) -> list:
    """Upstream states with mapped parents replaced by their children, deduplicated."""
    seen: dict[int, object] = {}
    for state in upstream_states.values():
        children = state.map_states if isinstance(state, Mapped) else (state,)
        for child in children:
            seen.setdefault(id(child), child)
    return list(seen.values())


def _builtin(spec: tuple) -> Callable[[Trigger], Trigger]:
    def mark(fn: Trigger) -> Trigger:
        fn._ff_spec = spec  # type: ignore[attr-defined]  # what the core runs instead
        return fn

    return mark


@_builtin(("all_successful",))
def all_successful(upstream_states: UpstreamStates) -> bool:
    """Run when every upstream state is successful (Skipped, Cached and Mapped count
    as successes; TriggerFailed counts as a failure). The default trigger."""
    if not all(s.is_successful() for s in _expanded(upstream_states)):
        raise signals.TRIGGERFAIL(
            'Trigger was "all_successful" but some of the upstream tasks failed.'
        )
    return True


@_builtin(("all_failed",))
def all_failed(upstream_states: UpstreamStates) -> bool:
    """Run when every upstream state failed."""
    if not all(s.is_failed() for s in _expanded(upstream_states)):
        raise signals.TRIGGERFAIL(
            'Trigger was "all_failed" but some of the upstream tasks succeeded.'
        )
    return True


@_builtin(("any_successful",))
def any_successful(upstream_states: UpstreamStates) -> bool:
    """Run when at least one upstream state is successful (or there are no upstream
    edges at all)."""
    if upstream_states and not any(s.is_successful() for s in _expanded(upstream_states)):
        raise signals.TRIGGERFAIL(
            'Trigger was "any_successful" but none of the upstream tasks succeeded.'
        )
    return True


@_builtin(("any_failed",))
def any_failed(upstream_states: UpstreamStates) -> bool:
    """Run when at least one upstream state failed (or there are no upstream edges)."""
    if upstream_states and not any(s.is_failed() for s in _expanded(upstream_states)):
        raise signals.TRIGGERFAIL(
            'Trigger was "any_failed" but none of the upstream tasks failed.'
        )
    return True


@_builtin(("all_finished",))
def all_finished(upstream_states: UpstreamStates) -> bool:
    """Run once every upstream state is finished, whatever it is: the trigger of
    clean-up tasks."""
    if not all(s.is_finished() for s in _expanded(upstream_states)):
        raise signals.TRIGGERFAIL(
            'Trigger was "all_finished" but some of the upstream tasks were not finished.'
        )
    return True


always_run = all_finished


@_builtin(("not_all_skipped",))
def not_all_skipped(upstream_states: UpstreamStates) -> bool:
    """Run when every upstream state is successful and not all of them are skipped;
    skip (rather than fail) when all are skipped. Used by ``merge``."""
    states = _expanded(upstream_states)
    if all(s.is_skipped() for s in states):
        raise signals.SKIP("All upstreams were skipped", result=None)
    if not all(s.is_successful() for s in states):
        raise signals.TRIGGERFAIL(
            'Trigger was "not_all_skipped" but some of the upstream tasks failed.'
        )
    return True


def _check_bound(name: str, value: int | float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise TypeError(
            f"{name} must be None or a non-negative number (a fraction below 1, a count "
            f"from 1 up), got {value!r}"
        )


def _threshold(kind: str, at_least, at_most) -> Trigger:
    _check_bound("at_least", at_least)
    _check_bound("at_most", at_most)
    wanted = (lambda s: s.is_successful()) if kind == "successful" else (lambda s: s.is_failed())

    def _some(upstream_states: UpstreamStates) -> bool:
        if not upstream_states:
            return True
        states = _expanded(upstream_states)
        total = len(states)
        hits = sum(1 for s in states if wanted(s))
        low = 0 if at_least is None else (total * at_least if at_least < 1 else at_least)
        high = total if at_most is None else (total * at_most if at_most < 1 else at_most)
        if not low <= hits <= high:
            raise signals.TRIGGERFAIL(f'Trigger was "some_{kind}" but thresholds were not met.')
        return True

    _some.__name__ = f"some_{kind}"
    _some.__qualname__ = f"some_{kind}"
    _some.__doc__ = (
        f"Run when the number of {kind} upstream states lies between at_least={at_least!r} "
        f"and at_most={at_most!r} (values below 1 are fractions of the upstream count)."
    )
    _some._ff_spec = (f"some_{kind}", at_least, at_most)  # type: ignore[attr-defined]  # as _builtin
    return _some


def some_successful(
    at_least: int | float | None = None, at_most: int | float | None = None
) -> Trigger:
    """Run when between ``at_least`` and ``at_most`` upstream states are successful.

    A bound below 1 is a fraction of the number of upstream states (``0.5`` = half),
    a bound of 1 or more is a count; ``None`` means 0 and "all" respectively.
    """
    return _threshold("successful", at_least, at_most)


def some_failed(
    at_least: int | float | None = None, at_most: int | float | None = None
) -> Trigger:
    """Run when between ``at_least`` and ``at_most`` upstream states failed (bounds as
    in :func:`some_successful`)."""
    return _threshold("failed", at_least, at_most)


def manual_only(upstream_states: UpstreamStates) -> bool:
    """Run only once approved: the task pauses (``Paused``) until the run is resumed
    with the task approved, ``flow.run(resume=RUN_ID, approve=["task"])`` (then
    ``ferroflow.context.resume`` is True). Upstream states do not matter."""
    from ferroflow.runtime.context import context

    if context.get("resume"):
        return True
    raise signals.PAUSE('Trigger function is "manual_only"')
