"""WebhookNotifier against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import traceback

import pytest

from ferroflow import plugins
from ferroflow.notifications import NotificationEvent, as_state_handler, get_notifier
from ferroflow.states import Failed, Running, Success
from ferroflow_webhook import WebhookNotifier


def failed_event(**identity) -> NotificationEvent:
    try:
        raise ValueError("bad row 17")
    except ValueError as exc:
        state = Failed("Task run failed: ValueError", result=exc, traceback=traceback.format_exc())
    identity = {"flow_name": "etl", "flow_run_id": "run-1", "task_name": "load", "map_index": 3,
                **identity}
    return NotificationEvent.from_state(state, previous_state=Running(), **identity)


def test_posts_the_event_as_json(http_server):
    server = http_server()
    notifier = WebhookNotifier(server.url + "/hooks/ferroflow?team=data",
                               headers={"Authorization": "Bearer s3cret"}, timeout=5)
    event = failed_event()
    assert notifier.notify(event) is True

    [request] = server.requests
    assert request.method == "POST"
    assert request.path == "/hooks/ferroflow?team=data"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer s3cret"
    body = request.json()
    assert body == event.to_dict()
    assert body["flow_name"] == "etl" and body["task_full_name"] == "load[3]"
    assert body["map_index"] == 3 and body["state"] == "Failed" and body["failed"] is True
    assert body["result"] == "ValueError('bad row 17')"
    assert "bad row 17" in body["traceback"]
    assert body["previous_state"] == "Running"


def test_flow_level_event(http_server):
    server = http_server()
    event = NotificationEvent.from_state(Success("All reference tasks succeeded."), flow_name="etl")
    assert WebhookNotifier(server.url, timeout=5).notify(event) is True
    body = server.requests[0].json()
    assert body["task_name"] is None and body["task_full_name"] is None and body["map_index"] is None
    assert body["state"] == "Success" and body["failed"] is False


def test_as_a_state_handler_with_a_filter(http_server):
    server = http_server()
    handler = as_state_handler(WebhookNotifier(server.url, only_states=["Failed"], timeout=5),
                               context=lambda: {"flow_name": "etl", "task_name": "load", "map_index": 0})
    success = Success(result=1)
    assert handler(None, Running(), success) is success
    assert server.requests == []
    failed = Failed("boom")
    assert handler(None, Running(), failed) is failed
    assert [r.json()["task_full_name"] for r in server.requests] == ["load[0]"]


def test_server_error_warns_and_returns_false(http_server, warnings_log):
    server = http_server(status=500, reply=b"upstream exploded")
    notifier = WebhookNotifier(server.url + "/hooks/T0/B0/s3cret", headers={"X-Api-Key": "k3y"}, timeout=5)
    assert notifier.notify(failed_event()) is False
    assert len(server.requests) == 1
    [message] = warnings_log()
    assert "'webhook'" in message
    assert "HTTP 500 Internal Server Error: upstream exploded" in message
    assert server.url in message
    assert "s3cret" not in message and "k3y" not in message  # no secrets in logs


def test_server_that_never_answers_times_out(http_server, warnings_log):
    server = http_server(hang=True)
    notifier = WebhookNotifier(server.url, timeout=0.3)
    state = Failed("boom")
    handler = as_state_handler(notifier, context=dict)
    assert handler(None, Running(), state) is state  # the run goes on, state unchanged
    assert len(server.requests) == 1
    [message] = warnings_log()
    assert "'webhook'" in message and "timed out" in message


def test_connection_refused(refused_url, warnings_log):
    notifier = WebhookNotifier(refused_url, timeout=5)
    assert notifier.notify(failed_event()) is False
    [message] = warnings_log()
    assert "'webhook'" in message and "refused" in message.lower()


@pytest.mark.parametrize("url", ["file:///etc/passwd", "hooks.example.com/x", "ftp://h/x"])
def test_rejects_non_http_urls(url):
    with pytest.raises(ValueError, match="http:// or https://"):
        WebhookNotifier(url)


def test_registered_through_its_entry_point(http_server):
    [record] = [r for r in plugins.list_plugins() if r.name == "webhook"]
    assert record.ok, record.error
    assert record.distribution == "ferroflow-webhook"
    assert record.registrations == {"notifiers": ["webhook"]}
    assert plugins.get_registry("notifiers")["webhook"].factory is WebhookNotifier

    server = http_server()
    notifier = get_notifier("webhook", url=server.url, only_states=["Failed"], timeout=5)
    assert isinstance(notifier, WebhookNotifier) and notifier.only_states == (Failed,)
    assert notifier.notify(failed_event()) is True and len(server.requests) == 1
