"""Freezing a flow into the Rust core's compact graph (ids, CSR edges, topological
order, cycle check)."""

from __future__ import annotations

from typing import Any, Optional

from ferroflow import _core, retries
from ferroflow.errors import FlowDefinitionError


class FrozenFlow:
    """A flow numbered for the core: ``tasks[i]`` has id ``i``.

    ``in_edges[i]`` lists the edges entering task ``i``; ``graph`` is the core's graph.
    Building it raises :class:`ferroflow.errors.CycleError` naming the cycle.
    """

    def __init__(self, flow: Any):
        self.flow = flow
        self.tasks: list = list(flow.tasks)
        self.index: dict = {t: i for i, t in enumerate(self.tasks)}
        self.in_edges: list[list] = [[] for _ in self.tasks]
        spec_edges = []
        for edge in flow.edges:
            try:
                up, down = self.index[edge.upstream_task], self.index[edge.downstream_task]
            except KeyError as exc:
                raise FlowDefinitionError(
                    f"Flow {flow.name!r} has an edge {edge} whose task {exc.args[0]!r} is not in the flow"
                ) from None
            self.in_edges[down].append(edge)
            spec_edges.append((up, down, bool(edge.mapped), bool(edge.flattened)))
        self.graph = _core.Graph([t.name for t in self.tasks], spec_edges)

    def sorted_tasks(self) -> list:
        """Tasks in topological order (ties broken by insertion order)."""
        return [self.tasks[i] for i in self.graph.order()]

    def specs(self, seed: Optional[int] = None) -> list[tuple]:
        """One scheduling spec per task, in the shape the core takes.

        ``seed`` seeds the jitter of retry delays (default: fresh for each call, so
        each flow run draws its own); a backoff with its own ``seed`` keeps it.
        """
        constants = self.flow.constants
        seed = retries.run_seed(seed)
        return [_spec(t, len(constants.get(t, ())), seed) for t in self.tasks]


def is_constant_task(task: Any) -> bool:
    """Whether ``task`` is a :class:`~ferroflow.core.collections.Constant` (or a
    subclass): as in Prefect 1, it is ``Success`` with its value from the start of a
    run, never run, whatever its upstream tasks do (its trigger, state handlers, result
    and cache are not used)."""
    from ferroflow.core.collections import Constant

    return isinstance(task, Constant)


def _spec(task: Any, n_constants: int, seed: int) -> tuple:
    """``(trigger, at_least, at_most, skip_on_upstream_skip, max_retries,
    retry_delays_ms, retry_jitter, retry_seed, n_constants, observed, constant)``."""
    spec = getattr(task.trigger, "_ff_spec", ("custom",))
    name = spec[0]
    at_least = float(spec[1]) if len(spec) > 1 and spec[1] is not None else None
    at_most = float(spec[2]) if len(spec) > 2 and spec[2] is not None else None
    max_retries = int(task.max_retries or 0)
    delays_ms, jitter, own_seed = retries.core_delays(task.retry_delay, max_retries)
    return (
        name,
        at_least,
        at_most,
        bool(task.skip_on_upstream_skip),
        max_retries,
        delays_ms,
        jitter,
        seed if own_seed is None else own_seed,
        n_constants,
        bool(getattr(task, "state_handlers", None) or getattr(task, "on_failure", None)),
        is_constant_task(task),
    )


def freeze(flow: Any) -> FrozenFlow:
    """Freeze ``flow`` (validates that it is acyclic)."""
    return FrozenFlow(flow)
