"""The notifier contract: events, state filters, bounded never-raising notify, handlers."""

from __future__ import annotations

import datetime
import json
import os
import smtplib
import threading
import traceback
import urllib.error

import pytest

from ferroflow import Flow, notifications, task
from ferroflow.errors import PluginError
from ferroflow.notifications import (
    DEFAULT_TIMEOUT,
    MAX_RESULT_CHARS,
    MAX_TRACEBACK_CHARS,
    NotificationError,
    NotificationEvent,
    Notifier,
    as_state_handler,
    check_http_url,
    get_notifier,
    post_json,
    redact_url,
    resolve_states,
)
from ferroflow.plugins import hookimpl, registered_plugin
from ferroflow.states import (
    Cached,
    Cancelled,
    Failed,
    Mapped,
    Pending,
    Retrying,
    Running,
    Skipped,
    Success,
    TimedOut,
    TriggerFailed,
)

#: How warnings name this process.
HERE = f"this process (pid {os.getpid()})"


class ListNotifier(Notifier):
    name = "list"

    def __init__(self, **options):
        super().__init__(**options)
        self.events: list[NotificationEvent] = []

    def send(self, event):
        self.events.append(event)


class RaisingNotifier(Notifier):
    name = "raising"

    def send(self, event):
        raise ConnectionError("server down")


class HangingNotifier(Notifier):
    """Blocks in send until ``release`` is set."""

    name = "hanging"

    def __init__(self, **options):
        super().__init__(**options)
        self.release = threading.Event()
        self.calls = 0

    def send(self, event):
        self.calls += 1
        self.release.wait()


def failed_state() -> Failed:
    try:
        raise ValueError("bad row 17")
    except ValueError as exc:
        return Failed("Task run failed: ValueError", result=exc, traceback=traceback.format_exc())


# --------------------------------------------------------------------------- events


def test_event_from_failed_state():
    state = failed_state()
    event = NotificationEvent.from_state(
        state, flow_name="etl", flow_run_id="run-1", task_name="load", map_index=3,
        previous_state=Running())
    assert event.flow_name == "etl"
    assert event.flow_run_id == "run-1"
    assert event.task_name == "load"
    assert event.task_full_name == "load[3]"
    assert event.map_index == 3
    assert event.state == "Failed"
    assert event.previous_state == "Running"
    assert event.message == "Task run failed: ValueError"
    assert event.result == "ValueError('bad row 17')"
    assert "bad row 17" in event.traceback and event.traceback.startswith("Traceback")
    assert event.failed is True
    assert event.timestamp.tzinfo is not None
    assert not event.is_flow_event
    assert event.summary() == "Task 'load[3]' of flow 'etl' is Failed"


def test_event_flow_level_and_unmapped_task():
    flow_event = NotificationEvent.from_state(Success("All reference tasks succeeded."), flow_name="etl")
    assert flow_event.task_name is None and flow_event.task_full_name is None
    assert flow_event.is_flow_event and flow_event.failed is False
    assert flow_event.summary() == "Flow 'etl' is Success"
    assert flow_event.result is None and flow_event.traceback is None

    task_event = NotificationEvent(flow_name="etl", task_name="load", state="Success")
    assert task_event.task_full_name == "load"


def test_subclasses_of_failed_are_failed():
    for state in (TriggerFailed("upstream"), TimedOut("slow")):
        event = NotificationEvent.from_state(state, flow_name="f")
        assert event.failed and event.state == type(state).__name__


def test_event_to_dict_is_json():
    when = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)
    event = NotificationEvent.from_state(failed_state(), flow_name="etl", task_name="load",
                                         timestamp=when)
    data = json.loads(event.to_json())
    assert data == event.to_dict()
    assert data["timestamp"] == "2024-05-01T12:00:00+00:00"
    assert set(data) == {"flow_name", "flow_run_id", "task_name", "task_full_name", "map_index",
                         "state", "message", "result", "traceback", "timestamp",
                         "previous_state", "failed"}


def test_long_result_and_traceback_are_cut():
    huge = list(range(1_000_000))
    event = NotificationEvent.from_state(Mapped("mapped", result=huge), flow_name="f")
    assert len(event.result) <= MAX_RESULT_CHARS and event.result.startswith("[0, 1, 2")

    text = "x" * 5000
    assert len(NotificationEvent.from_state(Success(result=text), flow_name="f").result) <= MAX_RESULT_CHARS

    tb = "Traceback (most recent call last):\n" + "  frame\n" * 2000 + "ValueError: the end\n"
    event = NotificationEvent.from_state(Failed("no", traceback=tb), flow_name="f")
    assert len(event.traceback) <= MAX_TRACEBACK_CHARS
    assert event.traceback.endswith("ValueError: the end\n")  # the useful end is kept
    assert "characters cut" in event.traceback


def test_result_whose_repr_raises():
    class Nasty:
        def __repr__(self):
            raise RuntimeError("no repr for you")

    event = NotificationEvent.from_state(Success(result=Nasty()), flow_name="f")
    assert event.result.startswith("<Nasty instance at 0x")


# --------------------------------------------------------------------------- filters


def test_resolve_states():
    assert resolve_states(None) is None
    assert resolve_states(Failed) == (Failed,)
    assert resolve_states("failed") == (Failed,)
    assert resolve_states(["Failed", Retrying, "Failed"]) == (Failed, Retrying)
    with pytest.raises(ValueError, match="Unknown state 'Faild'.*Failed"):
        resolve_states(["Faild"])
    with pytest.raises(TypeError, match="State classes or their names"):
        resolve_states([42])
    with pytest.raises(TypeError):
        resolve_states([dict])


def test_wants_includes_subclasses():
    notifier = ListNotifier(only_states=[Failed])
    assert notifier.wants(Failed())
    assert notifier.wants(TriggerFailed())
    assert notifier.wants(TimedOut())
    assert not notifier.wants(Success())
    assert not notifier.wants(Running())

    everything = ListNotifier()
    assert all(everything.wants(s) for s in (Pending(), Running(), Success(), Failed(), Cancelled()))


def test_wants_ignore_states():
    notifier = ListNotifier(only_states=["Success"], ignore_states=[Skipped, "Cached"])
    assert notifier.wants(Success())
    assert notifier.wants(Mapped())
    assert not notifier.wants(Skipped())
    assert not notifier.wants(Cached())
    assert not ListNotifier(ignore_states=Running).wants(Running())


@pytest.mark.parametrize("timeout", [0, -1, None, "10", True])
def test_bad_timeout(timeout):
    with pytest.raises(ValueError, match="positive number of seconds"):
        ListNotifier(timeout=timeout)


def test_timeout_default_and_timedelta():
    assert ListNotifier().timeout == DEFAULT_TIMEOUT == 10.0
    assert ListNotifier(timeout=datetime.timedelta(seconds=3)).timeout == 3.0


# --------------------------------------------------------------------------- notify


def event(state="Failed", **kw) -> NotificationEvent:
    return NotificationEvent(flow_name="etl", task_name="load", map_index=2, state=state, **kw)


def test_notify_sends():
    notifier = ListNotifier()
    assert notifier.notify(event()) is True
    assert [e.task_full_name for e in notifier.events] == ["load[2]"]


def test_notify_failure_warns_and_returns_false(warnings_log):
    notifier = RaisingNotifier()
    assert notifier.notify(event()) is False
    [message] = warnings_log()
    assert "'raising' (RaisingNotifier)" in message
    assert "ConnectionError: server down" in message
    assert "task 'load[2]' of flow 'etl'" in message and "Failed notification" in message


def test_notify_never_raises_even_for_base_exceptions(warnings_log):
    class Exiting(Notifier):
        name = "exiting"

        def send(self, event):
            raise SystemExit(3)

    assert Exiting().notify(event()) is False
    assert "SystemExit" in warnings_log()[0]


def test_notify_without_super_init():
    class Careless(Notifier):
        name = "careless"

        def __init__(self):  # forgets super().__init__()
            self.sent = []

        def send(self, event):
            self.sent.append(event)

    notifier = Careless()
    assert notifier.wants(Failed())
    assert notifier.notify(event()) is True and len(notifier.sent) == 1


def test_send_is_abstract():
    class NoSend(Notifier):
        name = "nosend"

    with pytest.raises(TypeError, match="abstract"):
        NoSend()


class Clock:
    """A monotonic clock that moves only when told (``notifications._monotonic``)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(notifications, "_monotonic", fake)
    return fake


def test_hanging_notifier_is_bounded_then_skipped_then_tried_again(warnings_log, clock):
    notifier = HangingNotifier(timeout=0.2)
    try:
        assert notifier.notify(event()) is False
        [first] = warnings_log()
        assert "'hanging' (HangingNotifier)" in first and "timed out after 0.2 s" in first
        assert f"skipped in {HERE} for 60 s, then one tries again" in first

        # Marked slow: later notifications are skipped at once, send is not called,
        # and nothing more is logged (the first warning said so).
        assert [notifier.notify(event("Success")) for _ in range(3)] == [False] * 3
        assert notifier.calls == 1 and len(warnings_log()) == 1

        clock.now += 60  # the pause is over: one notification tries again, in vain
        assert notifier.notify(event()) is False
        assert notifier.calls == 2
        assert (f"timed out after 0.2 s again; 3 notification(s) skipped in {HERE} so far; "
                "the next try is in 120 s") in warnings_log()[-1]

        clock.now += 60  # the pause doubled: still skipped
        assert notifier.notify(event()) is False and notifier.calls == 2
        clock.now += 60
        notifier.release.set()  # the endpoint answers again
        assert notifier.notify(event()) is True
        assert notifier.calls == 3
        assert "answers in time again; 4 notification(s) were skipped" in warnings_log()[-1]

        assert notifier.notify(event()) is True and notifier.calls == 4  # back to normal
    finally:
        notifier.release.set()


class TimingOut(Notifier):
    """Fails each send with ``error()`` at once: a socket timeout that fired just
    before ``notify`` stopped waiting, as urllib and smtplib report one."""

    name = "timing-out"

    def __init__(self, error, **options):
        super().__init__(**options)
        self.error = error
        self.calls = 0

    def send(self, event):
        self.calls += 1
        raise self.error()


def _smtp_timeout():
    try:
        try:
            raise TimeoutError("timed out")
        except OSError as exc:  # as smtplib.SMTP.getreply does
            raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {exc}")  # noqa: B904 - as smtplib
    except smtplib.SMTPServerDisconnected as exc:
        return exc


@pytest.mark.parametrize("error", [
    lambda: TimeoutError("timed out"),
    lambda: urllib.error.URLError(TimeoutError("timed out")),
    _smtp_timeout,
], ids=["socket", "urllib", "smtplib"])
def test_a_send_that_raises_a_timeout_marks_the_notifier_slow(error, warnings_log):
    # A socket timeout equal to notify's timeout fires about when notify stops
    # waiting: the send has ended with an error, and it still means "no answer".
    notifier = TimingOut(error, timeout=5)
    assert [notifier.notify(event()) for _ in range(20)] == [False] * 20
    assert notifier.calls == 1
    [message] = warnings_log()
    assert "timed out after 5 s; its notifications are skipped" in message


def test_a_send_that_fails_fast_is_not_slow(warnings_log):
    notifier = RaisingNotifier()
    assert [notifier.notify(event()) for _ in range(3)] == [False] * 3
    assert len(warnings_log()) == 3 and all("ConnectionError: server down" in m for m in warnings_log())


def test_one_try_at_a_time_while_slow(clock):
    notifier = HangingNotifier(timeout=0.2)
    try:
        assert notifier.notify(event()) is False  # marked slow
        clock.now += 60
        trying = threading.Thread(target=notifier.notify, args=(event(),))
        trying.start()
        for _ in range(3000):  # a hang guard only: the try starts at once
            if notifier.calls == 2:
                break
            trying.join(0.01)
        assert notifier.calls == 2
        assert notifier.notify(event()) is False  # another thread is trying: skipped
        assert notifier.calls == 2
    finally:
        notifier.release.set()
    trying.join()


def test_the_end_of_a_flow_run_is_tried_even_while_slow(clock):
    notifier = HangingNotifier(timeout=0.2)
    try:
        assert notifier.notify(event()) is False
        flow_event = NotificationEvent(flow_name="etl", state="Running")
        assert notifier.notify(flow_event) is False and notifier.calls == 1  # not the end
        notifier.release.set()
        final = NotificationEvent(flow_name="etl", state="Failed")
        assert notifier.notify(final) is True and notifier.calls == 2
    finally:
        notifier.release.set()


def test_notify_runs_concurrently_from_threads():
    notifier = ListNotifier()
    threads = [threading.Thread(target=notifier.notify, args=(event(),)) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(notifier.events) == 20


# --------------------------------------------------------------------------- state handlers


@task
def load(x):
    return x


def test_handler_notifies_wanted_states_and_returns_new_state():
    notifier = ListNotifier(only_states=[Failed])
    handler = as_state_handler(notifier, context=lambda: {"flow_name": "etl", "flow_run_id": "r1",
                                                          "task_name": "load", "map_index": 4})
    assert handler.notifier is notifier and handler.__name__ == "notify_list"

    running = Running()
    assert handler(load, Pending(), running) is running
    assert notifier.events == []

    failed = failed_state()
    assert handler(load, running, failed) is failed
    [sent] = notifier.events
    assert (sent.flow_name, sent.flow_run_id, sent.task_full_name, sent.state, sent.previous_state) == (
        "etl", "r1", "load[4]", "Failed", "Running")
    assert "bad row 17" in sent.traceback


def test_handler_for_a_flow():
    notifier = ListNotifier()
    with Flow("nightly") as flow:
        load(1)
    handler = as_state_handler(notifier, context=lambda: {"flow_run_id": "r9", "task_name": "load"})
    handler(flow, Running(), Success("done"))
    [sent] = notifier.events
    assert sent.flow_name == "nightly" and sent.flow_run_id == "r9"
    assert sent.task_name is None and sent.is_flow_event


def test_handler_without_context_uses_the_task_name():
    notifier = ListNotifier()
    as_state_handler(notifier, context=lambda: {})(load, Running(), Success(result=1))
    [sent] = notifier.events
    assert sent.task_name == sent.task_full_name == "load" and sent.result == "1"


def test_handler_never_changes_or_raises(warnings_log):
    state = failed_state()
    assert as_state_handler(RaisingNotifier())(load, Running(), state) is state

    def broken_context():
        raise KeyError("context")

    assert as_state_handler(ListNotifier(), context=broken_context)(load, Running(), state) is state
    assert any("could not build" in m for m in warnings_log())


def test_handler_of_a_hanging_notifier_returns(warnings_log):
    notifier = HangingNotifier(timeout=0.2)
    state = failed_state()
    try:
        assert as_state_handler(notifier, context=dict)(load, Running(), state) is state
    finally:
        notifier.release.set()
    assert "timed out" in warnings_log()[-1]


def test_as_state_handler_needs_a_notifier():
    with pytest.raises(TypeError, match="takes a Notifier"):
        as_state_handler(lambda *a: None)


# --------------------------------------------------------------------------- registry


class ListPlugin:
    @hookimpl
    def register_notifiers(self, register):
        register("list", ListNotifier)


def test_get_notifier_by_name():
    with registered_plugin(ListPlugin()):
        notifier = get_notifier("list", only_states=["Failed"], timeout=2)
        assert isinstance(notifier, ListNotifier)
        assert notifier.only_states == (Failed,) and notifier.timeout == 2.0
        assert get_notifier(notifier) is notifier
        with pytest.raises(PluginError, match="Unknown notifier 'lst'.*Did you mean 'list'"):
            get_notifier("lst")
        with pytest.raises(PluginError, match="Could not create notifier 'list'"):
            get_notifier("list", only_states=["Nope"])


# --------------------------------------------------------------------------- HTTP helper


def test_post_json(http_server):
    server = http_server()
    status, body = post_json(server.url + "/in?k=1", {"a": "é"}, headers={"X-Token": "t"}, timeout=5)
    assert (status, body) == (200, b"ok")
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/in?k=1")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-token"] == "t"
    assert request.headers["user-agent"].startswith("ferroflow/")
    assert request.json() == {"a": "é"}


def test_post_json_http_error(http_server):
    server = http_server(status=500, reply=b"database\nexploded")
    with pytest.raises(NotificationError, match="HTTP 500 Internal Server Error: database exploded"):
        post_json(server.url, {}, timeout=5)


def test_post_json_does_not_follow_redirects(http_server):
    target = http_server()
    server = http_server(status=302, reply=b"", location=target.url + "/elsewhere")
    with pytest.raises(NotificationError, match="HTTP 302"):
        post_json(server.url, {}, timeout=5)
    assert target.requests == []


def test_post_json_refused(refused_url):
    with pytest.raises(OSError):
        post_json(refused_url, {}, timeout=5)


def test_urls():
    assert check_http_url("https://example.com/x") == "https://example.com/x"
    for bad in ("file:///etc/passwd", "ftp://x/y", "example.com/hook", "http:///nohost"):
        with pytest.raises(ValueError, match="http:// or https://"):
            check_http_url(bad)
    assert redact_url("https://hooks.slack.com/services/T0/B0/secret") == "https://hooks.slack.com/..."
    assert redact_url("http://user:pw@127.0.0.1:8080/") == "http://127.0.0.1:8080"
    assert redact_url("http://[::1]:81/a?b") == "http://[::1]:81/..."


# --------------------------------------------------------------------------- in a flow run


def test_notifier_on_a_mapped_task_in_a_flow_run():
    failures = ListNotifier(only_states=[Failed])
    flow_events = ListNotifier(only_states=["Finished"])

    @task(state_handlers=[as_state_handler(failures)])
    def parse(x):
        if x == 2:
            raise ValueError("two")
        return x

    with Flow("etl", state_handlers=[as_state_handler(flow_events)]) as flow:
        parsed = parse.map([1, 2, 3])

    state = flow.run()
    assert state.is_failed()
    assert state.result[parsed].map_states[1].is_failed()
    [sent] = failures.events
    assert (sent.flow_name, sent.task_name, sent.task_full_name, sent.map_index) == ("etl", "parse", "parse[1]", 1)
    assert sent.flow_run_id and sent.state == "Failed" and sent.result == "ValueError('two')"
    assert sent.traceback.rstrip().endswith("ValueError: two")
    [final] = flow_events.events
    assert final.is_flow_event and final.flow_name == "etl" and final.state == "Failed"


def test_failing_and_hanging_notifiers_do_not_change_a_run(warnings_log):
    hanging = HangingNotifier(only_states=[Failed], timeout=0.2)

    @task(state_handlers=[as_state_handler(RaisingNotifier()), as_state_handler(hanging)])
    def work(x):
        if x < 0:
            raise ValueError(x)
        return x * 10

    with Flow("robust", state_handlers=[as_state_handler(RaisingNotifier())]) as flow:
        results = work.map([1, -1, 2, -2])

    try:
        state = flow.run()
    finally:
        hanging.release.set()
    children = state.result[results].map_states
    assert [type(s).__name__ for s in children] == ["Success", "Failed", "Success", "Failed"]
    assert [children[0].result, children[2].result] == [10, 20]
    assert state.is_failed() and state.message == "Some reference tasks failed."
    messages = warnings_log()
    assert any("timed out" in m and "'hanging'" in m for m in messages)
    assert any("ConnectionError: server down" in m for m in messages)
