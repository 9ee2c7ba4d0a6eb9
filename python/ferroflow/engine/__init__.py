"""The engine: freezes a flow, drives the Rust core's batch API and runs task runs
through an executor. ``run_flow`` is what ``Flow.run`` and ``ferroflow run`` call.

Prefect 1 code written against a bare ``import prefect`` reaches some modules through
``prefect.engine`` (``prefect.engine.cache_validators.all_parameters``,
``prefect.engine.executors.LocalDaskExecutor``). With ``import ferroflow as prefect``
those attribute paths lead to ferroflow's own modules, imported on first use: see
``_PREFECT_PATHS``. They are attributes only, not importable submodules: an import
statement goes through the import table of ``docs/migrating-from-prefect-1.md``.
"""

from ferroflow.engine.runner import run_flow

#: ``prefect.engine.<name>`` modules of Prefect 1.4.1 -> the ferroflow module with the
#: same names in it. Prefect's ``result`` (its ``Result`` base class), ``serializers``
#: (``PickleSerializer``), ``flow_runner``, ``task_runner`` and ``cloud`` have no
#: counterpart whose names match, so they stay missing attributes.
_PREFECT_PATHS = {
    "cache_validators": "ferroflow.cache_validators",
    "executors": "ferroflow.executors",
    "results": "ferroflow.results",
    "signals": "ferroflow.signals",
    "state": "ferroflow.states",
}


def __getattr__(name: str):
    """``ferroflow.engine.<name>`` for Prefect 1's ``prefect.engine.<name>`` paths."""
    if name in _PREFECT_PATHS:
        import importlib

        return importlib.import_module(_PREFECT_PATHS[name])
    raise AttributeError(f"module 'ferroflow.engine' has no attribute {name!r}")


__all__ = ["run_flow"]
