"""Notifiers on a real local Ray instance: a task's webhook and email notifiers travel to
Ray's worker processes with it and notify from there, and a server that never answers
is found slow once per worker process instead of costing a timeout per failed task run.

Tasks here are self-contained (they import what they use): they travel by value to
Ray's worker processes, which cannot import this test module.
"""

from __future__ import annotations

import re

import pytest

from ferroflow import Flow, task
from ferroflow.notifications import as_state_handler
from ferroflow.states import Failed
from ferroflow.testing.fixtures import http_server, silent_server  # noqa: F401 - fixtures
from ferroflow_email import EmailNotifier
from ferroflow_ray import RayExecutor
from ferroflow_webhook import WebhookNotifier

pytestmark = pytest.mark.usefixtures("ray_cluster")


@task
def fails_in_worker(x):
    """Fails odd items, naming the process that ran them."""
    import os

    if x % 2:
        raise ValueError(f"item {x} failed in process {os.getpid()}")
    return x


def test_notifiers_on_ray(http_server, silent_server):  # noqa: F811 - the fixtures imported above
    received = http_server()
    silent_http, silent_smtp = silent_server(), silent_server()
    delivered = WebhookNotifier(received.url + "/hook", only_states=[Failed], timeout=5)
    unanswered = WebhookNotifier(silent_http.url + "/hook", only_states=[Failed], timeout=0.5)
    email = EmailNotifier("127.0.0.1", silent_smtp.port, "ferroflow@example.com", "oncall@example.com",
                          username="ferroflow", password="s3cret-pw", local_hostname="localhost",
                          only_states=[Failed], timeout=0.5)
    handlers = [as_state_handler(n) for n in (delivered, unanswered, email)]
    with Flow("notify-on-ray") as flow:
        results = fails_in_worker.copy(state_handlers=handlers).map(range(40))

    state = flow.run(executor=RayExecutor(), record=False)
    children = state.result[results].map_states
    failed = children[1::2]
    assert all(s.is_failed() and "failed in process" in s.message for s in failed)  # their own errors
    assert all(s.is_successful() for s in children[0::2])

    # Every failure reached the server that answers, from the worker that ran it.
    hooks = sorted(r.json()["map_index"] for r in received.requests)
    assert hooks == list(range(1, 40, 2))
    # The silent servers: each worker process found them slow once, then skipped them.
    pids = {re.search(r"failed in process (\d+)", s.message).group(1) for s in failed}
    assert 1 <= silent_http.connections <= len(pids)
    assert 1 <= silent_smtp.connections <= len(pids)
