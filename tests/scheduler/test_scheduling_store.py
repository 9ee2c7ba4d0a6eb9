"""The scheduler's tick on SQLite and PostgreSQL (store/scheduling.py), with the clock
injected (``now=``): runs made over the horizon and no further, ``max_ahead``, interval
and cron clocks, clocks' parameter defaults, DST, catchup ``latest`` and ``all`` after
downtime, ``Late``, and what pausing, resuming, redeploying and deleting do to runs
made ahead. Every expected time is computed here from the clock's definition."""

from __future__ import annotations

import datetime as dt
import json
import logging
import math

import pendulum
from sqlalchemy import event, select, update

from ferroflow.schedules import CronClock, IntervalClock, Schedule
from ferroflow.schedules.spec import to_spec
from ferroflow.store import deployments as store
from ferroflow.store import scheduling
from ferroflow.store.control import set_state
from ferroflow.store.scheduling import ScheduleCache, schedule
from ferroflow.store.schema import deployments, run_tags, runs

ANCHOR = pendulum.datetime(2020, 1, 1, tz="UTC")  # epoch 1577836800, a multiple of 10


def every(seconds: float, **clock) -> dict:
    return to_spec(Schedule([IntervalClock(dt.timedelta(seconds=seconds), start_date=ANCHOR, **clock)]))


def grid(step: float, after: float, up_to: float) -> list[float]:
    """Multiples of ``step`` in ``(after, up_to]`` (the interval clock anchored at ANCHOR)."""
    first = math.floor(after / step) + 1
    return [k * step for k in range(first, math.floor(up_to / step) + 1)]


def made(engine, deployment_id: int) -> list:
    with engine.connect() as conn:
        return conn.execute(select(runs).where(runs.c.deployment_id == deployment_id)
                            .order_by(runs.c.scheduled_time, runs.c.id)).all()


def times(engine, deployment_id: int) -> list[float]:
    return [r.scheduled_time for r in made(engine, deployment_id)]


def set_until(engine, deployment_id: int, until: float | None) -> None:
    with engine.begin() as conn:
        conn.execute(update(deployments).where(deployments.c.id == deployment_id).values(scheduled_until=until))


def until_of(engine, deployment_id: int) -> float | None:
    with engine.connect() as conn:
        return conn.execute(select(deployments.c.scheduled_until).where(deployments.c.id == deployment_id)).scalar()


def test_runs_are_made_over_the_horizon_once_with_the_recipe(engine):
    d, _ = store.deploy(engine, "ten", "flows/etl.py:etl", parameters={"n": 1}, schedule=every(10), tags=["a", "b"])
    now = d.updated_at
    first = schedule(engine, now=now, horizon=100, grace=60)
    expected = grid(10, d.updated_at, now + 100)
    assert first.made == len(expected) == 10 and times(engine, d.id) == expected
    assert until_of(engine, d.id) == now + 100
    for run in made(engine, d.id):
        assert (run.state, run.flow_name, json.loads(run.parameters), json.loads(run.tags)) == (
            "Scheduled", "etl", {"n": 1}, ["a", "b"])
        assert run.started_at == run.scheduled_time and run.state_version == 0
    with engine.connect() as conn:
        tagged = conn.execute(select(run_tags.c.tag).join(runs, runs.c.id == run_tags.c.run)
                              .where(runs.c.deployment_id == d.id)).scalars().all()
    assert sorted(tagged) == ["a"] * 10 + ["b"] * 10
    assert schedule(engine, now=now, horizon=100).made == 0, "the same tick again makes nothing"
    set_until(engine, d.id, d.updated_at)  # a window made again (as by a replica that read it before):
    again = schedule(engine, now=now + 5, horizon=100)  # the unique index skips the runs made
    assert again.made_ids == [r.run_id for r in made(engine, d.id) if r.scheduled_time > now + 100]
    assert times(engine, d.id) == grid(10, d.updated_at, now + 105)
    later = schedule(engine, now=now + 35, horizon=100)
    assert times(engine, d.id) == grid(10, d.updated_at, now + 135)
    assert later.made == len(grid(10, now + 105, now + 135))


def test_max_ahead_bounds_a_tick_and_the_next_goes_on_without_gaps(engine):
    d, _ = store.deploy(engine, "one", "f.py:f", schedule=every(1))
    now = d.updated_at
    counts = [schedule(engine, now=now, horizon=50, max_ahead=7).made for _ in range(9)]
    assert counts == [7, 7, 7, 7, 7, 7, 7, 1, 0]
    assert times(engine, d.id) == grid(1, d.updated_at, now + 50)


def test_cron_clocks_parameter_defaults_and_events_at_one_instant(engine):
    spec = to_spec(Schedule([CronClock("*/5 * * * *", parameter_defaults={"x": 1}),
                             IntervalClock(dt.timedelta(minutes=10), start_date=ANCHOR, parameter_defaults={"x": 2})]))
    d, _ = store.deploy(engine, "mixed", "f.py:f", parameters={"n": 5, "x": 0}, schedule=spec)
    base = math.floor(d.updated_at / 3600) * 3600 + 3600  # the next whole hour
    set_until(engine, d.id, base)
    schedule(engine, now=base, horizon=1800, grace=0)
    got = [(r.scheduled_time, r.started_at, json.loads(r.parameters)) for r in made(engine, d.id)]
    expected = []
    for t in grid(300, base, base + 1800):
        expected.append((t, t, {"n": 5, "x": 1}))
        if t % 600 == 0:  # both clocks fire: two runs, the second one microsecond later in the index
            expected.append((t + 1e-6, t, {"n": 5, "x": 2}))
    assert got == expected


def test_a_cron_in_a_zone_keeps_its_local_time_across_daylight_saving(engine):
    ny = "America/New_York"
    spec = to_spec(Schedule([CronClock("0 9 * * *", start_date=pendulum.datetime(2030, 1, 1, tz=ny)),
                             CronClock("30 2 * * *", start_date=pendulum.datetime(2030, 1, 1, tz=ny),
                                       parameter_defaults={"early": True})]))
    d, _ = store.deploy(engine, "ny", "f.py:f", schedule=spec)
    start = pendulum.datetime(2030, 3, 8, tz="UTC").timestamp()
    set_until(engine, d.id, start)
    schedule(engine, now=start, horizon=4 * 86400, grace=0)
    got = [(pendulum.from_timestamp(round(r.started_at), tz=ny).isoformat(), json.loads(r.parameters))
           for r in made(engine, d.id)]
    assert got == [
        ("2030-03-08T02:30:00-05:00", {"early": True}), ("2030-03-08T09:00:00-05:00", {}),
        ("2030-03-09T02:30:00-05:00", {"early": True}), ("2030-03-09T09:00:00-05:00", {}),
        # 02:30 does not exist on the 10th: the run is at the change (03:00 EDT)
        ("2030-03-10T03:00:00-04:00", {"early": True}), ("2030-03-10T09:00:00-04:00", {}),
        ("2030-03-11T02:30:00-04:00", {"early": True}), ("2030-03-11T09:00:00-04:00", {}),
    ]
    nine = [r.started_at for r in made(engine, d.id)][1::2]
    assert [b - a for a, b in zip(nine, nine[1:], strict=False)] == [86400, 82800, 86400]


def test_catchup_latest_makes_the_most_recent_missed_run_and_all_makes_every_one(engine):
    latest, _ = store.deploy(engine, "latest", "f.py:f", schedule=every(10))
    everything, _ = store.deploy(engine, "all", "f.py:f", schedule=every(10), catchup="all")
    now = max(latest.updated_at, everything.updated_at)
    for d in (latest, everything):
        set_until(engine, d.id, now)
    schedule(engine, now=now, horizon=100, grace=60)
    before = grid(10, now, now + 100)
    assert times(engine, latest.id) == times(engine, everything.id) == before
    back = now + 1000  # the scheduler was down from now to now + 1000
    summary = schedule(engine, now=back, horizon=100, grace=60)
    missed = grid(10, now + 100, back - 60)
    ahead = grid(10, back - 60, back + 100)
    assert times(engine, latest.id) == before + missed[-1:] + ahead
    assert times(engine, everything.id) == before + missed + ahead
    assert summary.late == 2 * len(before), "the runs made before the downtime were not missed: they are Late"
    assert summary.skipped >= 1


def test_catchup_all_is_bounded_with_a_warning(engine, monkeypatch, caplog):
    monkeypatch.setattr(scheduling, "MAX_CATCHUP", 5)
    d, _ = store.deploy(engine, "all", "f.py:f", schedule=every(10), catchup="all")
    set_until(engine, d.id, d.updated_at)
    back = d.updated_at + 10_000
    with caplog.at_level(logging.WARNING, logger="ferroflow.scheduler"):
        schedule(engine, now=back, horizon=0, grace=60)
    assert times(engine, d.id) == grid(10, d.updated_at, back - 60)[-5:] + grid(10, back - 60, back)
    assert "only the latest 5 are made" in caplog.text and "deployment all" in caplog.text


def test_runs_not_started_within_the_grace_period_become_late(engine):
    d, _ = store.deploy(engine, "ten", "f.py:f", schedule=every(10))
    now = d.updated_at
    schedule(engine, now=now, horizon=100, grace=60)
    started = made(engine, d.id)[0]
    set_state(engine, started.run_id, "Running")
    summary = schedule(engine, now=now + 100, horizon=0, grace=60)
    rows = made(engine, d.id)
    late = [r for r in rows if r.state == "Late"]
    assert [r.scheduled_time for r in late] == [t for t in grid(10, now, now + 100) if t < now + 40][1:]
    assert summary.late == len(late) and all(r.state_version == 1 for r in late)
    assert all(r.state == "Scheduled" for r in rows if r.scheduled_time >= now + 40 and r.run_id != started.run_id)
    assert schedule(engine, now=now + 100, horizon=0, grace=60).late == 0


def test_pause_removes_unstarted_schedule_made_runs_and_keeps_the_others(engine):
    d, _ = store.deploy(engine, "ten", "f.py:f", schedule=every(10), tags=["t"])
    now = d.updated_at
    schedule(engine, now=now, horizon=100, grace=60)
    manual = store.create_manual_run(engine, "ten")
    running = next(r.run_id for r in made(engine, d.id) if r.scheduled_time is not None)
    set_state(engine, running, "Running")
    schedule(engine, now=now + 75, horizon=0, grace=60)  # some become Late
    assert {r.state for r in made(engine, d.id)} == {"Running", "Late", "Scheduled"}
    store.pause_deployment(engine, "ten")
    left = made(engine, d.id)
    assert sorted(r.run_id for r in left) == sorted([running, manual.run_id])
    with engine.connect() as conn:
        assert sorted(conn.execute(select(run_tags.c.run)).scalars()) == sorted(r.id for r in left)
    assert schedule(engine, now=now + 500, horizon=100).made == 0, "a paused deployment makes no runs"
    assert store.create_manual_run(engine, "ten").state == "Scheduled", "manual runs stay possible"


def test_resuming_catches_nothing_up_for_the_time_paused(engine):
    paused, _ = store.deploy(engine, "paused", "f.py:f", schedule=every(10))
    control, _ = store.deploy(engine, "control", "f.py:f", schedule=every(10))
    long_ago = paused.updated_at - 100_000  # both last scheduled long ago
    set_until(engine, paused.id, long_ago)
    set_until(engine, control.id, long_ago)
    store.pause_deployment(engine, "paused")
    resumed = store.resume_deployment(engine, "paused")
    assert until_of(engine, paused.id) == resumed.updated_at
    now = resumed.updated_at + 1
    schedule(engine, now=now, horizon=30, grace=60)
    assert times(engine, paused.id) == grid(10, resumed.updated_at, now + 30)
    assert times(engine, control.id) == grid(10, long_ago, now - 60)[-1:] + grid(10, now - 60, now + 30), \
        "downtime without a pause is caught up (latest)"
    before = until_of(engine, control.id)
    store.resume_deployment(engine, "control")  # not paused: nothing changes
    assert until_of(engine, control.id) == before


def test_deploying_a_new_recipe_replaces_the_runs_made_ahead(engine):
    d, _ = store.deploy(engine, "ten", "f.py:f", parameters={"n": 1}, schedule=every(10))
    base = d.updated_at
    set_until(engine, d.id, base - 100)
    schedule(engine, now=base - 50, horizon=150, grace=60)
    assert times(engine, d.id) == grid(10, base - 100, base + 100)
    store.deploy(engine, "ten", "f.py:f", parameters={"n": 1}, schedule=every(10), description="same recipe")
    assert times(engine, d.id) == grid(10, base - 100, base + 100), "a new description keeps the runs"
    again, _ = store.deploy(engine, "ten", "f.py:f", parameters={"n": 2}, schedule=every(10))
    kept = grid(10, base - 100, again.updated_at)
    assert times(engine, d.id) == kept and until_of(engine, d.id) == again.updated_at
    assert {json.loads(r.parameters)["n"] for r in made(engine, d.id)} == {1}
    schedule(engine, now=again.updated_at, horizon=100, grace=60)
    rows = made(engine, d.id)
    assert [r.scheduled_time for r in rows] == kept + grid(10, again.updated_at, again.updated_at + 100)
    assert [json.loads(r.parameters)["n"] for r in rows] == [1] * len(kept) + [2] * (len(rows) - len(kept))
    store.deploy(engine, "ten", "f.py:f", parameters={"n": 2}, schedule=every(20))
    schedule(engine, now=again.updated_at + 1, horizon=100, grace=60)
    future = [t for t in times(engine, d.id) if t > again.updated_at + 1]
    assert future and all(t % 20 == 0 for t in future), "a new schedule's times replace the old ones"


def test_deleting_a_deployment_removes_its_unstarted_schedule_made_runs(engine):
    d, _ = store.deploy(engine, "ten", "f.py:f", schedule=every(10))
    schedule(engine, now=d.updated_at, horizon=100)
    manual = store.create_manual_run(engine, "ten")
    running = next(r.run_id for r in made(engine, d.id) if r.scheduled_time is not None)
    set_state(engine, running, "Running")
    store.delete_deployment(engine, "ten")
    assert sorted(r.run_id for r in made(engine, d.id)) == sorted([running, manual.run_id])


def test_a_deployment_without_a_schedule_or_with_a_bad_stored_one_makes_nothing(engine, caplog):
    store.deploy(engine, "manual", "f.py:f")
    good, _ = store.deploy(engine, "good", "f.py:f", schedule=every(10))
    bad, _ = store.deploy(engine, "bad", "f.py:f", schedule=every(10))
    with engine.begin() as conn:  # a spec a later version wrote
        conn.execute(update(deployments).where(deployments.c.id == bad.id).values(schedule='{"v": 99}'))
    with caplog.at_level(logging.WARNING, logger="ferroflow.scheduler"):
        summary = schedule(engine, now=good.updated_at, horizon=100)
    assert summary.made == 10 and times(engine, good.id) == grid(10, good.updated_at, good.updated_at + 100)
    assert "deployment bad: its schedule cannot be used" in caplog.text
    with engine.connect() as conn:
        assert conn.execute(select(runs.c.id).where(runs.c.deployment_id != good.id)).first() is None


def _statements(engine) -> list[str]:
    seen: list[str] = []

    def note(conn, cursor, sql, *rest):
        if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            seen.append(sql)

    event.listen(engine, "before_cursor_execute", note)
    return seen


def test_a_tick_over_many_deployments_batches_its_statements_and_an_idle_tick_only_reads(engine):
    for i in range(300):
        store.deploy(engine, f"d{i:03}", "f.py:f", schedule=every(60), tags=["x"])
    now = store.get_deployment(engine, "d299").updated_at
    cache = ScheduleCache()
    seen = _statements(engine)
    summary = schedule(engine, now=now, horizon=600, cache=cache)
    expected = sum(len(grid(60, d.updated_at, now + 600)) for d in store.list_deployments(engine))
    assert summary.due == 300 and summary.made == expected >= 300 * 9
    assert len(seen) < 40, f"{len(seen)} statements for 300 deployments"
    seen.clear()
    assert schedule(engine, now=now + 1, horizon=600, cache=cache).made == 0
    assert len(seen) <= 2 and all(s.lstrip().upper().startswith("SELECT") for s in seen), seen
