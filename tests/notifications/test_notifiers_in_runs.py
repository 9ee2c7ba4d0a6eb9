"""Notifiers in flow runs on the built-in executors: a notifier pickles with its state
handler and notifies from worker processes, and a server that accepts connections and
never answers costs a bounded number of them (a real silent TCP server on 127.0.0.1
counts them) instead of one timeout per notification."""

from __future__ import annotations

import os
import pickle

import cloudpickle
import pytest

from ferroflow import Flow, task
from ferroflow.executors import LocalExecutor, ProcessesExecutor, ThreadsExecutor
from ferroflow.notifications import (
    NotificationEvent,
    NotifyHandler,
    as_state_handler,
)
from ferroflow.states import Failed, Running
from tests.support.notifiers import PostNotifier

#: How warnings name this process.
HERE = f"this process (pid {os.getpid()})"


@task
def parse(x):
    if x % 2:
        raise ValueError(f"odd {x}")
    return x


@task
def always_fails(x):
    raise ValueError(f"bad item {x}")


def failed_event(task_name="load") -> NotificationEvent:
    return NotificationEvent.from_state(Failed("boom"), previous_state=Running(), flow_name="etl",
                                        task_name=task_name)


# --------------------------------------------------------------------------- pickling


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_a_notifier_and_its_state_handler_pickle(dumps, http_server):
    server = http_server()
    handler = as_state_handler(PostNotifier(server.url + "/hook", only_states=["Failed"], timeout=5))
    copy = pickle.loads(dumps(handler))
    assert isinstance(copy, NotifyHandler) and copy.__name__ == "notify_post"
    assert copy.notifier is not handler.notifier and copy.notifier.url == server.url + "/hook"
    assert copy.notifier.only_states == (Failed,) and copy.notifier.timeout == 5.0

    state = Failed("boom")
    assert copy(parse, Running(), state) is state
    [request] = server.requests
    assert request.json()["task_full_name"] == "parse" and request.json()["state"] == "Failed"


def test_copies_in_one_process_share_whether_the_notifier_is_slow(silent_server):
    server = silent_server()
    notifier = PostNotifier(server.url, timeout=0.3)
    assert notifier.notify(failed_event()) is False  # no answer: marked slow
    assert server.connections == 1
    for copy in (pickle.loads(pickle.dumps(notifier)), cloudpickle.loads(cloudpickle.dumps(notifier))):
        assert copy.notify(failed_event()) is False
    assert server.connections == 1  # the copies knew: nothing was sent


def test_the_handler_repr_names_no_secret():
    handler = as_state_handler(PostNotifier("https://hooks.example.com/services/T0/B0/s3cret"))
    assert "s3cret" not in repr(handler)
    assert repr(handler) == "<state handler notify_post of <'post' (PostNotifier to https://hooks.example.com/...)>>"


def test_a_task_notifier_sends_from_a_worker_process(http_server):
    server = http_server()
    notifier = PostNotifier(server.url + "/hook", only_states=[Failed], timeout=5)
    notified = parse.copy(state_handlers=[as_state_handler(notifier)])
    with Flow("in-workers") as flow:
        parsed = notified.map([0, 1, 2, 3])

    state = flow.run(executor=ProcessesExecutor(max_workers=2))
    children = state.result[parsed].map_states
    assert [type(s).__name__ for s in children] == ["Success", "Failed", "Success", "Failed"]
    assert children[1].message.endswith("ValueError('odd 1')")  # its own error, not pickling's
    sent = sorted((r.json() for r in server.requests), key=lambda body: body["map_index"])
    assert [body["task_full_name"] for body in sent] == ["parse[1]", "parse[3]"]
    assert all(body["flow_run_id"] == state.flow_run_id for body in sent)
    assert {body["pid"] for body in sent}.isdisjoint({os.getpid()})  # sent by the workers


# --------------------------------------------------------------------------- a silent server


@pytest.mark.parametrize("executor, processes_or_threads", [
    (LocalExecutor, 1),
    (lambda: ThreadsExecutor(max_workers=4), 4),
    (lambda: ProcessesExecutor(max_workers=2), 2),
], ids=["local", "threads", "processes"])
def test_a_silent_server_is_found_slow_once_per_thread_or_process(
        executor, processes_or_threads, silent_server, warnings_log):
    server = silent_server()
    notifier = PostNotifier(server.url + "/hook", only_states=[Failed], timeout=0.5)
    notified = always_fails.copy(state_handlers=[as_state_handler(notifier)])
    with Flow("silent", state_handlers=[as_state_handler(notifier)]) as flow:
        failed = notified.map(list(range(20)))

    state = flow.run(executor=executor())
    children = state.result[failed].map_states
    assert len(children) == 20
    assert all(s.is_failed() and "bad item" in s.message for s in children)  # unchanged by notifying
    # Each process finds the server slow once, with at most one send per thread notifying
    # at that moment; then the 20 failures are skipped. The end of the run is tried once more.
    assert 2 <= server.connections <= processes_or_threads + 1
    # Every process that notified said so once, worker processes too (their records
    # are handled again in the flow process).
    marked = [m for m in warnings_log() if "notification of task" in m and "skipped in this process" in m]
    assert 1 <= len(marked) <= processes_or_threads
    assert "'post' (PostNotifier to http://127.0.0.1:" in marked[0] and "/hook" not in marked[0]
    [end] = [m for m in warnings_log() if "notification of flow 'silent'" in m]
    assert "timed out after 0.5 s" in end


def test_on_one_thread_a_silent_server_costs_exactly_one_timeout_and_the_end_of_the_run(
        silent_server, warnings_log):
    server = silent_server()
    notifier = PostNotifier(server.url, only_states=[Failed], timeout=0.5)
    notified = always_fails.copy(state_handlers=[as_state_handler(notifier)])
    with Flow("silent", state_handlers=[as_state_handler(notifier)]) as flow:
        notified.map(list(range(20)))

    assert flow.run().is_failed()
    assert server.connections == 2
    messages = warnings_log()
    assert len(messages) == 2
    assert "Failed notification of task 'always_fails[0]'" in messages[0]
    assert f"timed out after 0.5 s; its notifications are skipped in {HERE} for 60 s" in messages[0]
    assert "Failed notification of flow 'silent'" in messages[1]
    assert f"19 notification(s) skipped in {HERE} so far" in messages[1]
