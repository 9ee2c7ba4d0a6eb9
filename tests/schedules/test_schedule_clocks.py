"""Clock semantics: anchors, bounds, events, parameter defaults and labels."""

from __future__ import annotations

import datetime
from datetime import timedelta

import pendulum
import pytest

from ferroflow.schedules import (
    Clock,
    ClockEvent,
    CronClock,
    DatesClock,
    IntervalClock,
    Schedule,
)

UTC = "UTC"
D = pendulum.datetime


def _iso(times):
    return [t.isoformat() for t in times]


# --- ClockEvent ------------------------------------------------------------------------

def test_clock_event_equality_and_order():
    t = D(2024, 1, 1, tz=UTC)
    a = ClockEvent(t, {"x": 1}, ["l"])
    assert a == ClockEvent(t, {"x": 1}, ["l"])
    assert a != ClockEvent(t, {"x": 2}, ["l"])
    assert a != ClockEvent(t, {"x": 1}, None)
    assert a == t and a == t.in_timezone("Asia/Tokyo")
    assert a != datetime.datetime(2024, 1, 1)  # a naive datetime is no instant
    b = ClockEvent(t.add(hours=1))
    assert a < b and b > a and a <= b and b >= a and a < t.add(minutes=1)
    assert sorted([b, a]) == [a, b]
    with pytest.raises(TypeError):
        _ = a < 5
    with pytest.raises(TypeError):
        hash(a)
    assert "2024-01-01T00:00:00+00:00" in repr(a) and "{'x': 1}" in repr(a)


def test_clock_event_compares_instants_not_wall_clock_readings():
    # 01:00 EDT and 01:00 EST on 3 November 2024: the same reading, an hour apart
    first = D(2024, 11, 3, 5, tz=UTC).in_timezone("America/New_York")
    second = D(2024, 11, 3, 6, tz=UTC).in_timezone("America/New_York")
    assert ClockEvent(first) != ClockEvent(second)
    assert ClockEvent(first) < ClockEvent(second)


def test_clock_event_defaults():
    event = ClockEvent(D(2024, 1, 1, tz=UTC))
    assert event.parameter_defaults == {} and event.labels is None


def test_each_event_gets_its_own_parameter_dict():
    clock = IntervalClock(timedelta(hours=1), parameter_defaults={"x": 1}, labels=["a"])
    first, second = Schedule([clock]).next(2, after=D(2024, 1, 1, tz=UTC), return_events=True)
    first.parameter_defaults["x"] = 99
    first.labels.append("b")
    assert second.parameter_defaults == {"x": 1} and second.labels == ["a"]
    assert clock.parameter_defaults == {"x": 1} and clock.labels == ["a"]


# --- IntervalClock ---------------------------------------------------------------------

def test_interval_clock_default_anchor_is_2019_01_01_utc():
    clock = IntervalClock(timedelta(minutes=7))
    assert clock.start_date is None
    got = Schedule([clock]).next(2, after=D(2019, 1, 1, tz=UTC))
    assert _iso(got) == ["2019-01-01T00:07:00+00:00", "2019-01-01T00:14:00+00:00"]
    # before the anchor, the anchor itself is the first event
    got = Schedule([clock]).next(1, after=D(2018, 6, 1, tz=UTC))
    assert _iso(got) == ["2019-01-01T00:00:00+00:00"]


def test_interval_clock_events_are_strictly_after():
    clock = IntervalClock(timedelta(hours=6), start_date=D(2024, 6, 1, 3, tz=UTC))
    assert _iso(Schedule([clock]).next(2, after=D(2024, 6, 1, 9, tz=UTC))) == [
        "2024-06-01T15:00:00+00:00", "2024-06-01T21:00:00+00:00"]
    assert _iso(Schedule([clock]).next(1, after=D(2024, 6, 1, 8, 59, 59, 999999, tz=UTC))) == [
        "2024-06-01T09:00:00+00:00"]


def test_interval_clock_end_date_is_inclusive():
    clock = IntervalClock(timedelta(days=1), start_date=D(2024, 6, 1, tz=UTC),
                          end_date=D(2024, 6, 3, tz=UTC))
    assert _iso(Schedule([clock]).next(10, after=D(2024, 1, 1, tz=UTC))) == [
        "2024-06-01T00:00:00+00:00", "2024-06-02T00:00:00+00:00", "2024-06-03T00:00:00+00:00"]
    assert Schedule([clock]).next(10, after=D(2024, 6, 3, tz=UTC)) == []


def test_interval_clock_is_exact_far_from_its_anchor():
    # 7-second steps from 2000 to 2030 land exactly on the grid (no float drift)
    clock = IntervalClock(timedelta(seconds=7), start_date=D(2000, 1, 1, tz=UTC))
    got = Schedule([clock]).next(3, after=D(2030, 1, 1, tz=UTC))
    for t in got:
        assert int(t.timestamp() - D(2000, 1, 1, tz=UTC).timestamp()) % 7 == 0
    assert [b.timestamp() - a.timestamp() for a, b in zip(got, got[1:], strict=False)] == [7, 7]
    clock = IntervalClock(timedelta(microseconds=1), start_date=D(2000, 1, 1, tz=UTC))
    got = Schedule([clock]).next(2, after=D(2030, 1, 1, tz=UTC))
    assert [t.microsecond for t in got] == [1, 2]


def test_interval_clock_shows_times_in_the_start_date_zone():
    clock = IntervalClock(timedelta(hours=1), start_date=D(2024, 1, 1, tz="Asia/Kolkata"))
    (t,) = Schedule([clock]).next(1, after=D(2024, 1, 1, 3, 10, tz=UTC))
    assert t.isoformat() == "2024-01-01T09:00:00+05:30"  # 03:30 UTC
    assert isinstance(t, pendulum.DateTime)


def test_interval_clock_keeps_the_interval():
    clock = IntervalClock(timedelta(days=1, hours=1))
    assert clock.interval == timedelta(hours=25)
    assert "IntervalClock(datetime.timedelta(days=1, seconds=3600)" in repr(clock)


# --- CronClock -------------------------------------------------------------------------

def test_cron_clock_without_start_date_runs_in_utc():
    clock = CronClock("15 */6 * * *")
    assert _iso(Schedule([clock]).next(3, after=D(2024, 2, 28, 20, tz="Asia/Tokyo"))) == [
        "2024-02-28T12:15:00+00:00", "2024-02-28T18:15:00+00:00", "2024-02-29T00:15:00+00:00"]


def test_cron_clock_start_date_itself_fires():
    clock = CronClock("0 9 * * *", start_date=D(2024, 5, 1, 9, tz="Europe/Paris"))
    assert _iso(Schedule([clock]).next(2, after=D(2024, 1, 1, tz=UTC))) == [
        "2024-05-01T09:00:00+02:00", "2024-05-02T09:00:00+02:00"]


def test_cron_clock_start_date_counts_to_the_microsecond():
    clock = CronClock("0 0 * * *", start_date=D(2020, 1, 1, 0, 0, 0, 1, tz=UTC))
    assert _iso(Schedule([clock]).next(1, after=D(2019, 1, 1, tz=UTC))) == [
        "2020-01-02T00:00:00+00:00"]


def test_cron_clock_after_on_a_match_is_excluded():
    clock = CronClock("0 * * * *", start_date=D(2024, 1, 1, tz=UTC))
    assert _iso(Schedule([clock]).next(1, after=D(2024, 6, 1, 12, tz=UTC))) == [
        "2024-06-01T13:00:00+00:00"]


def test_cron_clock_end_date():
    clock = CronClock("0 0 * * *", start_date=D(2024, 1, 1, tz=UTC), end_date=D(2024, 1, 3, tz=UTC))
    assert len(Schedule([clock]).next(10, after=D(2023, 1, 1, tz=UTC))) == 3


def test_cron_clock_with_a_year_field_runs_out():
    clock = CronClock("0 0 1 1 * 0 2025-2026", start_date=D(2024, 1, 1, tz=UTC))
    assert _iso(Schedule([clock]).next(5, after=D(2024, 1, 1, tz=UTC))) == [
        "2025-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"]


def test_cron_day_or():
    start = D(2024, 1, 1, tz=UTC)
    either = Schedule([CronClock("0 9 8-14 * 5", start_date=start)])
    both = Schedule([CronClock("0 9 8-14 * 5", start_date=start, day_or=False)])
    assert [t.day for t in either.next(4, after=D(2024, 3, 1, tz=UTC))] == [1, 8, 9, 10]
    # the second Friday of each month
    assert _iso(both.next(3, after=D(2024, 3, 1, tz=UTC))) == [
        "2024-03-08T09:00:00+00:00", "2024-04-12T09:00:00+00:00", "2024-05-10T09:00:00+00:00"]
    assert CronClock("0 9 * * *", day_or=None).day_or is True


def test_cron_clock_keeps_its_string_and_repr():
    clock = CronClock("  0 9 * * 1-5 ", start_date=D(2024, 1, 1, tz=UTC), labels=["x"])
    assert clock.cron == "0 9 * * 1-5"
    assert repr(clock) == ("CronClock('0 9 * * 1-5', start_date=2024-01-01T00:00:00+00:00, "
                           "labels=['x'])")


# --- DatesClock ------------------------------------------------------------------------

def test_dates_clock_sorts_and_dedups():
    dates = [D(2024, 3, 1, tz=UTC), D(2024, 1, 1, tz=UTC), D(2024, 1, 1, 9, tz="Asia/Tokyo")]
    clock = DatesClock(dates, parameter_defaults={"x": 1}, labels=["l"])
    assert clock.start_date == D(2024, 1, 1, tz=UTC)
    assert clock.end_date == D(2024, 3, 1, tz=UTC)
    events = Schedule([clock]).next(5, after=D(2023, 1, 1, tz=UTC), return_events=True)
    assert [e.start_time for e in events] == [D(2024, 1, 1, tz=UTC), D(2024, 3, 1, tz=UTC)]
    assert all(e.parameter_defaults == {"x": 1} and e.labels == ["l"] for e in events)
    assert Schedule([clock]).next(5, after=D(2024, 1, 1, tz=UTC)) == [D(2024, 3, 1, tz=UTC)]
    assert "DatesClock([2024-01-01T00:00:00+00:00, 2024-03-01T00:00:00+00:00]" in repr(clock)


def test_dates_clock_accepts_a_generator_of_stdlib_datetimes():
    utc = datetime.timezone.utc
    clock = DatesClock(datetime.datetime(2024, 1, d, tzinfo=utc) for d in (3, 2))
    assert [t.day for t in Schedule([clock]).next(5, after=D(2024, 1, 1, tz=UTC))] == [2, 3]


# --- custom clocks ---------------------------------------------------------------------

def test_a_clock_subclass_works_in_a_schedule():
    class EveryMinuteOfOneHour(Clock):
        def events(self, after=None):
            base = D(2024, 1, 1, tz=UTC)
            return (self._event(base.add(minutes=m)) for m in range(60)
                    if base.add(minutes=m) > after)

    schedule = Schedule([EveryMinuteOfOneHour(parameter_defaults={"p": 1})])
    assert [t.minute for t in schedule.next(3, after=D(2024, 1, 1, 0, 57, tz=UTC))] == [58, 59]


def test_the_base_clock_has_no_events():
    with pytest.raises(NotImplementedError):
        Clock().events()
