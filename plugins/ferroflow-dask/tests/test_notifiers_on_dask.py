"""Notifiers on a real Dask LocalCluster (two worker processes of two threads): a task's
webhook, Slack and email notifiers travel to the workers with it and notify from there,
and a server that never answers is found slow once per worker thread at most, instead
of costing a timeout per failed task run."""

from __future__ import annotations

import re

from ferroflow import Flow, task
from ferroflow.notifications import as_state_handler
from ferroflow.states import Failed
from ferroflow.testing.fixtures import http_server, silent_server  # noqa: F401 - fixtures
from ferroflow_dask import DaskExecutor
from ferroflow_email import EmailNotifier
from ferroflow_slack import SlackNotifier
from ferroflow_webhook import WebhookNotifier


@task
def check(x):
    if x % 2:
        raise ValueError(f"odd {x}")
    return x


@task
def fails_in_worker(x):
    import os

    raise ValueError(f"item {x} failed in process {os.getpid()}")


def test_notifiers_travel_to_the_workers_and_notify_from_there(http_server, address, client):  # noqa: F811
    server = http_server()
    webhook = WebhookNotifier(server.url + "/hook", only_states=[Failed], timeout=5)
    slack = SlackNotifier(server.url + "/services/T0/B0/secret", only_states=[Failed], timeout=5)
    with Flow("notify-on-dask") as flow:
        checked = check.copy(state_handlers=[as_state_handler(webhook), as_state_handler(slack)]).map(range(6))

    state = flow.run(executor=DaskExecutor(address=address), record=False)
    children = state.result[checked].map_states
    assert [type(s).__name__ for s in children] == ["Success", "Failed"] * 3
    assert children[5].message.endswith("ValueError('odd 5')")  # its own error, not a pickling one
    hooks = sorted(r.json()["task_full_name"] for r in server.requests if r.path == "/hook")
    assert hooks == ["check[1]", "check[3]", "check[5]"]
    posts = sorted(r.json()["text"] for r in server.requests if r.path.startswith("/services/"))
    assert posts == [f"Task 'check[{i}]' of flow 'notify-on-dask' is Failed: Error during execution of task: "
                     f"ValueError('odd {i}')" for i in (1, 3, 5)]


def test_a_silent_server_is_found_slow_once_per_worker_thread(silent_server, address, client):  # noqa: F811
    threads = client.nthreads()  # {worker: its threads}
    http, smtp = silent_server(), silent_server()
    webhook = WebhookNotifier(http.url + "/hook", only_states=[Failed], timeout=0.5)
    email = EmailNotifier("127.0.0.1", smtp.port, "ferroflow@example.com", "oncall@example.com",
                          username="ferroflow", password="s3cret-pw", local_hostname="localhost",
                          only_states=[Failed], timeout=0.5)
    notified = fails_in_worker.copy(state_handlers=[as_state_handler(webhook), as_state_handler(email)])
    with Flow("silent-on-dask") as flow:
        failed = notified.map(range(20))

    state = flow.run(executor=DaskExecutor(address=address), record=False)
    children = state.result[failed].map_states
    assert all(s.is_failed() and "failed in process" in s.message for s in children)
    pids = {re.search(r"failed in process (\d+)", s.message).group(1) for s in children}
    assert 1 <= len(pids) <= len(threads)
    # 20 failures, each notifying both: each worker finds each server slow once (with one
    # send per thread at most under way then), and skips the rest.
    assert 1 <= http.connections <= sum(threads.values())
    assert 1 <= smtp.connections <= sum(threads.values())
