"""The engine: freezes a flow, drives the Rust core's batch API and runs task runs
through an executor. ``run_flow`` is what ``Flow.run`` and ``ferroflow run`` call."""

from ferroflow.engine.runner import run_flow

__all__ = ["run_flow"]
