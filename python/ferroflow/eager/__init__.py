"""Eager flows: any Python function as a flow, without a graph (Prefect 2/3 style).

``@flow`` (:mod:`ferroflow.eager.flow`) makes a function a flow; the ``@task``
functions it calls run at once (:mod:`ferroflow.eager.run`), with every task option
ferroflow has; their states follow Prefect 3's API (:mod:`ferroflow.eager.states`).
The run is recorded like a deferred one (:mod:`ferroflow.eager.record`). See
``docs/eager-flows.md``.

The package is imported when ``ferroflow.flow`` is first used: ``import ferroflow``
stays light.
"""

from ferroflow.eager.flow import EagerFlow, flow

__all__ = ["EagerFlow", "flow"]
