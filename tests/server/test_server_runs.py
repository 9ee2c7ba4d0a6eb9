"""Runs through the API: created idempotently, listed with filters a page at a time,
their state set by compare-and-set, cancelled, their paused tasks approved."""

from __future__ import annotations

import threading
import uuid

import pytest

from ferroflow.store import control, queries
from tests.support.server_data import write_sample


def test_creating_a_run_makes_it_scheduled_and_registers_its_flow(api):
    made = api.post("/api/v1/runs", json={"flow_name": "etl", "parameters": {"n": 3}, "tags": ["nightly", "eu"],
                                          "scheduled_start": 1_900_000_000})
    assert made.status_code == 201
    run = made.json()
    assert made.headers["location"] == f"/api/v1/runs/{run['run_id']}"
    assert (run["state"], run["parameters"], run["tags"], run["started_at"], run["state_version"]) == (
        "Scheduled", {"n": 3}, ["nightly", "eu"], 1_900_000_000, 0)
    assert len(run["run_id"]) == 32
    assert api.get(f"/api/v1/runs/{run['run_id']}").json() == run
    assert [f["name"] for f in api.get("/api/v1/flows").json()["items"]] == ["etl"]


def test_a_run_shows_the_executor_it_ran_on(api, engine):
    """(schema 10) null until it starts, and for runs recorded before; as recorded after."""
    from ferroflow.store.sql import SQLRunStore

    made = api.post("/api/v1/runs", json={"flow_name": "etl"}).json()
    assert made["executor"] is None
    with SQLRunStore(engine) as store:
        store.start_run(made["run_id"], "etl", {}, [], executor="ferroflow-dask:dask(address='tcp://h:1', token=***)")
        store.start_run("e" * 32, "etl", {}, [])
    run = api.get(f"/api/v1/runs/{made['run_id']}").json()
    assert run["executor"] == "ferroflow-dask:dask(address='tcp://h:1', token=***)"
    listed = {r["run_id"]: r["executor"] for r in api.get("/api/v1/runs").json()["items"]}
    assert listed == {made["run_id"]: run["executor"], "e" * 32: None}
    schema = api.get("/api/v1/openapi.json").json()["components"]["schemas"]["RunOut"]["properties"]
    assert "executor" in schema


def test_a_run_shows_its_name(api, engine):
    """(schema 12) null until it starts, for a run without one and for runs recorded
    before; as recorded after, escaped and bounded."""
    from ferroflow.store.items import bound_run_name
    from ferroflow.store.sql import SQLRunStore

    made = api.post("/api/v1/runs", json={"flow_name": "etl"}).json()
    assert made["run_name"] is None
    hostile = "etl <b>\n" + "x" * 500
    with SQLRunStore(engine) as store:
        store.start_run(made["run_id"], "etl", {}, [], run_name="etl-2026-12-01")
        store.start_run("e" * 32, "etl", {}, [])
        store.start_run("f" * 32, "etl", {}, [], run_name=hostile)
    run = api.get(f"/api/v1/runs/{made['run_id']}").json()
    assert run["run_name"] == "etl-2026-12-01"
    listed = {r["run_id"]: r["run_name"] for r in api.get("/api/v1/runs").json()["items"]}
    assert listed == {made["run_id"]: "etl-2026-12-01", "e" * 32: None, "f" * 32: bound_run_name(hostile)}
    assert listed["f" * 32].startswith("etl <b>\\nxxx") and len(listed["f" * 32]) == 200
    schema = api.get("/api/v1/openapi.json").json()["components"]["schemas"]["RunOut"]["properties"]
    assert "run_name" in schema


def test_the_same_idempotency_key_returns_the_same_run(api):
    body = {"flow_name": "etl", "parameters": {"n": 1}, "idempotency_key": "deploy-42"}
    first = api.post("/api/v1/runs", json=body)
    again = api.post("/api/v1/runs", json=body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["run_id"] == again.json()["run_id"]
    other = api.post("/api/v1/runs", json={**body, "parameters": {"n": 2}})
    assert other.status_code == 409 and "deploy-42" in other.json()["detail"]
    assert len(api.get("/api/v1/runs").json()["items"]) == 1


def test_racing_creates_with_one_idempotency_key_make_one_run(engine):
    key = uuid.uuid4().hex
    results: list = []
    barrier = threading.Barrier(6)

    def create():
        barrier.wait()
        results.append(control.create_run(engine, "etl", {"n": 1}, (), key))

    threads = [threading.Thread(target=create) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len({run.run_id for run, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with engine.connect() as conn:
        assert len(queries.list_runs(conn).items) == 1


def _made(engine, n: int) -> list:
    """``n`` runs of two flows and three states, one second apart, newest last."""
    ids = []
    for i in range(n):
        ids.append(write_sample(engine, flow_name="etl" if i % 2 else "report",
                                state=("Success", "Failed", "Running")[i % 3], started_at=1_800_000_000.0 + i,
                                tags=("nightly",) if i % 4 == 0 else ("adhoc", "eu")).run_id)
    return ids


def _all_pages(api, **params) -> list:
    seen, cursor = [], None
    while True:
        page = api.get("/api/v1/runs", params={**params, **({"cursor": cursor} if cursor else {})}).json()
        seen.extend(r["run_id"] for r in page["items"])
        if page["next_cursor"] is None:
            return seen
        cursor = page["next_cursor"]


def test_runs_are_listed_newest_first_a_page_at_a_time_with_filters(api, engine):
    ids = _made(engine, 23)
    newest_first = ids[::-1]
    assert _all_pages(api, limit=5) == newest_first
    assert _all_pages(api, limit=4, flow="etl") == [r for i, r in enumerate(ids) if i % 2][::-1]
    assert _all_pages(api, limit=3, state="Failed") == [r for i, r in enumerate(ids) if i % 3 == 1][::-1]
    two = _all_pages(api, limit=3, state=["Failed", "Running"])  # one index scan per state, merged
    assert two == [r for i, r in enumerate(ids) if i % 3 in (1, 2)][::-1]
    assert _all_pages(api, limit=2, tag="nightly") == [r for i, r in enumerate(ids) if i % 4 == 0][::-1]
    assert _all_pages(api, limit=2, tag=["adhoc", "eu"], flow="etl") == [
        r for i, r in enumerate(ids) if i % 4 and i % 2][::-1]
    assert _all_pages(api, started_after=1_800_000_010, started_before=1_800_000_015) == ids[10:15][::-1]
    assert _all_pages(api, flow="nope") == []


def test_runs_sharing_a_start_time_are_all_listed_once(api, engine):
    ids = {write_sample(engine, started_at=1_800_000_000.0).run_id for _ in range(7)}
    assert sorted(_all_pages(api, limit=2)) == sorted(ids)


def test_an_abbreviated_run_id_is_found_by_its_prefix(api, engine):
    run_id = write_sample(engine, "abc00000000000000000000000000001").run_id
    write_sample(engine, "abc00000000000000000000000000002")
    write_sample(engine, "abd00000000000000000000000000003")
    write_sample(engine, "fff00000000000000000000000000004")
    assert sorted(r["run_id"] for r in api.get("/api/v1/runs", params={"id_prefix": "abc"}).json()["items"]) == [
        run_id, "abc00000000000000000000000000002"]
    assert [r["run_id"] for r in api.get("/api/v1/runs", params={"id_prefix": "ABC00000000000000000000000000001"})
            .json()["items"]] == [run_id]
    assert [r["run_id"] for r in api.get("/api/v1/runs", params={"id_prefix": "ff"}).json()["items"]] == [
        "fff00000000000000000000000000004"]


def test_setting_a_state_compares_and_sets_its_version(api, engine):
    run = api.post("/api/v1/runs", json={"flow_name": "etl"}).json()
    path = f"/api/v1/runs/{run['run_id']}/state"
    running = api.post(path, json={"state": "Running", "expected_version": 0}).json()
    assert (running["state"], running["state_version"], running["ended_at"]) == ("Running", 1, None)
    assert running["started_at"] >= run["started_at"]
    stale = api.post(path, json={"state": "Failed", "expected_version": 0})
    assert stale.status_code == 409
    assert (stale.json()["state"], stale.json()["state_version"]) == ("Running", 1)
    assert "expected_version=1" in stale.json()["detail"]
    done = api.post(path, json={"state": "Success", "message": "all good", "expected_version": 1}).json()
    assert (done["state"], done["message"], done["state_version"]) == ("Success", "all good", 2)
    assert done["ended_at"] is not None
    assert api.post(path, json={"state": "Sleeping"}).status_code == 422


@pytest.mark.parametrize("before, after", [("Scheduled", "Cancelled"), ("Pending", "Cancelled"),
                                           ("Running", "Cancelling"), ("Paused", "Cancelled"),
                                           ("Cancelling", "Cancelling")])
def test_cancelling_a_run(api, before, after):
    run = api.post("/api/v1/runs", json={"flow_name": "etl"}).json()
    if before != "Scheduled":
        api.post(f"/api/v1/runs/{run['run_id']}/state", json={"state": before})
    cancelled = api.post(f"/api/v1/runs/{run['run_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == after
    assert (cancelled.json()["ended_at"] is not None) == (after == "Cancelled")


@pytest.mark.parametrize("state", ["Success", "Failed", "Cancelled", "Crashed"])
def test_a_run_that_ended_cannot_be_cancelled(api, state):
    run = api.post("/api/v1/runs", json={"flow_name": "etl"}).json()
    api.post(f"/api/v1/runs/{run['run_id']}/state", json={"state": state})
    refused = api.post(f"/api/v1/runs/{run['run_id']}/cancel")
    assert refused.status_code == 409 and f"is {state}" in refused.json()["detail"]
    assert api.get(f"/api/v1/runs/{run['run_id']}").json()["state"] == state


def test_two_clients_setting_one_runs_state_at_once_one_wins_the_other_gets_409(server):
    """Against the real server: many rounds of two threads each sending the state
    change it wants with the version both saw; exactly one wins each round."""
    import httpx

    with httpx.Client(base_url=server.url, timeout=30) as client:
        run = client.post("/api/v1/runs", json={"flow_name": "race"}).json()
        path = f"/api/v1/runs/{run['run_id']}/state"
        for round_ in range(15):
            seen = client.get(f"/api/v1/runs/{run['run_id']}").json()["state_version"]
            barrier = threading.Barrier(2)
            answers: dict = {}

            def send(state: str, version: int = seen, barrier=barrier, answers=answers) -> None:
                with httpx.Client(base_url=server.url, timeout=30) as own:
                    barrier.wait()
                    answers[state] = own.post(path, json={"state": state, "expected_version": version})

            threads = [threading.Thread(target=send, args=(s,)) for s in ("Running", "Cancelling")]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            codes = sorted(a.status_code for a in answers.values())
            assert codes == [200, 409], (round_, {s: a.text for s, a in answers.items()})
            winner = next(s for s, a in answers.items() if a.status_code == 200)
            loser = answers["Running" if winner == "Cancelling" else "Cancelling"].json()
            now = client.get(f"/api/v1/runs/{run['run_id']}").json()
            assert (now["state"], now["state_version"]) == (winner, seen + 1)
            assert (loser["state"], loser["state_version"]) == (winner, seen + 1)


def test_approving_a_paused_task_marks_it_for_the_resume(api, engine, sample_run):
    path = f"/api/v1/runs/{sample_run.run_id}/approvals"
    answer = api.post(path, json={"task": "deploy"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["task"]["name"] == "deploy" and body["task"]["approved"] is True
    assert body["approved"] == ["deploy"]
    assert f"--resume {sample_run.run_id}" in body["next_step"]
    # A task that waited behind the pause (never ran), and a mapped task some of whose children paused:
    assert api.post(path, json={"task": "announce"}).json()["approved"] == ["deploy", "announce"]
    assert api.post(path, json={"task": "work"}).json()["approved"] == ["work", "deploy", "announce"]
    assert api.post(path, json={"task": "deploy"}).status_code == 200  # again: nothing changes
    refused = api.post(path, json={"task": "extract"})  # it succeeded: nothing to approve
    assert refused.status_code == 409 and "not a task that paused or waited" in refused.json()["detail"]
    assert api.post(path, json={"task": "nope"}).status_code == 404
    # What the resume reads (run_tasks.approved, as flow.run(resume=..., approve=...) writes it):
    with engine.connect() as conn:
        tasks = queries.run_tasks(conn, sample_run.run_id)
    assert {t.name: t.approved for t in tasks} == {"extract": False, "work": True, "deploy": True, "announce": True}


def test_a_running_run_cannot_have_its_tasks_approved(api, engine):
    run_id = write_sample(engine, state="Running").run_id
    refused = api.post(f"/api/v1/runs/{run_id}/approvals", json={"task": "deploy"})
    assert refused.status_code == 409 and "once it has paused" in refused.json()["detail"]


def test_racing_approvals_of_one_run_are_all_kept(engine, sample_run):
    barrier = threading.Barrier(3)

    def approve(task):
        barrier.wait()
        control.approve_task(engine, sample_run.run_id, task)

    threads = [threading.Thread(target=approve, args=(t,)) for t in ("work", "deploy", "announce")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    with engine.connect() as conn:
        assert [t.name for t in queries.run_tasks(conn, sample_run.run_id) if t.approved] == [
            "work", "deploy", "announce"]
