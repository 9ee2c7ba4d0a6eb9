"""Fixtures for recording through a real ferroflow server."""

from __future__ import annotations

import pytest

from tests.support.servers import Server


@pytest.fixture
def server(database_url, tmp_path):
    """A ferroflow server on a free loopback port over ``database_url`` (both kinds)."""
    s = Server(database_url, tmp_path / "server.log").start()
    yield s
    s.stop()
