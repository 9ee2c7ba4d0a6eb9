"""SlackNotifier against real HTTP servers on 127.0.0.1, alone and in flow runs."""

from __future__ import annotations

import pickle
import time
import traceback

import cloudpickle
import pytest

from ferroflow import Flow, plugins, task
from ferroflow.executors import ProcessesExecutor
from ferroflow.notifications import NotificationEvent, as_state_handler, get_notifier
from ferroflow.states import Failed, Retrying, Running, Success
from ferroflow_slack import SlackNotifier, slack_message


def failed_event(**identity) -> NotificationEvent:
    try:
        raise ValueError("bad row <17> & more")
    except ValueError as exc:
        state = Failed("Task run failed: ValueError", result=exc, traceback=traceback.format_exc())
    identity = {"flow_name": "etl", "flow_run_id": "run-1", "task_name": "load", "map_index": 3,
                **identity}
    return NotificationEvent.from_state(state, previous_state=Running(), **identity)


def texts(blocks) -> list[str]:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(f["text"] for f in block.get("fields", []))
        out.extend(e["text"] for e in block.get("elements", []))
    return out


def test_posts_an_incoming_webhook_message(http_server):
    server = http_server()
    notifier = SlackNotifier(server.url + "/services/T000/B000/XXXX", timeout=5)
    assert notifier.notify(failed_event()) is True

    [request] = server.requests
    assert request.method == "POST"
    assert request.path == "/services/T000/B000/XXXX"
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert set(body) == {"text", "blocks"}
    assert body["text"] == "Task 'load[3]' of flow 'etl' is Failed: Task run failed: ValueError"

    blocks = body["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "section", "context"]
    header = blocks[0]["text"]
    assert header["type"] == "plain_text"
    assert header["text"] == ":x: Task 'load[3]' of flow 'etl' is Failed"
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert fields == ["*State*\nFailed (was Running)", "*Flow*\netl", "*Task*\nload[3]", "*Flow run*\n`run-1`"]
    assert blocks[2]["text"]["text"] == "*Message*\nTask run failed: ValueError"
    error = blocks[3]["text"]["text"]
    assert error.startswith("*Error*\n```") and error.endswith("```")
    # mrkdwn escaping
    assert "ValueError: bad row &lt;17&gt; &amp; more" in error


def test_flow_level_success_message(http_server):
    server = http_server()
    event = NotificationEvent.from_state(Success("All reference tasks succeeded."), flow_name="etl",
                                         flow_run_id="r2")
    assert SlackNotifier(server.url, timeout=5).notify(event) is True
    body = server.requests[0].json()
    blocks = body["blocks"]
    assert blocks[0]["text"]["text"] == ":white_check_mark: Flow 'etl' is Success"
    assert [f["text"] for f in blocks[1]["fields"]] == ["*State*\nSuccess", "*Flow*\netl", "*Flow run*\n`r2`"]
    assert not any("*Error*" in t for t in texts(blocks))


def test_message_stays_within_slack_limits():
    long_name = "t" * 400
    tb = "Traceback (most recent call last):\n" + "".join(f'  File "x.py", line {i}, in {"f" * 300}\n'
                                                        for i in range(500)) + "RuntimeError: boom\n"
    event = NotificationEvent.from_state(Failed("m" * 5000, traceback=tb), flow_name="f",
                                         task_name=long_name)
    message = slack_message(event)
    blocks = message["blocks"]
    assert len(blocks[0]["text"]["text"]) <= 150
    assert all(len(f["text"]) <= 2000 for f in blocks[1]["fields"])
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section" and "text" in b)
    assert len(message["text"]) <= 3000
    error = blocks[3]["text"]["text"]
    assert error.endswith("RuntimeError: boom```")  # the end of the traceback is kept
    assert "line 499" in error and "line 480" not in error


def test_retrying_emoji_and_overrides(http_server):
    server = http_server()
    notifier = SlackNotifier(server.url, channel="#data", username="ferroflow", icon_emoji=":robot_face:",
                             timeout=5)
    event = NotificationEvent.from_state(Retrying("retry in 5 s"), flow_name="etl", task_name="load")
    assert notifier.notify(event) is True
    body = server.requests[0].json()
    assert body["channel"] == "#data" and body["username"] == "ferroflow" and body["icon_emoji"] == ":robot_face:"
    assert body["blocks"][0]["text"]["text"].startswith(":warning: ")


def test_only_failed_states_through_a_handler(http_server):
    server = http_server()
    handler = as_state_handler(SlackNotifier(server.url, only_states=[Failed], timeout=5),
                               context=lambda: {"flow_name": "etl", "task_name": "load"})
    handler(None, Running(), Success(result=1))
    handler(None, Running(), Failed("boom"))
    assert len(server.requests) == 1


def test_slack_error_is_logged_without_the_url(http_server, warnings_log):
    server = http_server(status=400, reply=b"invalid_payload")
    notifier = SlackNotifier(server.url + "/services/T000/B000/s3cret", timeout=5)
    assert notifier.notify(failed_event()) is False
    [message] = warnings_log()
    assert "'slack'" in message and "HTTP 400 Bad Request: invalid_payload" in message
    assert "s3cret" not in message


def test_server_error(http_server, warnings_log):
    server = http_server(status=500, reply=b"")
    assert SlackNotifier(server.url, timeout=5).notify(failed_event()) is False
    assert "HTTP 500" in warnings_log()[0]


def test_silent_server_times_out(http_server, warnings_log):
    server = http_server(hang=True)
    state = Failed("boom")
    assert as_state_handler(SlackNotifier(server.url, timeout=0.3), context=dict)(None, Running(), state) is state
    assert len(server.requests) == 1
    [message] = warnings_log()
    assert "'slack'" in message and "timed out" in message


def test_connection_refused(refused_url, warnings_log):
    assert SlackNotifier(refused_url, timeout=5).notify(failed_event()) is False
    assert "refused" in warnings_log()[0].lower()


def test_registered_through_its_entry_point(http_server):
    [record] = [r for r in plugins.list_plugins() if r.name == "slack"]
    assert record.ok, record.error
    assert record.distribution == "ferroflow-slack"
    assert record.registrations == {"notifiers": ["slack"]}
    assert plugins.get_registry("notifiers")["slack"].factory is SlackNotifier

    server = http_server()
    notifier = get_notifier("slack", webhook_url=server.url, timeout=5)
    assert isinstance(notifier, SlackNotifier)
    assert notifier.notify(failed_event()) is True and len(server.requests) == 1


# --------------------------------------------------------------------------- in flow runs

SECRET_PATH = "/services/T000/B000/s3cretXXXX"


@task
def check(x):
    if x % 2:
        raise ValueError(f"odd {x}")
    return x


@task
def slow_failure(x):
    """Fails after a moment's work, so that an abandoned send has ended before the next
    failure notifies."""
    time.sleep(0.05)
    raise ValueError(f"bad item {x}")


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_pickles_with_its_handler_and_the_copy_posts(dumps, http_server):
    server = http_server()
    notifier = SlackNotifier(server.url + SECRET_PATH, channel="#alerts", only_states=["Failed"], timeout=5)
    copy = pickle.loads(dumps(as_state_handler(notifier)))
    assert copy.notifier.webhook_url == notifier.webhook_url and copy.notifier.overrides == {"channel": "#alerts"}
    state = Failed("boom")
    assert copy(check, Running(), state) is state
    [request] = server.requests
    assert request.path == SECRET_PATH and request.json()["channel"] == "#alerts"


def test_posts_from_worker_processes(http_server):
    server = http_server()
    notifier = SlackNotifier(server.url + SECRET_PATH, only_states=[Failed], timeout=5)
    with Flow("slack-in-workers") as flow:
        checked = check.copy(state_handlers=[as_state_handler(notifier)]).map([0, 1, 2, 3])

    state = flow.run(executor=ProcessesExecutor(max_workers=2), record=False)
    children = state.result[checked].map_states
    assert [type(s).__name__ for s in children] == ["Success", "Failed", "Success", "Failed"]
    headers = sorted(r.json()["blocks"][0]["text"]["text"] for r in server.requests)
    assert headers == [":x: Task 'check[1]' of flow 'slack-in-workers' is Failed",
                       ":x: Task 'check[3]' of flow 'slack-in-workers' is Failed"]


def test_a_silent_server_costs_one_connection(silent_server, warnings_log):
    server = silent_server()
    notifier = SlackNotifier(server.url + SECRET_PATH, only_states=[Failed], timeout=0.5)
    with Flow("silent") as flow:
        failed = slow_failure.copy(state_handlers=[as_state_handler(notifier)]).map(list(range(10)))

    state = flow.run(record=False)
    assert all(s.is_failed() and "bad item" in s.message for s in state.result[failed].map_states)
    assert server.connections == 1
    [message] = warnings_log()
    assert "'slack' (SlackNotifier to http://127.0.0.1:" in message and "its notifications are skipped" in message
    assert "s3cret" not in message
