"""``control.resume_run``: a run of a deployment that ended is resumed by a new run of
that deployment which a worker claims (on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading

import pytest

from ferroflow.store import claims, control, queries
from ferroflow.store.deployments import deploy
from ferroflow.store.errors import UnknownRunError


def _deployment_run(engine, state: str = "Failed", tags=("nightly",)) -> str:
    nightly, _ = deploy(engine, "nightly", "etl.py:etl", tags=["team-a"])
    run, _ = control.create_run(engine, "etl", {"n": 3}, tags=tags, deployment_id=nightly.id)
    if state != "Scheduled":
        control.set_state(engine, run.run_id, "Running")
        control.set_state(engine, run.run_id, state, "it broke")
    return run.run_id


@pytest.mark.parametrize("state", ["Failed", "Crashed", "Cancelled", "Paused"])
def test_an_ended_run_of_a_deployment_is_resumed_by_a_new_run_a_worker_claims(engine, state):
    old = _deployment_run(engine, state)
    made = control.resume_run(engine, old)
    assert made.run_id != old and made.state == "Scheduled" and made.resumed_from == old
    assert made.flow_name == "etl" and made.tags == ("nightly",)
    with engine.connect() as conn:
        assert queries.run_origin(conn, made.run_id).deployment == "nightly"
        assert [r.run_id for r in queries.list_runs(conn, resumed_from=old).items] == [made.run_id]
        assert [r.run_id for r in queries.list_runs(conn, tags=["nightly"], resumed_from=old).items] == [made.run_id]
    (claim,) = claims.claim_runs(engine, "default", "a" * 32, 5)
    assert claim.run_id == made.run_id and claim.resume_from == old and claim.deployment == "nightly"


def test_one_resume_at_a_time_and_another_once_it_ended(engine):
    old = _deployment_run(engine)
    first = control.resume_run(engine, old)
    with pytest.raises(control.StateConflictError, match=f"being resumed already: run {first.run_id}"):
        control.resume_run(engine, old)
    control.set_state(engine, first.run_id, "Running")
    with pytest.raises(control.StateConflictError, match="Running"):
        control.resume_run(engine, old)
    control.set_state(engine, first.run_id, "Failed", "again")
    second = control.resume_run(engine, old)
    assert second.run_id not in (old, first.run_id) and second.resumed_from == old
    with engine.connect() as conn:
        assert {r.run_id for r in queries.list_runs(conn, resumed_from=old).items} == {first.run_id, second.run_id}


def test_two_resumes_at_once_make_one_run(engine):
    old = _deployment_run(engine)
    outcomes: list = []

    def resume() -> None:
        try:
            outcomes.append(control.resume_run(engine, old).run_id)
        except control.StateConflictError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=resume) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.connect() as conn:
        made = [r.run_id for r in queries.list_runs(conn, resumed_from=old).items]
    assert len(made) == 1
    assert all(o == made[0] or isinstance(o, control.StateConflictError) for o in outcomes)


@pytest.mark.parametrize("state", ["Scheduled", "Running", "Success"])
def test_a_run_that_did_not_end_resumable_is_refused(engine, state):
    old = _deployment_run(engine, state)
    with pytest.raises(control.StateConflictError, match=f"is {state}: only a run that ended") as refused:
        control.resume_run(engine, old)
    assert refused.value.run.state == state
    with engine.connect() as conn:
        assert queries.list_runs(conn, resumed_from=old).items == []


def test_a_run_of_no_deployment_or_an_unknown_run_is_refused(engine):
    run, _ = control.create_run(engine, "etl")
    control.set_state(engine, run.run_id, "Failed")
    with pytest.raises(control.StateConflictError, match=f"ferroflow run FLOW_FILE --resume {run.run_id}"):
        control.resume_run(engine, run.run_id)
    with pytest.raises(UnknownRunError):
        control.resume_run(engine, "0" * 32)


def test_run_origin_names_the_deployment(engine):
    old = _deployment_run(engine)
    with engine.connect() as conn:
        origin = queries.run_origin(conn, old)
        assert origin is not None and origin.deployment == "nightly" and origin.attempt == 1
        assert origin.worker is None and queries.run_origin(conn, "0" * 32) is None
