"""Fixtures: the installed plugin, real HTTP servers on 127.0.0.1, captured warnings."""

from __future__ import annotations

import pytest

from ferroflow.testing.fixtures import (  # noqa: F401 - fixtures for this directory's tests
    Recorded,
    RecordingServer,
    clean_plugin_manager,
    http_server,
    no_proxy,
    refused_url,
    require_installed,
    silent_server,
    warnings_log,
)

# The plugin must be installed (its entry point is part of what is tested).
require_installed("ferroflow-webhook", "ferroflow_webhook")


@pytest.fixture(autouse=True)
def _isolated(no_proxy, clean_plugin_manager):  # noqa: F811 - the fixtures imported above
    yield
