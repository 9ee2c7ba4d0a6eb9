"""Helpers for testing ferroflow and ferroflow plugins.

``ferroflow.testing.fixtures`` holds pytest fixtures (real HTTP servers on 127.0.0.1,
a clean plugin manager, captured notifier warnings); import the ones you need into a
``conftest.py``::

    from ferroflow.testing.fixtures import http_server, no_proxy, refused_url  # noqa: F401

Conformance kits for plugin authors, one per hook kind, all importable from here too:
``ferroflow.testing.conformance`` (executors, :class:`ExecutorConformance`),
``ferroflow.testing.notifiers`` (:class:`NotifierConformance`),
``ferroflow.testing.result_stores`` (:class:`ResultStoreConformance`),
``ferroflow.testing.serializers`` (:class:`SerializerConformance`) and
``ferroflow.testing.launchers`` (:class:`LauncherConformance`). Every test of every kit
bounds its own time and records into a temporary ``FERROFLOW_HOME``
(``ferroflow.testing.kit``).
"""

from typing import Any

__all__ = [
    "ExecutorConformance", "LauncherConformance", "NotifierConformance", "ResultStoreConformance",
    "SerializerConformance", "executor_conformance", "launcher_conformance", "notifier_conformance",
    "result_store_conformance", "serializer_conformance",
]

_SUITES = {
    "ExecutorConformance": "ferroflow.testing.conformance",
    "executor_conformance": "ferroflow.testing.conformance",
    "LauncherConformance": "ferroflow.testing.launchers",
    "launcher_conformance": "ferroflow.testing.launchers",
    "NotifierConformance": "ferroflow.testing.notifiers",
    "notifier_conformance": "ferroflow.testing.notifiers",
    "ResultStoreConformance": "ferroflow.testing.result_stores",
    "result_store_conformance": "ferroflow.testing.result_stores",
    "SerializerConformance": "ferroflow.testing.serializers",
    "serializer_conformance": "ferroflow.testing.serializers",
}


def __getattr__(name: str) -> Any:  # the suites, imported when first asked for (they need pytest)
    if name in _SUITES:
        import importlib

        return getattr(importlib.import_module(_SUITES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
