"""Bad input gets a problem a person can act on, never a 500, and changes nothing:
malformed JSON, wrong types, unknown fields, oversized bodies, names with SQL
metacharacters or HTML (kept verbatim), unknown ids, cursors from elsewhere."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from ferroflow.store.schema import runs
from tests.support.server_data import client_of

PROBLEM = "application/problem+json"


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail"} and body["status"] == status
    assert body["type"].startswith("urn:ferroflow:problem:")
    return body


def run_count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(runs)).scalar_one()


def test_malformed_json_is_a_400_saying_so(api, engine):
    cut = api.post("/api/v1/runs", content=b'{"flow_name": "etl",', headers={"content-type": "application/json"})
    body = problem(cut, 400)
    assert body["detail"].startswith("the request body is not valid JSON")
    assert run_count(engine) == 0


@pytest.mark.parametrize("payload, field", [
    ({"flow_name": 3}, "body.flow_name"),
    ({"flow_name": "etl", "tags": "nightly"}, "body.tags"),
    ({"flow_name": "etl", "parameters": [1, 2]}, "body.parameters"),
    ({"flow_name": "etl", "scheduled_start": "soon"}, "body.scheduled_start"),
    ({"flow_name": ""}, "body.flow_name"),
    ({"flow_name": "x" * 201}, "body.flow_name"),
    ({"flow_name": "etl", "tags": ["t"] * 51}, "body.tags"),
    ({"flow_name": "nul\u0000byte"}, "body.flow_name"),
    ({}, "body.flow_name"),
])
def test_wrong_types_and_values_are_a_422_naming_the_field(api, engine, payload, field):
    body = problem(api.post("/api/v1/runs", json=payload), 422)
    assert field in body["detail"] and field in [e["field"] for e in body["errors"]]
    assert run_count(engine) == 0


def test_an_unknown_field_is_a_422_naming_it(api, engine):
    body = problem(api.post("/api/v1/runs", json={"flow_name": "etl", "paramters": {"n": 1}}), 422)
    assert body["errors"] == [{"field": "body.paramters", "message": body["errors"][0]["message"]}]
    assert "unknown field" in body["detail"]
    assert run_count(engine) == 0


def test_an_unknown_query_parameter_is_a_422_naming_it(api):
    body = problem(api.get("/api/v1/runs", params={"flwo": "etl"}), 422)
    assert "query.flwo" in body["detail"]


@pytest.mark.parametrize("params, field", [
    ({"limit": 0}, "query.limit"), ({"limit": 501}, "query.limit"), ({"limit": "ten"}, "query.limit"),
    ({"state": "Sleeping"}, "query.state.0"), ({"started_after": "yesterday"}, "query.started_after"),
    ({"id_prefix": "xyz"}, "query.id_prefix"), ({"cursor": "a b"}, "query.cursor"),
])
def test_bad_query_values_are_a_422_naming_the_parameter(api, params, field):
    body = problem(api.get("/api/v1/runs", params=params), 422)
    assert field in [e["field"] for e in body["errors"]], body


def test_a_body_that_is_not_json_is_a_415(api, engine):
    body = problem(api.post("/api/v1/runs", content=b"flow_name=etl",
                            headers={"content-type": "application/x-www-form-urlencoded"}), 415)
    assert "Content-Type: application/json" in body["detail"]
    assert run_count(engine) == 0


def test_a_body_over_the_limit_is_a_413_naming_the_limit(engine):
    with client_of(engine, auth=False, max_body_bytes=4096) as client:
        big = {"flow_name": "etl", "parameters": {"blob": "x" * 5000}}
        body = problem(client.post("/api/v1/runs", json=big), 413)  # Content-Length says so
        assert "4 KiB (4,096 bytes)" in body["detail"] and body["limit"] == 4096

        def chunks():  # no Content-Length: counted while it arrives
            yield b'{"flow_name": "etl", "parameters": {"blob": "'
            for _ in range(10):
                yield b"x" * 1000
            yield b'"}}'

        streamed = client.post("/api/v1/runs", content=chunks(), headers={"content-type": "application/json"})
        assert "content-length" not in {k.lower() for k in streamed.request.headers}
        assert problem(streamed, 413)["limit"] == 4096
        small = client.post("/api/v1/runs", json={"flow_name": "etl"})
        assert small.status_code == 201
    assert run_count(engine) == 1


def test_a_content_length_that_lies_is_caught_by_counting(engine):
    """A client that declares a small body and sends a large one is counted, not trusted."""
    import asyncio

    from ferroflow.server.app import create_app

    app = create_app(engine, auth=False, max_body_bytes=1000)
    sent: list = []

    async def call():
        body = [b'{"flow_name": "' + b"x" * 600, b"y" * 600 + b'"}']

        async def receive():
            chunk = body.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(body)}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/api/v1/runs", "raw_path": b"/api/v1/runs",
                 "query_string": b"", "root_path": "", "scheme": "http", "server": ("test", 80),
                 "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
                 "http_version": "1.1", "client": ("127.0.0.1", 1)}
        await app(scope, receive, send)

    asyncio.run(call())
    assert sent[0]["status"] == 413
    assert run_count(engine) == 0


NASTY = [
    "etl'; DROP TABLE runs; --",
    'etl" OR 1=1 --',
    "<script>alert('x')</script>",
    "%_\\ wildcards",
    "ünïcødé ✓ 流れ",
]


@pytest.mark.parametrize("name", NASTY)
def test_names_with_sql_metacharacters_or_html_are_stored_and_returned_verbatim(api, engine, name):
    made = api.post("/api/v1/runs", json={"flow_name": name, "tags": [name], "parameters": {name: name}})
    assert made.status_code == 201, made.text
    run = made.json()
    assert (run["flow_name"], run["tags"], run["parameters"]) == (name, [name], {name: name})
    assert api.get(f"/api/v1/runs/{run['run_id']}").json()["flow_name"] == name
    listed = api.get("/api/v1/runs", params={"flow": name}).json()["items"]
    assert [r["run_id"] for r in listed] == [run["run_id"]]
    assert [r["run_id"] for r in api.get("/api/v1/runs", params={"tag": name}).json()["items"]] == [run["run_id"]]
    from urllib.parse import quote

    assert api.get(f"/api/v1/flows/{quote(name, safe='')}").json()["name"] == name
    assert api.get("/api/v1/runs", params={"flow": "etl"}).json()["items"] == []  # a wildcard matched nothing else
    assert run_count(engine) == 1  # the table is still there
    assert json.dumps(name, ensure_ascii=False) in api.get(f"/api/v1/runs/{run['run_id']}").text  # no HTML escaping


def test_unknown_ids_are_a_404_naming_them(api, sample_run):
    missing = "0123456789abcdef0123456789abcdef"
    for path in (f"/api/v1/runs/{missing}", f"/api/v1/runs/{missing}/tasks", f"/api/v1/runs/{missing}/logs",
                 f"/api/v1/runs/{missing}/tasks/work/children"):
        assert missing in problem(api.get(path), 404)["detail"]
    for path, body in ((f"/api/v1/runs/{missing}/state", {"state": "Failed"}),
                       (f"/api/v1/runs/{missing}/cancel", None),
                       (f"/api/v1/runs/{missing}/approvals", {"task": "deploy"})):
        assert missing in problem(api.post(path, json=body), 404)["detail"]
    unknown_task = problem(api.get(f"/api/v1/runs/{sample_run.run_id}/tasks/nope/children"), 404)
    assert "no task named 'nope'" in unknown_task["detail"] and "'work'" in unknown_task["detail"]
    assert "no flow named" in problem(api.get("/api/v1/flows/nope"), 404)["detail"]
    assert "no API key" in problem(api.delete("/api/v1/keys/999"), 404)["detail"]
    assert "never reported" in problem(api.get(f"/api/v1/runs/{sample_run.run_id}/tasks/work/children/11"),
                                       404)["detail"]
    assert "/api/v1/docs" in problem(api.get("/api/v1/nothing"), 404)["detail"]
    assert "not allowed" in problem(api.delete(f"/api/v1/runs/{sample_run.run_id}"), 405)["detail"]


def test_a_nul_character_anywhere_is_a_422_not_a_database_error(api, sample_run):
    for path in ("/api/v1/flows/a%00b", f"/api/v1/runs/{sample_run.run_id}/tasks/wo%00rk/children"):
        assert "path." in problem(api.get(path), 422)["errors"][0]["field"]
    for params in ({"flow": "a\x00b"}, {"tag": "a\x00b"}):
        problem(api.get("/api/v1/runs", params=params), 422)
    problem(api.get(f"/api/v1/runs/{sample_run.run_id}/logs", params={"text": "a\x00"}), 422)
    problem(api.post(f"/api/v1/runs/{sample_run.run_id}/state", json={"state": "Failed", "message": "a\x00"}), 422)
    problem(api.post("/api/v1/keys", json={"name": "a\x00", "role": "read"}), 422)


def test_a_run_id_that_is_not_32_hex_digits_is_a_422(api):
    body = problem(api.get("/api/v1/runs/not-a-run-id"), 422)
    assert body["errors"][0]["field"] == "path.run_id"


def test_a_cursor_from_another_list_or_tampered_with_is_a_422(api, sample_run):
    children = api.get(f"/api/v1/runs/{sample_run.run_id}/tasks/work/children", params={"limit": 2}).json()
    cursor = children["next_cursor"]
    assert cursor
    body = problem(api.get("/api/v1/runs", params={"cursor": cursor}), 422)
    assert "cursor" in body["detail"] and body["errors"][0]["field"] == "query.cursor"
    problem(api.get(f"/api/v1/runs/{sample_run.run_id}/logs", params={"cursor": "AAAA"}), 422)


def test_bad_log_filters_say_what_is_wrong(api, sample_run):
    path = f"/api/v1/runs/{sample_run.run_id}/logs"
    assert "min_level" in problem(api.get(path, params={"min_level": "LOUD"}), 422)["detail"]
    assert "needs task" in problem(api.get(path, params={"map_index": 3}), 422)["detail"]
    assert "unknown state 'Sleeping'" in problem(
        api.get(f"/api/v1/runs/{sample_run.run_id}/tasks/work/children", params={"state": "Sleeping"}), 422)["detail"]
