"""Fixtures of the web UI's tests: ``browser`` (Debian's Chromium through Playwright, one
per test module), ``ui`` (a server with authentication on and a key per role, see
:class:`tests.support.browser.UI`)."""

from __future__ import annotations

import pytest

from tests.support.browser import UI, launch


@pytest.fixture(scope="module")
def browser():
    # (one per test module: Playwright's sync API keeps an asyncio loop running while it
    # is open, and a test of another package run later in the same process may need
    # asyncio.run())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def ui(tmp_path):
    started = UI(tmp_path).start()
    yield started
    started.stop()
