"""A run's tasks, a task's children (paged, by state, plain successes included), its
failed children with tracebacks, one child, and the logs query."""

from __future__ import annotations

import random
import uuid

import pytest

from ferroflow import _core
from ferroflow.state_codes import NAMES
from ferroflow.testing.records import NOT_REPORTED, TaskRecord, write_run


def test_a_runs_tasks_one_row_each_with_children_counted_by_state(api, sample_run):
    tasks = api.get(f"/api/v1/runs/{sample_run.run_id}/tasks").json()
    assert [t["name"] for t in tasks] == ["extract", "work", "deploy", "announce"]
    extract, work, deploy, announce = tasks
    assert (extract["state"], extract["run_count"], extract["message"]) == ("Success", 1, "Task run succeeded.")
    children = sample_run.children
    assert work["counts"] == {NAMES[c]: children.count(c) for c in set(children) - {NOT_REPORTED}}
    assert (work["state"], work["is_mapped"], work["width"]) == ("Mapped", True, 60)
    assert work["failed_count"] == children.count(_core.FAILED) == 9
    assert (deploy["state"], deploy["message"]) == ("Paused", "deploy to production?")
    assert (announce["state"], announce["counts"]) == (None, {})


def _pages(api, path, **params) -> list:
    items, cursor = [], None
    while True:
        page = api.get(path, params={**params, **({"cursor": cursor} if cursor else {})}).json()
        assert len(page["items"]) <= params.get("limit", 50)
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        cursor = page["next_cursor"]


@pytest.mark.parametrize("limit", [1, 4, 50])
def test_a_tasks_children_paged_by_state_plain_successes_included(api, sample_run, limit):
    path = f"/api/v1/runs/{sample_run.run_id}/tasks/work/children"
    codes = sample_run.children
    everything = _pages(api, path, limit=limit)
    assert [c["map_index"] for c in everything] == [i for i, c in enumerate(codes) if c != NOT_REPORTED]
    assert [c["state"] for c in everything] == [NAMES[c] for c in codes if c != NOT_REPORTED]
    successes = _pages(api, path, limit=limit, state="Success")
    assert [c["map_index"] for c in successes] == [i for i, c in enumerate(codes) if c == _core.SUCCESS]
    kept = next(c for c in successes if c["map_index"] == 5)
    assert (kept["message"], kept["result_location"]) == ("kept", "file:///results/5")
    plain = next(c for c in successes if c["map_index"] == 1)
    assert (plain["run_count"], plain["message"]) == (None, None)
    failed_or_paused = _pages(api, path, limit=limit, state=["Failed", "Paused"])
    assert [c["map_index"] for c in failed_or_paused] == [
        i for i, c in enumerate(codes) if c in (_core.FAILED, _core.PAUSED)]
    assert _pages(api, path, limit=limit, state="Skipped") == []


def test_failed_children_come_with_message_and_traceback(api, sample_run):
    failed = _pages(api, f"/api/v1/runs/{sample_run.run_id}/tasks/work/failed", limit=4)
    assert [c["map_index"] for c in failed] == list(range(0, 60, 7))
    assert failed[1]["message"] == "Error during execution of task: ValueError(7)"
    assert failed[1]["traceback"].endswith("ValueError: 7\n")
    one = api.get(f"/api/v1/runs/{sample_run.run_id}/tasks/work/children/14").json()
    assert (one["state"], one["traceback"].splitlines()[0]) == ("Failed", "Traceback (most recent call last):")
    plain = api.get(f"/api/v1/runs/{sample_run.run_id}/tasks/work/children/2").json()
    assert (plain["state"], plain["run_count"]) == ("Success", None)
    own = api.get(f"/api/v1/runs/{sample_run.run_id}/tasks/deploy/children/-1").json()
    assert (own["state"], own["message"]) == ("Paused", "deploy to production?")


def test_children_paging_matches_every_childs_code_on_random_layouts(api, engine):
    """Random codes (most plain successes, some rows of every kind, gaps never reported)
    over several span layouts: every state's pages give exactly its indices, in order."""
    rng = random.Random(7)
    pool = [_core.SUCCESS] * 12 + [_core.FAILED, _core.SKIPPED, _core.RETRYING, _core.CACHED, _core.TIMED_OUT]
    for trial in range(4):
        codes = bytearray(rng.choice(pool) for _ in range(700))
        for start in rng.sample(range(700), 5):
            codes[start:start + rng.randint(1, 40)] = bytes([NOT_REPORTED]) * len(codes[start:start + 40])
        codes = bytes(codes[:700])
        details = {i: ("with a message", None, 2, None)
                   for i in rng.sample(range(700), 30) if codes[i] == _core.SUCCESS}
        run_id = uuid.uuid4().hex
        with engine.begin() as conn:
            write_run(conn, run_id, "random", tasks=[TaskRecord(0, "m", "m", mapped=True, code=_core.MAPPED,
                                                                children=codes, details=details,
                                                                span=rng.choice([1, 13, 64, 1000]))])
        path = f"/api/v1/runs/{run_id}/tasks/m/children"
        limit = rng.choice([1, 7, 50])
        for state in sorted({NAMES[c] for c in codes if c != NOT_REPORTED}):
            got = [c["map_index"] for c in _pages(api, path, limit=limit, state=state)]
            assert got == [i for i, c in enumerate(codes) if c != NOT_REPORTED and NAMES[c] == state], (trial, state)
        assert [c["map_index"] for c in _pages(api, path, limit=limit)] == [
            i for i, c in enumerate(codes) if c != NOT_REPORTED]
        with_message = [c for c in _pages(api, path, limit=limit, state="Success") if c["message"]]
        assert sorted(c["map_index"] for c in with_message) == sorted(details)


def _messages(api, run_id, **params) -> list:
    return [line["message"] for line in _pages(api, f"/api/v1/runs/{run_id}/logs", **params)]


def test_the_logs_query_by_task_child_level_and_text(api, sample_run):
    run_id = sample_run.run_id
    assert len(_messages(api, run_id, limit=2)) == sample_run.log_count
    assert _messages(api, run_id, task="work") == ["child 3 says 50% done_now", "child 7 failed: ValueError",
                                                   "work is slow"]
    assert _messages(api, run_id, task="work", map_index=7) == ["child 7 failed: ValueError"]
    assert _messages(api, run_id, task="work", map_index=-1) == ["work is slow"]
    assert _messages(api, run_id, min_level="WARNING") == ["child 7 failed: ValueError", "work is slow"]
    assert _messages(api, run_id, min_level="40") == ["child 7 failed: ValueError"]
    assert _messages(api, run_id, text="VALUEERROR") == ["child 7 failed: ValueError"]  # ignoring case
    assert _messages(api, run_id, text="50%") == ["child 3 says 50% done_now"]  # % is itself
    assert _messages(api, run_id, text="%") == ["child 3 says 50% done_now"]
    assert _messages(api, run_id, text="e_n") == ["child 3 says 50% done_now"]  # _ is itself
    assert _messages(api, run_id, text="<b>") == ["deploy <b>paused</b>"]
    line = _pages(api, f"/api/v1/runs/{run_id}/logs", task="work", map_index=7)[0]
    assert (line["task_id"], line["task_name"], line["map_index"], line["levelname"]) == (1, "work", 7, "ERROR")
    flow_line = _pages(api, f"/api/v1/runs/{run_id}/logs")[0]
    assert (flow_line["task_id"], flow_line["task_name"], flow_line["map_index"]) == (None, None, None)
    assert api.get(f"/api/v1/runs/{run_id}/logs", params={"task": "nope"}).status_code == 404


def test_a_task_named_like_another_is_named_by_its_slug(api, engine):
    run_id = uuid.uuid4().hex
    with engine.begin() as conn:
        write_run(conn, run_id, "twins", tasks=[
            TaskRecord(0, "add", "add-1", mapped=True, code=_core.MAPPED, children=bytes([_core.FAILED])),
            TaskRecord(1, "add", "add-2", mapped=True, code=_core.MAPPED, children=bytes([_core.SUCCESS]))])
    ambiguous = api.get(f"/api/v1/runs/{run_id}/tasks/add/children")
    assert ambiguous.status_code == 404 and "'add-1', 'add-2'" in ambiguous.json()["detail"]
    assert [c["state"] for c in api.get(f"/api/v1/runs/{run_id}/tasks/add-2/children").json()["items"]] == [
        "Success"]
