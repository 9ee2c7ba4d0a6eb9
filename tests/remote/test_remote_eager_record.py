"""Eager flows' run record through a real server (issue 14): tasks added to a running
run and subflow runs travel as records (``tasks``, a start's ``parent_run_id``), arrive
as the embedded store records them, and read back through the API, the remote store
and ``ferroflow runs show --server``. Hostile ``tasks`` records are refused by name; a
refusal by a server that predates them says the server is too old. SQLite and
PostgreSQL."""

from __future__ import annotations

import json

import httpx
import pytest

from ferroflow import cli
from ferroflow.store import StateStoreError
from ferroflow.store.remote import RemoteRunStore, _older_server
from ferroflow.store.sql import SQLRunStore
from tests.remote.test_remote_recording import _hostile, _post_and_check
from tests.store.test_store_added_tasks import FIRST, NONE, SECOND, read_back, record_the_work

PARENT, CHILD = "a1" * 16, "c1" * 16


def record_eager_runs(store) -> None:
    store.start_run(PARENT, "outer", {"n": 2}, NONE, 1.0)
    store.add_tasks(PARENT, FIRST)
    store.add_tasks(PARENT, SECOND)
    record_the_work(store, PARENT)
    store.start_run(CHILD, "inner", {}, NONE, 1.5, parent_run_id=PARENT)
    store.add_tasks(CHILD, [(0, "leaf", None, False)])
    store.record_report(CHILD, [(0, None, 0)], plain=True)
    store.end_run(CHILD, "Success", None, 1.7)
    store.end_run(PARENT, "Failed", "Some reference tasks failed.", 2.0)


def test_added_tasks_and_subflow_runs_arrive_as_the_embedded_store_records_them(server, database_url, tmp_path,
                                                                                 monkeypatch, capsys):
    remote = RemoteRunStore(server.url)
    try:
        record_eager_runs(remote)
        remote.flush()
        through_api = read_back(remote, PARENT)  # (the remote store reads through the API)
        assert [r.run_id for r in remote.child_runs(PARENT)] == [CHILD]
        assert remote.get_run(CHILD).parent_run_id == PARENT
    finally:
        remote.close()
    with SQLRunStore(f"sqlite:///{tmp_path / 'local.db'}") as local:
        record_eager_runs(local)
        expected = read_back(local, PARENT)
        assert [(r.run_id, r.parent_run_id) for r in local.child_runs(PARENT)] == [(CHILD, PARENT)]
    with SQLRunStore(database_url) as served:
        assert read_back(served, PARENT) == expected
        assert [(r.run_id, r.parent_run_id) for r in served.child_runs(PARENT)] == [(CHILD, PARENT)]
    # The API's TaskOut has no tracebacks and pages failed children: compare what it has.
    assert [(t.task_id, t.name, t.slug, t.is_mapped, t.state, t.counts, t.width)
            for t in through_api["tasks"]] == [(t.task_id, t.name, t.slug, t.is_mapped, t.state, t.counts, t.width)
                                               for t in expected["tasks"]]
    assert through_api["logs"] == expected["logs"]
    assert {k: (c.code, c.message) if c else None for k, c in through_api["children"].items()} == {
        k: (c.code, c.message) if c else None for k, c in expected["children"].items()}

    tasks = httpx.get(f"{server.url}/api/v1/runs/{PARENT}/tasks", timeout=30).json()
    assert [(t["task_id"], t["name"], t["state"]) for t in tasks] == [(0, "load", "Failed"), (1, "check", "Success"),
                                                                       (2, "save", "Success")]
    run = httpx.get(f"{server.url}/api/v1/runs/{CHILD}", timeout=30).json()
    assert run["parent_run_id"] == PARENT
    listed = httpx.get(f"{server.url}/api/v1/runs", params={"parent_run_id": PARENT}, timeout=30).json()
    assert [r["run_id"] for r in listed["items"]] == [CHILD]
    assert httpx.get(f"{server.url}/api/v1/runs", params={"parent_run_id": "x"}, timeout=30).status_code == 422

    assert cli.main(["runs", "show", PARENT, "--server", server.url]) == 0
    shown = capsys.readouterr().out
    assert [line.split()[0] for line in shown.split("\n\n")[1].splitlines()[1:]] == ["load", "check", "save"]
    assert "Subflow runs:\nRUN ID" in shown and f"{CHILD}  inner  Success" in shown
    assert cli.main(["runs", "show", CHILD, "--server", server.url]) == 0
    assert f"Parent      {PARENT}" in capsys.readouterr().out


_COLUMNS = {"$t": ["[0]", "[\"a\"]", "[null]", {"$b": "AA=="}, {"$b": "AA=="}, None]}


@pytest.mark.parametrize("item, words", [
    (["tasks", "ab" * 16, _COLUMNS, 10 ** 12], "the last one more than the highest task id (at most 10,000,000)"),
    (["tasks", "ab" * 16, _COLUMNS], "4 fields"),
    (["tasks", "ab" * 16, {"$t": ["[5]", "[\"a\"]", "[null]", {"$b": "AA=="}, {"$b": "AA=="}, None]}, 1],
     "task ids below the record's count"),
    (["tasks", "ab" * 16, {"$t": ["[0]", json.dumps(["n" * 1001]), "[null]", {"$b": "AA=="}, {"$b": "AA=="}, None]},
      1], "task names and slugs of at most 1,000 characters"),
    (["tasks", "ab" * 16, {"$t": ["[0, 0]", "[\"a\", \"b\"]", "[null, null]", {"$b": "AAA="}, {"$b": "AAA="}, None]},
      1], "a task id is given twice"),
    (["tasks", "ab" * 16, {"$t": ["[-1]", "[\"a\"]", "[null]", {"$b": "AA=="}, {"$b": "AA=="}, None]}, 1],
     "non-negative ints"),
    (["tasks", "ab" * 16, "not columns", 1], "a task list: a task list is 5 or 6 columns"),
    (["start", "ab" * 16, "f", "{}", [], {"$t": ["[]", "[]", "[]", {"$b": ""}, {"$b": ""}, None]}, 0, 1.0, None,
      "h", 1, "t", None, "not a run id"], "the parent run is null or a run id"),
    (["start", "ab" * 16, "f", "{}", [], {"$t": ["[]", "[]", "[]", {"$b": ""}, {"$b": ""}, None]}, 0, 1.0, None,
      "h", 1, "t", None, "cd" * 16, "name", "more"], "the 14th of at most 15 fields"),
    (["start", "ab" * 16, "f", "{}", [], {"$t": ["[]", "[]", "[]", {"$b": ""}, {"$b": ""}, None]}, 0, 1.0, None,
      "h", 1, "t", None, None, "n" * 1001], "the run's name is null or a string of at most 1,000 characters"),
    (["start", "ab" * 16, "f", "{}", [], {"$t": ["[]", "[]", "[]", {"$b": ""}, {"$b": ""}, None]}, 0, 1.0, None,
      "h", 1, "t", None, None, ["not", "text"]], "the run's name is null or a string"),
])
def test_hostile_records_of_eager_runs_are_refused_by_name(server, item, words):
    _post_and_check(server, _hostile("ab" * 16, item), 422, words)


def test_records_for_added_tasks_need_the_runs_lease(server, database_url):
    body = json.dumps({"batch_id": "abcdef1234", "tokens": {}, "items": [
        {"$t": ["tasks", "ab" * 16, _COLUMNS, 1]}]}).encode()
    _post_and_check(server, body, 422, "without its lease token")


def test_a_server_that_does_not_know_a_record_kind_says_so_and_the_client_says_why(server):
    """Today's server names the kinds it knows; a client refused by one that does not
    know ``tasks`` (older than schema 11) adds that the server is too old."""
    answer = httpx.post(server.url + "/api/v1/records", timeout=30, headers={"Content-Type": "application/json"},
                        content=json.dumps({"batch_id": "abcdef12", "tokens": {},
                                            "items": [{"$t": ["future-kind", "ab" * 16]}]}).encode())
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert "not a record" in detail and "'tasks'" in detail
    assert _older_server(422, detail) == ""  # (this server knows tasks: no hint)
    older = detail.replace("'tasks', ", "")  # what a server of schema 10 answers
    assert "upgrade the server" in _older_server(422, older)
    assert "upgrade the server" in _older_server(
        422, "a record of the batch is malformed: TypeError: Transaction._start() takes from 12 to 13 positional "
             "arguments but 14 were given")
    assert _older_server(422, "items[0] (report): task ids below 10,000,000") == ""
    # (what a server of schema 11 answers to a named run's start, its 15 fields)
    assert "upgrade the server" in _older_server(
        422, "items[0] (start): the parent run is null or a run id (32 hex digits), the last of 14 fields")
    assert _older_server(422, "items[0] (start): the run's name is null or a string of at most 1,000 "
                              "characters") == ""


def test_a_refused_batch_of_added_tasks_is_raised_by_the_next_call(server):
    remote = RemoteRunStore(server.url)
    try:
        remote.start_run(PARENT, "outer", {}, NONE, 1.0)
        remote.add_tasks(PARENT, [(0, "a" * 2000, None, False)])  # (a name past the server's bound)
        with pytest.raises(StateStoreError, match="refused.*task names and slugs of at most 1,000 characters"):
            remote.flush()
        remote.end_run(PARENT, "Success")
        remote.flush()
        assert remote.task_states(PARENT) == []
    finally:
        remote.close()


def test_a_runs_name_travels_through_the_server(server, database_url, monkeypatch, capsys):
    """(schema 12) An eager recorder's ``run_name`` goes with the run's start to the
    server's database, and reads back through the remote store, the API and ``ferroflow
    runs --server``; a run without one has none."""
    from ferroflow.eager.record import EagerRecorder

    remote = RemoteRunStore(server.url)
    try:
        EagerRecorder(remote, PARENT, ledger=None).start("etl", {"day": "2026-12-01"}, run_name="etl-2026-12-01")
        remote.start_run(CHILD, "inner", {}, NONE, 2.0, parent_run_id=PARENT, run_name="inner <b>\x1b[2J")
        remote.start_run("d1" * 16, "plain", {}, NONE, 3.0)
        for run_id in (PARENT, CHILD, "d1" * 16):
            remote.end_run(run_id, "Success")
        remote.flush()
        assert remote.get_run(PARENT).run_name == "etl-2026-12-01"
        assert [(r.run_id, r.run_name) for r in remote.child_runs(PARENT)] == [(CHILD, "inner <b>\\x1b[2J")]
    finally:
        remote.close()
    with SQLRunStore(database_url) as served:
        assert {r.run_id: r.run_name for r in served.list_runs()} == {
            PARENT: "etl-2026-12-01", CHILD: "inner <b>\\x1b[2J", "d1" * 16: None}
    run = httpx.get(f"{server.url}/api/v1/runs/{PARENT}", timeout=30).json()
    assert run["run_name"] == "etl-2026-12-01" and run["parameters"] == {"day": "2026-12-01"}
    assert cli.main(["runs", "show", PARENT, "--server", server.url]) == 0
    assert "\nName        etl-2026-12-01\n" in capsys.readouterr().out
    assert cli.main(["runs", "--server", server.url]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].split() == ["RUN", "ID", "NAME", "FLOW", "STATE", "STARTED", "DURATION"]
    assert [line.split()[:2] for line in listed[1:]] == [[PARENT, "etl-2026-12-01"], ["d1" * 16, "-"],
                                                         [CHILD, "inner"]]  # (newest first; PARENT began now)
    assert "\x1b" not in "\n".join(listed)
