"""Deployments in the database (store/deployments.py), on SQLite and PostgreSQL:
deploying again updates, never duplicates; pause, resume, delete; invalid recipes are
refused with a message naming the field; a run made on request is ``Scheduled`` with
the deployment's parameters merged with the ones given."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select

from ferroflow.schedules import CronClock, IntervalClock, Schedule
from ferroflow.schedules.spec import to_spec
from ferroflow.store import deployments as store
from ferroflow.store.deployments import DeploymentError, UnknownDeploymentError
from ferroflow.store.schema import runs, work_pools

EVERY_HOUR = to_spec(Schedule([IntervalClock(dt.timedelta(hours=1))]))


def test_deploying_again_updates_and_never_duplicates(engine):
    first, created = store.deploy(engine, "nightly", "flows/etl.py:etl", parameters={"n": 1}, schedule=EVERY_HOUR,
                                  tags=["a", "a", "b"], description="first")
    assert created and first.flow_name == "etl" and first.tags == ["a", "b"] and first.pool == "default"
    assert first.schedule == EVERY_HOUR and not first.paused and first.catchup == "latest"
    store.pause_deployment(engine, "nightly")
    cron = to_spec(Schedule([CronClock("0 3 * * *")]))
    second, created = store.deploy(engine, "nightly", "flows/etl.py:etl", flow_name="etl-flow", parameters={"n": 2},
                                   schedule=cron, pool="big", retries=3, concurrency_limit=2, catchup="all")
    assert not created and second.id == first.id and second.created_at == first.created_at
    assert (second.flow_name, second.parameters, second.schedule, second.pool, second.retries,
            second.concurrency_limit, second.catchup, second.tags, second.description) == (
        "etl-flow", {"n": 2}, cron, "big", 3, 2, "all", [], "")
    assert second.paused, "deploying again keeps a pause"
    assert second.updated_at >= first.updated_at
    assert [d.name for d in store.list_deployments(engine)] == ["nightly"]
    with engine.connect() as conn:
        assert sorted(conn.execute(select(work_pools.c.name)).scalars()) == ["big", "default"]


def test_list_show_pause_resume_delete(engine):
    store.deploy(engine, "b", "pkg.mod:flow", pool="p1")
    store.deploy(engine, "a", "pkg.mod:other")
    assert [d.name for d in store.list_deployments(engine)] == ["a", "b"]
    assert [d.name for d in store.list_deployments(engine, pool="p1")] == ["b"]
    assert store.get_deployment(engine, "b").entrypoint == "pkg.mod:flow"
    assert store.pause_deployment(engine, "b").paused
    assert store.get_deployment(engine, "b").paused
    assert not store.resume_deployment(engine, "b").paused
    store.delete_deployment(engine, "b")
    assert [d.name for d in store.list_deployments(engine)] == ["a"]
    for action in (store.get_deployment, store.pause_deployment, store.resume_deployment, store.delete_deployment):
        with pytest.raises(UnknownDeploymentError, match="there is no deployment 'b'"):
            action(engine, "b")


@pytest.mark.parametrize(("change", "message"), [
    ({"entrypoint": "etl.py"}, "entrypoint 'etl.py': expected path/to/file.py:flow_name or package.module:flow"),
    ({"entrypoint": "not a module:flow"}, "entrypoint 'not a module:flow'"),
    ({"entrypoint": "etl.py:"}, "entrypoint 'etl.py:'"),
    ({"name": ""}, "a deployment's name is 1 to 200 printable characters"),
    ({"name": "x" * 201}, "a deployment's name is 1 to 200"),
    ({"name": "a/b"}, "a deployment's name is 1 to 200 printable characters without '/'"),
    ({"schedule": {"v": 1}}, "schedule: "),
    ({"schedule": {**EVERY_HOUR, "clocks": [{"kind": "cron", "cron": "99 * * * *"}]}}, "schedule: "),
    ({"parameters": [1, 2]}, "parameters must be a JSON object"),
    ({"parameters": {"when": dt.date(2026, 1, 1)}}, "parameters must hold JSON values only"),
    ({"parameters": {"x": float("nan")}}, "parameters must hold JSON values only"),
    ({"catchup": "some"}, "catchup must be one of latest, all"),
    ({"retries": -1}, "retries must be a whole number of at least 0"),
    ({"concurrency_limit": 0}, "concurrency_limit must be a whole number of at least 1"),
    ({"pool": ""}, "a work pool's name"),
    ({"tags": ["ok", ""]}, "tags must be non-empty strings"),
])
def test_an_invalid_recipe_is_refused_by_name(engine, change, message):
    recipe = {"name": "d", "entrypoint": "etl.py:etl", **change}
    with pytest.raises(DeploymentError, match="^" + re.escape(message)):
        store.deploy(engine, **recipe)
    assert store.list_deployments(engine) == []


def test_a_bad_cron_is_refused_with_the_schedules_own_message(engine):
    spec = to_spec(Schedule([CronClock("0 3 * * *")]))
    spec["clocks"][0]["cron"] = "61 3 * * *"
    with pytest.raises(DeploymentError, match=r"^schedule: .*61"):
        store.deploy(engine, "d", "etl.py:etl", schedule=spec)


def test_entrypoints_accepted():
    assert store.check_entrypoint("path/to/file.py:flow_name") == "flow_name"
    assert store.check_entrypoint("package.module:flow") == "flow"
    assert store.check_entrypoint("etl.py:My Flow") == "My Flow"


def test_a_manual_run_is_scheduled_with_merged_parameters(engine):
    made, _ = store.deploy(engine, "d", "etl.py:etl", parameters={"n": 1, "m": "x"}, tags=["t"])
    store.pause_deployment(engine, "d")  # runs on request stay possible
    one = store.create_manual_run(engine, "d", {"n": 5})
    two = store.create_manual_run(engine, "d")
    assert (one.state, one.flow_name, one.parameters, list(one.tags)) == ("Scheduled", "etl", {"n": 5, "m": "x"},
                                                                        ["t"])
    assert two.parameters == {"n": 1, "m": "x"} and two.run_id != one.run_id
    with engine.connect() as conn:
        rows = conn.execute(select(runs.c.deployment_id, runs.c.scheduled_time).order_by(runs.c.id)).all()
    assert [tuple(r) for r in rows] == [(made.id, None), (made.id, None)]  # NULL times never collide
    with pytest.raises(UnknownDeploymentError):
        store.create_manual_run(engine, "nope")
    with pytest.raises(DeploymentError, match="parameters must be a JSON object"):
        store.create_manual_run(engine, "d", ["x"])  # type: ignore[arg-type]


def test_a_deployment_and_scheduled_time_make_at_most_one_run(engine):
    """What exactly-once scheduling will rest on: the database refuses a second run of
    one (deployment, scheduled time)."""
    from sqlalchemy.exc import IntegrityError

    from ferroflow.store.control import create_run

    made, _ = store.deploy(engine, "d", "etl.py:etl")
    create_run(engine, "etl", deployment_id=made.id, scheduled_time=100.0)
    create_run(engine, "etl", deployment_id=made.id, scheduled_time=200.0)
    with pytest.raises(IntegrityError):
        create_run(engine, "etl", deployment_id=made.id, scheduled_time=100.0)
