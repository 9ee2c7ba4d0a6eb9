"""Daylight saving time tables (RELIABILITY E3 and docs/schedules.md).

America/New_York in 2024: clocks go forward on Sunday 10 March at 02:00 EST (to 03:00
EDT; 02:00-02:59 never happens) and back on Sunday 3 November at 02:00 EDT (to 01:00
EST; 01:00-01:59 happens twice). The expected tables below are the ones documented in
docs/schedules.md; the same inputs were run on Prefect 1.4.1 (see cases.py and
test_prefect1_schedules.py) and agree except where noted.
"""

from __future__ import annotations

import collections
from datetime import timedelta

import pendulum
import pytest

from ferroflow.schedules import CronClock, IntervalClock, Schedule

NY = "America/New_York"


def _gap(a, b) -> timedelta:
    """Elapsed time from a to b. (Python subtracts two datetimes of the same zone by
    their wall-clock readings, so compare instants.)"""
    return timedelta(seconds=b.timestamp() - a.timestamp())


def _local(dt) -> str:
    """A time as New York wall clock with its UTC offset: '2024-03-10 03:00 -04:00'."""
    return pendulum.instance(dt).in_timezone(NY).format("YYYY-MM-DD HH:mm Z")


def runs_per_day(clock, first_day, last_day):
    """{local date: number of runs} for each New York day from first_day to last_day."""
    after = pendulum.datetime(*first_day, tz=NY).subtract(microseconds=1)
    end = pendulum.datetime(*last_day, tz=NY).add(days=1)
    counts = collections.Counter()
    for event in Schedule([clock]).events(after=after):
        if event.start_time.timestamp() >= end.timestamp():
            break
        counts[pendulum.instance(event.start_time).in_timezone(NY).date().isoformat()] += 1
    return dict(counts)


def times_on(clock, day):
    """The New York wall-clock times of the runs on one local day."""
    start = pendulum.datetime(*day, tz=NY)
    out = []
    for event in Schedule([clock]).events(after=start.subtract(microseconds=1)):
        if event.start_time.timestamp() >= start.add(days=1).timestamp():
            break
        out.append(_local(event.start_time))
    return out


def _cron(cron):
    return CronClock(cron, start_date=pendulum.datetime(2024, 1, 1, tz=NY))


# --- "30 2 * * *": the RELIABILITY E3 table ---------------------------------------------

def test_0230_daily_cron_runs_once_a_day_across_both_2024_changes():
    clock = _cron("30 2 * * *")
    assert runs_per_day(clock, (2024, 3, 8), (2024, 3, 12)) == {
        "2024-03-08": 1, "2024-03-09": 1, "2024-03-10": 1, "2024-03-11": 1, "2024-03-12": 1}
    assert runs_per_day(clock, (2024, 11, 1), (2024, 11, 5)) == {
        "2024-11-01": 1, "2024-11-02": 1, "2024-11-03": 1, "2024-11-04": 1, "2024-11-05": 1}


def test_0230_on_the_spring_forward_day_runs_at_the_change():
    # 02:30 does not exist on 10 March: the run happens at 03:00 EDT, when the clock jumps
    assert times_on(_cron("30 2 * * *"), (2024, 3, 10)) == ["2024-03-10 03:00 -04:00"]
    assert times_on(_cron("30 2 * * *"), (2024, 3, 11)) == ["2024-03-11 02:30 -04:00"]


def test_0230_on_the_fall_back_day_runs_once():
    # 02:30 happens once on 3 November (after the repeated hour): EST
    assert times_on(_cron("30 2 * * *"), (2024, 11, 3)) == ["2024-11-03 02:30 -05:00"]


def test_a_time_in_the_repeated_hour_runs_at_its_first_occurrence():
    assert times_on(_cron("30 1 * * *"), (2024, 11, 3)) == ["2024-11-03 01:30 -04:00"]


# --- hourly cron: skips and merges ------------------------------------------------------

def test_hourly_cron_follows_the_wall_clock():
    clock = _cron("0 * * * *")
    counts = runs_per_day(clock, (2024, 3, 9), (2024, 3, 11))
    assert counts == {"2024-03-09": 24, "2024-03-10": 23, "2024-03-11": 24}
    counts = runs_per_day(clock, (2024, 11, 2), (2024, 11, 4))
    assert counts == {"2024-11-02": 24, "2024-11-03": 24, "2024-11-04": 24}


def test_hourly_cron_on_the_spring_forward_day_skips_0200():
    spring = times_on(_cron("0 * * * *"), (2024, 3, 10))
    assert spring[:4] == ["2024-03-10 00:00 -05:00", "2024-03-10 01:00 -05:00",
                          "2024-03-10 03:00 -04:00", "2024-03-10 04:00 -04:00"]


def test_hourly_cron_on_the_fall_back_day_waits_two_hours_after_0100():
    autumn = times_on(_cron("0 * * * *"), (2024, 11, 3))
    assert autumn[:4] == ["2024-11-03 00:00 -04:00", "2024-11-03 01:00 -04:00",
                          "2024-11-03 02:00 -05:00", "2024-11-03 03:00 -05:00"]
    # 01:00 EDT to 02:00 EST is two hours of elapsed time
    first, second = [e.start_time for e in Schedule([_cron("0 * * * *")]).next(
        2, after=pendulum.datetime(2024, 11, 3, 0, 30, tz=NY), return_events=True)]
    assert _gap(first, second) == timedelta(hours=2)


def test_quarter_hourly_cron_merges_the_skipped_hour_into_one_run():
    spring = times_on(_cron("*/15 * * * *"), (2024, 3, 10))
    # the 96 quarter hours of the day, less 02:00-02:45 that collapse into the 03:00 run
    assert len(spring) == 96 - 4
    assert spring[7:10] == ["2024-03-10 01:45 -05:00", "2024-03-10 03:00 -04:00",
                            "2024-03-10 03:15 -04:00"]
    autumn = times_on(_cron("*/15 * * * *"), (2024, 11, 3))
    assert len(autumn) == 24 * 4  # every wall-clock quarter hour once


def test_half_past_hourly_cron_runs_the_skipped_0230_at_the_change():
    spring = times_on(_cron("30 * * * *"), (2024, 3, 10))
    assert spring[1:4] == ["2024-03-10 01:30 -05:00", "2024-03-10 03:00 -04:00",
                           "2024-03-10 03:30 -04:00"]
    assert len(spring) == 24


def test_daily_0900_cron_stays_at_0900():
    clock = _cron("0 9 * * *")
    assert [_local(t) for t in Schedule([clock]).next(
        4, after=pendulum.datetime(2024, 3, 9, tz=NY))] == [
        "2024-03-09 09:00 -05:00", "2024-03-10 09:00 -04:00",
        "2024-03-11 09:00 -04:00", "2024-03-12 09:00 -04:00"]


@pytest.mark.parametrize("tz, after, expected", [
    # southern hemisphere: Sydney goes back on 7 April 2024, forward on 6 October
    ("Australia/Sydney", (2024, 4, 6), ["2024-04-06T02:30:00+11:00", "2024-04-07T02:30:00+11:00",
                                        "2024-04-08T02:30:00+10:00"]),
    ("Australia/Sydney", (2024, 10, 5), ["2024-10-05T02:30:00+10:00", "2024-10-06T03:00:00+11:00",
                                         "2024-10-07T02:30:00+11:00"]),
    # a 30-minute shift (Lord Howe Island goes forward from 02:00 to 02:30)
    ("Australia/Lord_Howe", (2024, 10, 5), ["2024-10-05T02:30:00+10:30",
                                            "2024-10-06T02:30:00+11:00",
                                            "2024-10-07T02:30:00+11:00"]),
])
def test_0230_cron_in_other_zones(tz, after, expected):
    clock = CronClock("30 2 * * *", start_date=pendulum.datetime(2024, 1, 1, tz=tz))
    got = Schedule([clock]).next(3, after=pendulum.datetime(*after, tz=tz))
    assert [t.isoformat() for t in got] == expected


# --- interval clocks ---------------------------------------------------------------------

def test_daily_interval_keeps_0900_local_across_both_changes():
    clock = IntervalClock(timedelta(days=1), start_date=pendulum.datetime(2024, 1, 1, 9, tz=NY))
    spring = Schedule([clock]).next(3, after=pendulum.datetime(2024, 3, 9, tz=NY))
    autumn = Schedule([clock]).next(3, after=pendulum.datetime(2024, 11, 2, tz=NY))
    assert [_local(t) for t in spring] == ["2024-03-09 09:00 -05:00", "2024-03-10 09:00 -04:00",
                                           "2024-03-11 09:00 -04:00"]
    assert [_local(t) for t in autumn] == ["2024-11-02 09:00 -04:00", "2024-11-03 09:00 -05:00",
                                           "2024-11-04 09:00 -05:00"]
    # so the elapsed time between runs is 23 and 25 hours on the days of the change
    assert _gap(spring[0], spring[1]) == timedelta(hours=23)
    assert _gap(autumn[0], autumn[1]) == timedelta(hours=25)


def test_weekly_interval_keeps_local_time():
    clock = IntervalClock(timedelta(weeks=1), start_date=pendulum.datetime(2024, 3, 1, 18, tz=NY))
    got = Schedule([clock]).next(3, after=pendulum.datetime(2024, 3, 2, tz=NY))
    assert [_local(t) for t in got] == ["2024-03-08 18:00 -05:00", "2024-03-15 18:00 -04:00",
                                        "2024-03-22 18:00 -04:00"]


def test_hourly_interval_follows_utc():
    clock = IntervalClock(timedelta(hours=1), start_date=pendulum.datetime(2024, 1, 1, tz=NY))
    assert runs_per_day(clock, (2024, 3, 9), (2024, 3, 11)) == {
        "2024-03-09": 24, "2024-03-10": 23, "2024-03-11": 24}
    assert runs_per_day(clock, (2024, 11, 2), (2024, 11, 4)) == {
        "2024-11-02": 24, "2024-11-03": 25, "2024-11-04": 24}
    autumn = times_on(clock, (2024, 11, 3))
    # two runs that read 01:00 local, an hour apart
    assert autumn[1:4] == ["2024-11-03 01:00 -04:00", "2024-11-03 01:00 -05:00",
                           "2024-11-03 02:00 -05:00"]
    events = Schedule([clock]).next(30, after=pendulum.datetime(2024, 11, 2, 20, tz=NY))
    assert {_gap(a, b) for a, b in zip(events, events[1:], strict=False)} == {timedelta(hours=1)}
    events = Schedule([clock]).next(30, after=pendulum.datetime(2024, 3, 9, 20, tz=NY))
    assert {_gap(a, b) for a, b in zip(events, events[1:], strict=False)} == {timedelta(hours=1)}


def test_sub_daily_interval_is_elapsed_time_from_the_anchor():
    # anchored at midnight EST, a 12-hour clock fires at 01:00 and 13:00 in summer (EDT)
    clock = IntervalClock(timedelta(hours=12), start_date=pendulum.datetime(2024, 1, 1, tz=NY))
    got = Schedule([clock]).next(2, after=pendulum.datetime(2024, 7, 1, tz=NY))
    assert [_local(t) for t in got] == ["2024-07-01 01:00 -04:00", "2024-07-01 13:00 -04:00"]


def test_daily_interval_at_a_skipped_time_moves_forward_by_the_gap():
    clock = IntervalClock(timedelta(days=1), start_date=pendulum.datetime(2024, 1, 1, 2, 30, tz=NY))
    got = Schedule([clock]).next(3, after=pendulum.datetime(2024, 3, 9, tz=NY))
    assert [_local(t) for t in got] == ["2024-03-09 02:30 -05:00", "2024-03-10 03:30 -04:00",
                                        "2024-03-11 02:30 -04:00"]


def test_daily_interval_at_a_repeated_time_takes_the_second_occurrence():
    clock = IntervalClock(timedelta(days=1), start_date=pendulum.datetime(2024, 1, 1, 1, 30, tz=NY))
    got = Schedule([clock]).next(3, after=pendulum.datetime(2024, 11, 2, tz=NY))
    assert [_local(t) for t in got] == ["2024-11-02 01:30 -04:00", "2024-11-03 01:30 -05:00",
                                        "2024-11-04 01:30 -05:00"]


def test_a_day_the_zone_skipped_does_not_give_two_runs():
    # Samoa skipped 30 December 2011 entirely (UTC-10 to UTC+14)
    tz = "Pacific/Apia"
    clock = IntervalClock(timedelta(days=1), start_date=pendulum.datetime(2011, 12, 25, 10, tz=tz))
    got = Schedule([clock]).next(4, after=pendulum.datetime(2011, 12, 28, tz=tz))
    assert [t.format("YYYY-MM-DD HH:mm Z") for t in got] == [
        "2011-12-28 10:00 -10:00", "2011-12-29 10:00 -10:00",
        "2011-12-31 10:00 +14:00", "2012-01-01 10:00 +14:00"]
    # a cron clock runs the skipped day's 10:00 at the change (midnight), like any
    # skipped time
    cron = CronClock("0 10 * * *", start_date=pendulum.datetime(2011, 12, 25, tz=tz))
    got = Schedule([cron]).next(3, after=pendulum.datetime(2011, 12, 29, 12, tz=tz))
    assert [t.format("YYYY-MM-DD HH:mm Z") for t in got] == [
        "2011-12-31 00:00 +14:00", "2011-12-31 10:00 +14:00", "2012-01-01 10:00 +14:00"]


# --- a brute-force check of the cron rule ------------------------------------------------

def _reference_cron_times(cron, tz, first_day, hours):
    """Every minute of the first hours of a local day, matched one by one with croniter.match, mapped to
    instants by the documented rule: first occurrence; a skipped time at the change."""
    import datetime as dt
    import zoneinfo

    from croniter import croniter

    zone = zoneinfo.ZoneInfo(tz)
    utc = dt.timezone.utc
    # the instants of the window, minute by minute, with their wall-clock readings
    start = dt.datetime(*first_day, tzinfo=zone).astimezone(utc)
    end = start + timedelta(hours=hours)  # elapsed hours (start is in UTC)
    first_seen = {}
    instant = start
    while instant < end + timedelta(hours=3):
        wall = instant.astimezone(zone).replace(tzinfo=None)
        first_seen.setdefault(wall, instant)
        instant += timedelta(minutes=1)
    out = set()
    wall = dt.datetime(*first_day)
    while wall < dt.datetime(*first_day) + timedelta(hours=hours + 2):
        if croniter.match(cron, wall):
            if wall in first_seen:
                out.add(first_seen[wall])
            else:  # skipped: the first instant whose reading is later
                out.add(min(i for w, i in first_seen.items() if w > wall))
        wall += timedelta(minutes=1)
    return sorted(i for i in out if i < end)


@pytest.mark.parametrize("tz, day", [
    (NY, (2024, 3, 10)), (NY, (2024, 11, 3)),
    ("Australia/Lord_Howe", (2024, 10, 6)), ("Australia/Lord_Howe", (2024, 4, 7)),
    ("Europe/London", (2024, 3, 31)), ("Europe/London", (2024, 10, 27)),
])
@pytest.mark.parametrize("cron", ["*/7 * * * *", "0 * * * *", "15,45 1-3 * * *",
                                  "59 1 * * *", "0 2 * * *", "30 1,2,3 * * *"])
def test_cron_matches_a_brute_force_reference_around_changes(cron, tz, day):
    # the changes all happen between 00:00 and 04:00 local time
    expected = _reference_cron_times(cron, tz, day, 5)
    clock = CronClock(cron, start_date=pendulum.datetime(2024, 1, 1, tz=tz))
    start = pendulum.datetime(*day, tz=tz)
    end = start.add(hours=5).timestamp()
    got = []
    for event in Schedule([clock]).events(after=start.subtract(microseconds=1)):
        if event.start_time.timestamp() >= end:
            break
        got.append(event.start_time.timestamp())
    assert got == [t.timestamp() for t in expected]
