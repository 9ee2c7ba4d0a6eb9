"""Helpers for testing ferroflow and ferroflow plugins.

``ferroflow.testing.fixtures`` holds pytest fixtures (real HTTP servers on 127.0.0.1,
a clean plugin manager, captured notifier warnings); import the ones you need into a
``conftest.py``::

    from ferroflow.testing.fixtures import http_server, no_proxy, refused_url  # noqa: F401

Conformance suites for plugin authors: ``ferroflow.testing.conformance`` (executors,
:class:`ExecutorConformance`) and ``ferroflow.testing.launchers`` (launchers,
:class:`LauncherConformance`); both are importable from here too.
"""

from typing import Any

__all__ = ["ExecutorConformance", "LauncherConformance", "executor_conformance", "launcher_conformance"]

_SUITES = {
    "ExecutorConformance": "ferroflow.testing.conformance",
    "executor_conformance": "ferroflow.testing.conformance",
    "LauncherConformance": "ferroflow.testing.launchers",
    "launcher_conformance": "ferroflow.testing.launchers",
}


def __getattr__(name: str) -> Any:  # the suites, imported when first asked for (they need pytest)
    if name in _SUITES:
        import importlib

        return getattr(importlib.import_module(_SUITES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
