"""Fixtures: the installed plugin, real HTTP servers on 127.0.0.1, captured warnings."""

from __future__ import annotations

from ferroflow.testing.fixtures import require_installed

# The plugin must be installed (its entry point is part of what is tested).
require_installed("ferroflow-webhook", "ferroflow_webhook")

import pytest

from ferroflow.testing.fixtures import (  # noqa: F401
    Recorded,
    RecordingServer,
    clean_plugin_manager,
    http_server,
    no_proxy,
    refused_url,
    silent_server,
    require_installed,
    warnings_log,
)


@pytest.fixture(autouse=True)
def _isolated(no_proxy, clean_plugin_manager):
    yield
