"""WebhookNotifier in flow runs: it pickles and posts from worker processes, a server
that never answers costs one timeout per process (the connections a real silent server
on 127.0.0.1 receives are counted), secrets stay out of errors, and ``ferroflow run``
tells the user on stderr."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
import time

import cloudpickle
import pytest

from ferroflow import Flow, task
from ferroflow.executors import ProcessesExecutor
from ferroflow.notifications import as_state_handler
from ferroflow.states import Failed, Running
from ferroflow.testing.fixtures import PROXY_VARIABLES
from ferroflow_webhook import WebhookNotifier

TOKEN = "T0KEN-5ecret"

#: How warnings name this process.
HERE = f"this process (pid {os.getpid()})"


@task
def check(x):
    if x % 2:
        raise ValueError(f"odd {x}")
    return x


@task
def slow_failure(x):
    """Fails after a moment's work, so that an abandoned send has ended before the next
    failure notifies (each failure would then open a connection of its own)."""
    time.sleep(0.05)
    raise ValueError(f"bad item {x}")


class LockedWebhook(WebhookNotifier):
    """A webhook notifier holding something that does not pickle."""

    def __init__(self, url, **options):
        super().__init__(url, **options)
        import threading

        self.guard = threading.Lock()


def notified(t, notifier):
    return t.copy(state_handlers=[as_state_handler(notifier)])


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_pickles_with_its_handler_and_the_copy_posts(dumps, http_server):
    server = http_server()
    handler = as_state_handler(WebhookNotifier(server.url + "/hook?token=" + TOKEN,
                                               headers={"Authorization": f"Bearer {TOKEN}"},
                                               only_states=["Failed"], timeout=5))
    copy = pickle.loads(dumps(handler))
    assert copy.notifier.url == handler.notifier.url and copy.notifier.headers == handler.notifier.headers
    state = Failed("boom")
    assert copy(check, Running(), state) is state
    [request] = server.requests
    assert request.path == f"/hook?token={TOKEN}" and request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json()["task_full_name"] == "check" and request.json()["state"] == "Failed"


def test_posts_from_worker_processes(http_server):
    server = http_server()
    notifier = WebhookNotifier(server.url + "/hook", only_states=[Failed], timeout=5)
    with Flow("webhook-in-workers", state_handlers=[as_state_handler(notifier)]) as flow:
        checked = notified(check, notifier).map([0, 1, 2, 3])

    state = flow.run(executor=ProcessesExecutor(max_workers=2), record=False)
    children = state.result[checked].map_states
    assert [type(s).__name__ for s in children] == ["Success", "Failed", "Success", "Failed"]
    assert children[3].message.endswith("ValueError('odd 3')")
    bodies = [r.json() for r in server.requests]
    assert sorted(b["task_full_name"] for b in bodies if b["task_name"] is not None) == ["check[1]", "check[3]"]
    [end] = [b for b in bodies if b["task_name"] is None]
    assert end["flow_name"] == "webhook-in-workers" and end["state"] == "Failed"


def test_a_silent_server_costs_one_connection_then_the_end_of_the_run(silent_server, warnings_log):
    server = silent_server()
    notifier = WebhookNotifier(server.url + "/hook/" + TOKEN, only_states=[Failed], timeout=0.5)
    with Flow("silent", state_handlers=[as_state_handler(notifier)]) as flow:
        failed = notified(slow_failure, notifier).map(list(range(10)))

    state = flow.run(record=False)
    assert all(s.is_failed() and "bad item" in s.message for s in state.result[failed].map_states)
    assert server.connections == 2  # the first failure finds it slow; the end of the run tries again
    messages = warnings_log()
    assert len(messages) == 2
    assert "'webhook' (WebhookNotifier to http://127.0.0.1:" in messages[0]
    assert f"timed out after 0.5 s; its notifications are skipped in {HERE} for 60 s" in messages[0]
    assert f"9 notification(s) skipped in {HERE} so far" in messages[1]
    assert not any(TOKEN in m for m in messages)


def test_a_silent_server_costs_one_connection_per_worker_process(silent_server):
    server = silent_server()
    notifier = WebhookNotifier(server.url + "/hook", only_states=[Failed], timeout=0.5)
    with Flow("silent-workers") as flow:
        failed = notified(slow_failure, notifier).map(list(range(20)))

    state = flow.run(executor=ProcessesExecutor(max_workers=2), record=False)
    assert all(s.is_failed() and "bad item" in s.message for s in state.result[failed].map_states)
    assert 1 <= server.connections <= 2


def test_a_notifier_that_does_not_pickle_fails_its_task_without_showing_secrets(http_server, warnings_log, capfd):
    server = http_server()
    notifier = LockedWebhook(f"{server.url}/hooks/{TOKEN}", headers={"X-Token": TOKEN}, only_states=[Failed])
    with Flow("unpicklable") as flow:
        checked = notified(check, notifier).map([1, 2])

    state = flow.run(executor=ProcessesExecutor(max_workers=1), record=False)
    children = state.result[checked].map_states
    assert all(s.is_failed() and "cannot be pickled" in s.message for s in children)
    assert "cannot pickle '_thread.lock' object" in children[0].message
    texts = [s.message for s in children] + [str(s.result) for s in children]
    texts += [s.traceback or "" for s in children] + warnings_log() + list(capfd.readouterr())
    assert not any(TOKEN in text for text in texts)
    assert server.requests == []


FLOW_FILE = """
import time
from ferroflow import Flow, task
from ferroflow.notifications import as_state_handler
from ferroflow_webhook import WebhookNotifier

alert = WebhookNotifier("{url}/hooks/{token}", only_states=["Failed"], timeout=0.5)

@task(state_handlers=[as_state_handler(alert)])
def fails(x):
    time.sleep(0.05)
    raise ValueError(x)

with Flow("cli-silent", state_handlers=[as_state_handler(alert)]) as flow:
    fails.map(list(range(10)))
"""


def test_ferroflow_run_tells_on_stderr(silent_server, tmp_path):
    server = silent_server()
    (tmp_path / "flow.py").write_text(textwrap.dedent(FLOW_FILE.format(url=server.url, token=TOKEN)))
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARIABLES}
    done = subprocess.run([sys.executable, "-m", "ferroflow", "run", "flow.py", "--no-progress", "--no-record"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    lines = [line for line in done.stderr.splitlines() if "notifier 'webhook'" in line]
    assert len(lines) == 2, done.stderr
    assert "notification of task 'fails[0]'" in lines[0]
    assert "its notifications are skipped in this process (pid " in lines[0] and "for 60 s" in lines[0]
    assert "notification of flow 'cli-silent'" in lines[1]
    assert TOKEN not in done.stderr and TOKEN not in done.stdout
    assert server.connections == 2
