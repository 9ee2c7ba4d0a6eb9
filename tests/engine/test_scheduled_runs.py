"""flow.run() on a schedule: one run per scheduled time, clock parameter defaults,
scheduled_start_time in the context."""

from __future__ import annotations

from datetime import timedelta

import pendulum
import pytest

from ferroflow import Flow, Parameter, context, task
from ferroflow.schedules import IntervalClock, Schedule


def test_runs_at_each_scheduled_time_with_clock_defaults():
    seen = []

    @task
    def record(who):
        seen.append((who, context.scheduled_start_time))
        return who

    start = pendulum.now("UTC").add(seconds=0.2)
    schedule = Schedule(clocks=[
        IntervalClock(timedelta(milliseconds=300), start_date=start, parameter_defaults={"who": "clock"}),
    ])
    with Flow("scheduled", schedule=schedule) as flow:
        r = record(Parameter("who", default="default"))
    state = flow.run(who="caller", max_runs=2)
    assert state.result[r].result == "clock"  # a clock's defaults win, as in Prefect 1
    assert [w for w, _ in seen] == ["clock", "clock"]
    times = [t for _, t in seen]
    assert times[0] == start and times[1] == start + timedelta(milliseconds=300)


def test_run_on_schedule_false_runs_once_now():
    @task
    def one():
        return 1

    schedule = Schedule(clocks=[IntervalClock(timedelta(days=1), start_date=pendulum.now("UTC").add(days=1))])
    with Flow("not-now", schedule=schedule) as flow:
        o = one()
    assert flow.run(run_on_schedule=False).result[o].result == 1


def test_an_exhausted_schedule_is_a_clear_error():
    schedule = Schedule(clocks=[IntervalClock(timedelta(hours=1), start_date=pendulum.datetime(2020, 1, 1, tz="UTC"),
                                              end_date=pendulum.datetime(2020, 1, 2, tz="UTC"))])
    with Flow("past", schedule=schedule) as flow:
        task(lambda: 1)()
    with pytest.raises(ValueError, match="Flow 'past' has no more scheduled runs"):
        flow.run()


def test_bad_schedule_argument():
    with pytest.raises(TypeError, match="schedule must be a ferroflow.schedules.Schedule"):
        Flow("f", schedule="*/5 * * * *")
