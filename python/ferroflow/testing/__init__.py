"""Helpers for testing ferroflow and ferroflow plugins.

``ferroflow.testing.fixtures`` holds pytest fixtures (real HTTP servers on 127.0.0.1,
a clean plugin manager, captured notifier warnings); import the ones you need into a
``conftest.py``::

    from ferroflow.testing.fixtures import http_server, no_proxy, refused_url  # noqa: F401
"""
