"""run_on_schedule with a fake clock and a fake sleep (no real waiting)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pendulum
import pytest

from ferroflow import Flow, Parameter, task
from ferroflow.schedules import (
    CronClock,
    DatesClock,
    IntervalClock,
    IntervalSchedule,
    Schedule,
    adjustments,
    filters,
    run_on_schedule,
)

T0 = pendulum.datetime(2024, 1, 1, 12, tz="UTC")


class FakeClock:
    """``now`` and ``sleep`` for run_on_schedule: sleeping moves the clock."""

    def __init__(self, start=T0):
        self.t = start
        self.sleeps = []

    def now(self):
        return self.t

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.t = self.t + timedelta(seconds=seconds)

    def advance(self, **kw):
        self.t = self.t + timedelta(**kw)


def _recorder(clock, took=None):
    calls = []

    def run_once(parameters, scheduled_start_time):
        calls.append((dict(parameters), scheduled_start_time, clock.now()))
        if took is not None:
            clock.advance(**took)
        return f"run {len(calls)}"

    return run_once, calls


def test_runs_each_event_at_its_time_and_returns_the_results():
    clock = FakeClock(T0.subtract(minutes=5))
    schedule = IntervalSchedule(start_date=T0, interval=timedelta(minutes=10))
    run_once, calls = _recorder(clock)
    results = run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep, max_runs=3)
    assert results == ["run 1", "run 2", "run 3"]
    assert [c[1] for c in calls] == [T0, T0.add(minutes=10), T0.add(minutes=20)]
    assert all(scheduled == at for _, scheduled, at in calls)  # ran exactly on time
    assert clock.sleeps == [300, 600, 600]


def test_passes_each_event_parameter_defaults_as_a_fresh_dict():
    clock = FakeClock()
    schedule = Schedule([IntervalClock(timedelta(minutes=1), start_date=T0,
                                       parameter_defaults={"n": 1})])
    seen = []

    def run_once(parameters, scheduled_start_time):
        seen.append(dict(parameters))
        parameters["n"] = 99  # must not leak into the next run

    run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep, max_runs=2)
    assert seen == [{"n": 1}, {"n": 1}]


def test_stops_when_the_schedule_is_exhausted():
    clock = FakeClock()
    schedule = Schedule([DatesClock([T0.add(hours=1), T0.add(hours=2), T0.subtract(hours=1)])])
    run_once, calls = _recorder(clock)
    assert len(run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep)) == 2
    assert clock.t == T0.add(hours=2)


def test_a_schedule_whose_filter_never_matches_ends_without_running():
    clock = FakeClock()
    schedule = Schedule([IntervalClock(timedelta(minutes=1))], filters=[lambda dt: False])
    run_once, calls = _recorder(clock)
    assert run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep) == []
    assert calls == [] and clock.sleeps == []


def test_max_runs_zero_runs_nothing():
    clock = FakeClock()
    run_once, calls = _recorder(clock)
    schedule = IntervalSchedule(interval=timedelta(minutes=1))
    assert run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep,
                           max_runs=0) == []
    assert calls == []


def test_stop_is_asked_before_each_run():
    clock = FakeClock()
    schedule = IntervalSchedule(start_date=T0, interval=timedelta(seconds=1))
    run_once, calls = _recorder(clock)
    results = run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep,
                              stop=lambda: len(calls) >= 2)
    assert results == ["run 1", "run 2"]


def test_stop_ends_a_long_wait_promptly():
    clock = FakeClock()
    schedule = IntervalSchedule(start_date=T0, interval=timedelta(minutes=1))
    run_once, calls = _recorder(clock)
    deadline = T0.add(seconds=5.5)
    results = run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep,
                              stop=lambda: clock.now() >= deadline)
    assert results == [] and calls == []
    # slept in slices of at most a second, and stopped within a second of the deadline
    assert max(clock.sleeps) <= 1.0
    assert deadline <= clock.t <= deadline.add(seconds=1)


def test_keyboard_interrupt_while_waiting_returns_what_ran(caplog):
    clock = FakeClock()
    schedule = IntervalSchedule(start_date=T0, interval=timedelta(minutes=10))
    run_once, calls = _recorder(clock)
    naps = []

    def sleep(seconds):
        naps.append(seconds)
        if len(naps) == 3:
            raise KeyboardInterrupt
        clock.sleep(seconds)

    with caplog.at_level(logging.INFO, logger="ferroflow.schedules"):
        results = run_on_schedule(schedule, run_once, now=clock.now, sleep=sleep)
    assert results == ["run 1", "run 2"]
    assert "Interrupted while waiting" in caplog.text


def test_keyboard_interrupt_during_a_run_propagates():
    clock = FakeClock()
    schedule = IntervalSchedule(start_date=T0, interval=timedelta(minutes=10))

    def run_once(parameters, scheduled_start_time):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep)


def test_an_error_in_run_once_propagates():
    clock = FakeClock()
    schedule = IntervalSchedule(start_date=T0, interval=timedelta(minutes=10))

    def run_once(parameters, scheduled_start_time):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep)


def test_times_missed_during_a_long_run_are_skipped():
    clock = FakeClock(T0.subtract(seconds=1))
    schedule = IntervalSchedule(start_date=T0, interval=timedelta(minutes=10))
    run_once, calls = _recorder(clock, took={"minutes": 25})
    run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep, max_runs=3)
    # 12:00 runs until 12:25, so 12:10 and 12:20 are skipped; 12:30 runs until 12:55 ...
    assert [c[1].format("HH:mm") for c in calls] == ["12:00", "12:30", "13:00"]
    assert all(scheduled == at for _, scheduled, at in calls)


def test_events_at_the_same_time_all_run_back_to_back():
    clock = FakeClock(T0.subtract(seconds=1))
    schedule = Schedule([
        IntervalClock(timedelta(hours=1), start_date=T0, parameter_defaults={"region": "us"}),
        IntervalClock(timedelta(hours=1), start_date=T0, parameter_defaults={"region": "eu"}),
    ])
    run_once, calls = _recorder(clock, took={"minutes": 5})
    run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep, max_runs=4)
    assert [(c[0]["region"], c[1].hour, c[2].format("HH:mm")) for c in calls] == [
        ("us", 12, "12:00"), ("eu", 12, "12:05"), ("us", 13, "13:00"), ("eu", 13, "13:05")]


def test_an_adjustment_that_moves_times_earlier_does_not_run_an_event_twice():
    clock = FakeClock(pendulum.datetime(2024, 1, 1, 7, tz="UTC"))
    schedule = Schedule([CronClock("0 9 * * *")], adjustments=[adjustments.add(timedelta(hours=-1))])
    run_once, calls = _recorder(clock, took={"minutes": 1})
    run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep, max_runs=3)
    assert [c[1].format("DD HH:mm") for c in calls] == ["01 08:00", "02 08:00", "03 08:00"]


def test_events_moved_onto_one_time_run_once():
    clock = FakeClock(pendulum.datetime(2024, 3, 8, 10, tz="UTC"))  # Friday after 09:00
    schedule = Schedule([CronClock("0 9 * * *")], adjustments=[adjustments.next_weekday])
    run_once, calls = _recorder(clock)
    run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep, max_runs=2)
    # Saturday's and Sunday's runs both move to Monday 09:00, where Monday's own is
    assert [c[1].format("ddd DD HH:mm") for c in calls] == ["Mon 11 09:00", "Tue 12 09:00"]


def test_runs_across_a_dst_change_on_the_wall_clock():
    ny = "America/New_York"
    clock = FakeClock(pendulum.datetime(2024, 3, 9, 10, tz=ny))
    schedule = Schedule([CronClock("30 2 * * *", start_date=pendulum.datetime(2024, 1, 1, tz=ny))],
                        filters=[filters.is_weekend])
    run_once, calls = _recorder(clock)
    run_on_schedule(schedule, run_once, now=clock.now, sleep=clock.sleep, max_runs=2)
    assert [c[1].isoformat() for c in calls] == ["2024-03-10T03:00:00-04:00",
                                                 "2024-03-16T02:30:00-04:00"]


def test_runs_a_real_flow_with_the_clock_parameters():
    @task
    def double(x):
        return 2 * x

    with Flow("scheduled") as flow:
        result = double(Parameter("x", default=1))

    schedule = Schedule([
        IntervalClock(timedelta(minutes=30), start_date=T0, parameter_defaults={"x": 10}),
        IntervalClock(timedelta(hours=1), start_date=T0.add(minutes=15),
                      parameter_defaults={"x": 20}),
    ])
    clock = FakeClock()
    states = run_on_schedule(schedule, lambda params, when: flow.run(**params),
                             now=clock.now, sleep=clock.sleep, max_runs=3)
    assert [s.is_successful() for s in states] == [True, True, True]
    assert [s.result[result].result for s in states] == [40, 20, 20]


def test_resume_and_approve_need_run_on_schedule_false():
    with Flow("scheduled", schedule=IntervalSchedule(start_date=T0, interval=timedelta(minutes=10))) as flow:
        Parameter("p", default=1)
    for option in ({"resume": "abc"}, {"resume": "abc", "approve": True}):
        with pytest.raises(ValueError, match="Flow 'scheduled' has a schedule: resume= and approve= resume one "
                                             "earlier run, so pass run_on_schedule=False with them"):
            flow.run(**option)
