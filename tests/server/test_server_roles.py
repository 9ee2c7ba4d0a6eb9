"""Every endpoint declares its role, and enforces it: 401 without a valid key, 403 with
a key too weak, success with a key strong enough (a test per endpoint)."""

from __future__ import annotations

import logging

import pytest
from fastapi.routing import APIRoute

from ferroflow.server.app import api_routes as all_api_routes
from ferroflow.server.app import create_app
from ferroflow.server.auth import declared_role
from ferroflow.store.database import make_engine
from tests.support.server_data import client_of, write_sample

#: (method, route path) -> (role needed or None for public, request: method, path, json body, success status).
#: ``{run}`` is the sample run's id, ``{key_id}`` a key's id. A route missing here fails
#: ``test_every_route_has_an_example``: add it, with its role.
EXAMPLES: dict = {
    ("GET", "/api/v1/health"): (None, "GET", "/api/v1/health", None, 200),
    ("GET", "/api/v1/version"): ("read", "GET", "/api/v1/version", None, 200),
    ("GET", "/api/v1/flows"): ("read", "GET", "/api/v1/flows", None, 200),
    ("GET", "/api/v1/flows/{name}"): ("read", "GET", "/api/v1/flows/etl", None, 200),
    ("POST", "/api/v1/runs"): ("run", "POST", "/api/v1/runs", {"flow_name": "etl"}, 201),
    ("GET", "/api/v1/runs"): ("read", "GET", "/api/v1/runs", None, 200),
    ("GET", "/api/v1/runs/{run_id}"): ("read", "GET", "/api/v1/runs/{run}", None, 200),
    ("POST", "/api/v1/runs/{run_id}/state"): ("run", "POST", "/api/v1/runs/{run}/state", {"state": "Failed"}, 200),
    ("POST", "/api/v1/runs/{run_id}/cancel"): ("run", "POST", "/api/v1/runs/{run}/cancel", None, 200),
    ("POST", "/api/v1/runs/{run_id}/approvals"): ("run", "POST", "/api/v1/runs/{run}/approvals",
                                                  {"task": "deploy"}, 200),
    ("GET", "/api/v1/runs/{run_id}/tasks"): ("read", "GET", "/api/v1/runs/{run}/tasks", None, 200),
    ("GET", "/api/v1/runs/{run_id}/progress"): ("read", "GET", "/api/v1/runs/{run}/progress", None, 200),
    ("GET", "/api/v1/runs/{run_id}/tasks/{task}/children"): (
        "read", "GET", "/api/v1/runs/{run}/tasks/work/children?state=Success", None, 200),
    ("GET", "/api/v1/runs/{run_id}/tasks/{task}/failed"): (
        "read", "GET", "/api/v1/runs/{run}/tasks/work/failed", None, 200),
    ("GET", "/api/v1/runs/{run_id}/tasks/{task}/children/{index}"): (
        "read", "GET", "/api/v1/runs/{run}/tasks/work/children/7", None, 200),
    ("GET", "/api/v1/runs/{run_id}/logs"): ("read", "GET", "/api/v1/runs/{run}/logs?min_level=WARNING", None, 200),
    ("GET", "/api/v1/keys"): ("admin", "GET", "/api/v1/keys", None, 200),
    ("POST", "/api/v1/keys"): ("admin", "POST", "/api/v1/keys", {"name": "new", "role": "read"}, 201),
    ("DELETE", "/api/v1/keys/{key_id}"): ("admin", "DELETE", "/api/v1/keys/{key_id}", None, 200),
    ("PUT", "/api/v1/secrets/{name}"): ("admin", "PUT", "/api/v1/secrets/new-one", {"value": "a-long-value"}, 200),
    ("GET", "/api/v1/secrets"): ("read", "GET", "/api/v1/secrets", None, 200),
    ("GET", "/api/v1/secrets/{name}/value"): ("run", "GET", "/api/v1/secrets/warehouse/value", None, 200),
    ("DELETE", "/api/v1/secrets/{name}"): ("admin", "DELETE", "/api/v1/secrets/warehouse", None, 204),
    ("POST", "/api/v1/records"): ("run", "POST", "/api/v1/records",
                                  {"batch_id": "0123abcd", "tokens": {}, "items": []}, 200),
    ("GET", "/api/v1/runs/{run_id}/resume"): ("run", "GET", "/api/v1/runs/{run}/resume", None, 200),
    ("POST", "/api/v1/runs/{run_id}/resume"): ("run", "POST", "/api/v1/runs/{run}/resume", None, 201),
    ("PUT", "/api/v1/deployments/{name}"): ("run", "PUT", "/api/v1/deployments/nightly",
                                            {"entrypoint": "etl.py:etl"}, 200),
    ("GET", "/api/v1/deployments"): ("read", "GET", "/api/v1/deployments", None, 200),
    ("GET", "/api/v1/deployments/{name}"): ("read", "GET", "/api/v1/deployments/nightly", None, 200),
    ("POST", "/api/v1/deployments/{name}/pause"): ("run", "POST", "/api/v1/deployments/nightly/pause", None, 200),
    ("POST", "/api/v1/deployments/{name}/resume"): ("run", "POST", "/api/v1/deployments/nightly/resume", None, 200),
    ("DELETE", "/api/v1/deployments/{name}"): ("admin", "DELETE", "/api/v1/deployments/nightly", None, 204),
    ("POST", "/api/v1/deployments/{name}/runs"): ("run", "POST", "/api/v1/deployments/nightly/runs",
                                                  {"parameters": {"n": 2}}, 201),
    ("POST", "/api/v1/workers/{worker_id}/heartbeat"): (
        "run", "POST", "/api/v1/workers/" + "a" * 32 + "/heartbeat",
        {"name": "w", "pool": "default", "hostname": "h", "pid": 1, "concurrency": 1}, 200),
    ("GET", "/api/v1/workers"): ("read", "GET", "/api/v1/workers", None, 200),
    ("POST", "/api/v1/pools/{name}/claim"): ("run", "POST", "/api/v1/pools/default/claim",
                                             {"worker_id": "a" * 32, "count": 1}, 200),
    ("POST", "/api/v1/runs/{run_id}/release"): ("run", "POST", "/api/v1/runs/{run}/release",
                                                {"lease": "0" * 32, "state": "Crashed"}, 200),
    ("GET", "/api/v1/pools"): ("read", "GET", "/api/v1/pools", None, 200),
    ("PUT", "/api/v1/pools/{name}"): ("admin", "PUT", "/api/v1/pools/default", {"concurrency_limit": 2}, 200),
    ("GET", "/api/v1/concurrency-limits"): ("read", "GET", "/api/v1/concurrency-limits", None, 200),
    ("GET", "/api/v1/concurrency-limits/{tag}"): ("read", "GET", "/api/v1/concurrency-limits/db", None, 200),
    ("PUT", "/api/v1/concurrency-limits/{tag}"): ("admin", "PUT", "/api/v1/concurrency-limits/api", {"slots": 3},
                                                  201),
    ("DELETE", "/api/v1/concurrency-limits/{tag}"): ("admin", "DELETE", "/api/v1/concurrency-limits/db", None, 204),
    ("POST", "/api/v1/concurrency-limits/acquire"): ("run", "POST", "/api/v1/concurrency-limits/acquire",
                                                     {"run_id": "0" * 32, "holder": "h", "tags": ["db"]}, 200),
    ("POST", "/api/v1/concurrency-limits/release"): ("run", "POST", "/api/v1/concurrency-limits/release",
                                                     {"holder": "h"}, 200),
}

ROLES = ("read", "run", "admin")


def api_routes(app) -> list:
    """(method, path, route) of every API route (path converters dropped: ``{name:path}`` -> ``{name}``)."""
    found = [(method, path.replace(":path}", "}"), route) for method, path, route in all_api_routes(app)]
    assert len(found) >= len(EXAMPLES) - 2, "the routes of the application were not found"
    return found


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    return create_app(make_engine(tmp_path_factory.mktemp("roles") / "routes.db"), auth=True)


def test_every_api_route_declares_a_role(app):
    undeclared = [f"{method} {path}" for method, path, route in api_routes(app) if not declared_role(route)[0]]
    assert not undeclared, ("routes without requires(...): every route under /api/v1 declares its role with "
                            f"dependencies=[requires('read' | 'run' | 'admin' | None)]: {undeclared}")


def test_only_the_openapi_document_and_its_page_are_outside_the_routers(app, engine, keys):
    served = {route.path for route in app.routes
              if not isinstance(route, APIRoute) and (getattr(route, "path", None) or "").startswith("/api/v1")}
    assert served == {"/api/v1/openapi.json", "/api/v1/docs"}
    with client_of(engine, auth=True) as client:  # public: they describe the API, they hold no data
        assert client.get("/api/v1/openapi.json").status_code == 200
        assert client.get("/api/v1/docs").status_code == 200


def test_every_route_has_an_example_with_its_declared_role(app):
    routes = {(method, path): declared_role(route)[1] for method, path, route in api_routes(app)}
    missing = sorted(set(routes) - set(EXAMPLES))
    assert not missing, f"routes with no example in EXAMPLES (add one, with its role): {missing}"
    stale = sorted(set(EXAMPLES) - set(routes))
    assert not stale, f"EXAMPLES of routes that do not exist: {stale}"
    wrong = {k: (routes[k], EXAMPLES[k][0]) for k in routes if routes[k] != EXAMPLES[k][0]}
    assert not wrong, f"(declared, expected) roles differ: {wrong}"


def test_the_openapi_document_marks_every_keyed_route_as_needing_a_bearer_key(app):
    document = app.openapi()
    assert document["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http", "scheme": "bearer", "description": document["components"]["securitySchemes"]["HTTPBearer"]
        ["description"]}
    for (method, path), (role, *_rest) in EXAMPLES.items():
        operation = document["paths"][path][method.lower()]
        assert bool(operation.get("security")) == (role is not None), (method, path)


def _request(client, method, path, body, sample, key=None):
    headers = {} if key is None else {"Authorization": f"Bearer {key}"}
    return client.request(method, path.format(run=sample.run_id, key_id=sample.key_id), json=body, headers=headers)


@pytest.fixture
def world(engine, keys, monkeypatch):
    from cryptography.fernet import Fernet

    from ferroflow.store.secret_store import KEY_ENV, set_secret

    sample = write_sample(engine)
    with engine.begin() as conn:
        from ferroflow.store.keys import create_key

        sample.key_id = create_key(conn, "doomed", "read")[1].id
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    set_secret(engine, "warehouse", "s3cr3t-value")
    from ferroflow.store.deployments import deploy

    nightly, _ = deploy(engine, "nightly", "etl.py:etl")
    with engine.begin() as conn:  # (the sample run is of it: it can be resumed)
        from ferroflow.store.schema import runs

        conn.execute(runs.update().where(runs.c.run_id == sample.run_id).values(deployment_id=nightly.id))
    from ferroflow.store.concurrency import set_limit

    set_limit(engine, "db", 2)
    return sample


@pytest.mark.parametrize("route", sorted(EXAMPLES), ids=lambda r: f"{r[0]} {r[1]}")
def test_each_endpoint_enforces_its_role(route, engine, keys, world):
    role, method, path, body, success = EXAMPLES[route]
    with client_of(engine, auth=True) as client:
        if role is None:
            assert _request(client, method, path, body, world).status_code == success
            return
        anonymous = _request(client, method, path, body, world)
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer KEY" in anonymous.json()["detail"]
        wrong = _request(client, method, path, body, world, key="ffk_" + "x" * 43)
        assert wrong.status_code == 401 and "not valid" in wrong.json()["detail"]
        for weaker in ROLES[:ROLES.index(role)]:
            refused = _request(client, method, path, body, world, key=keys[weaker])
            assert refused.status_code == 403, refused.text
            assert f"role {role!r}" in refused.json()["detail"] and f"role {weaker!r}" in refused.json()["detail"]
        # Strong enough: the weakest role that may, so that a route asking for less
        # than declared would pass the 403s above and fail nothing else.
        allowed = _request(client, method, path, body, world, key=keys[role])
        assert allowed.status_code == success, allowed.text


def test_a_stronger_role_may_do_what_a_weaker_may(secured, keys, sample_run):
    for role in ROLES:
        answer = secured.get(f"/api/v1/runs/{sample_run.run_id}", headers={"Authorization": f"Bearer {keys[role]}"})
        assert answer.status_code == 200


def test_a_revoked_key_is_refused_and_a_key_is_never_logged(secured, keys, engine, caplog):
    caplog.set_level(logging.DEBUG)
    headers = {"Authorization": f"Bearer {keys['read']}"}
    assert secured.get("/api/v1/runs", headers=headers).status_code == 200
    listed = secured.get("/api/v1/keys", headers={"Authorization": f"Bearer {keys['admin']}"}).json()
    read_key = next(k for k in listed if k["role"] == "read")
    assert read_key["last_used_at"] is not None
    assert not any(keys["read"] in str(v) for v in read_key.values())
    assert secured.delete(f"/api/v1/keys/{read_key['id']}",
                          headers={"Authorization": f"Bearer {keys['admin']}"}).json()["revoked_at"] is not None
    refused = secured.get("/api/v1/runs", headers=headers)
    assert refused.status_code == 401 and "unknown or revoked" in refused.json()["detail"]
    for key in keys.values():
        assert key not in caplog.text


def test_last_used_at_is_written_at_most_once_a_minute(secured, keys, engine):
    from ferroflow.store.keys import list_keys

    headers = {"Authorization": f"Bearer {keys['run']}"}
    secured.get("/api/v1/runs", headers=headers)
    with engine.connect() as conn:
        first = next(k for k in list_keys(conn) if k.role == "run").last_used_at
    secured.get("/api/v1/runs", headers=headers)
    with engine.connect() as conn:
        again = next(k for k in list_keys(conn) if k.role == "run").last_used_at
    assert first is not None and again == first


def test_with_auth_off_every_request_acts_as_admin(api):
    assert api.get("/api/v1/keys").status_code == 200
    made = api.post("/api/v1/keys", json={"name": "ci", "role": "run"})
    assert made.status_code == 201 and made.json()["key"].startswith("ffk_")
