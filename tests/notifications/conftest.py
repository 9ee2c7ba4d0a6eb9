"""Fixtures for notification tests: real HTTP servers on 127.0.0.1 started per test
(shared with the notifier plugins' tests through ferroflow.testing.fixtures)."""

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


@pytest.fixture(autouse=True)
def _isolated(no_proxy, clean_plugin_manager):  # noqa: F811 - the fixtures imported above
    yield
