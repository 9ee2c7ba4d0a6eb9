"""Schedule: merging clocks, deduplication, filters, adjustments, bounded scanning."""

from __future__ import annotations

from datetime import time, timedelta

import pendulum
import pytest

from ferroflow.schedules import (
    MAX_EVENTS_SCANNED,
    CronClock,
    CronSchedule,
    IntervalClock,
    IntervalSchedule,
    Schedule,
    adjustments,
    filters,
)

D = pendulum.datetime
UTC = "UTC"
NY = "America/New_York"


def _iso(times):
    return [t.isoformat() for t in times]


# --- merging and deduplication ---------------------------------------------------------

def test_clocks_merge_in_time_order_and_identical_events_run_once():
    start = D(2024, 1, 1, tz=UTC)
    schedule = Schedule([IntervalClock(timedelta(hours=3), start_date=start),
                         IntervalClock(timedelta(hours=2), start_date=start)])
    assert [t.hour for t in schedule.next(6, after=start)] == [2, 3, 4, 6, 8, 9]


def test_same_time_different_parameters_run_once_per_distinct_set_in_clock_order():
    start = D(2024, 1, 1, tz=UTC)
    schedule = Schedule([
        IntervalClock(timedelta(hours=12), start_date=start, parameter_defaults={"p": 1}),
        IntervalClock(timedelta(hours=12), start_date=start, parameter_defaults={"p": 2}),
        CronClock("0 0 * * *", start_date=start, parameter_defaults={"p": 1}),
    ])
    events = schedule.next(5, after=D(2024, 1, 1, 6, tz=UTC), return_events=True)
    assert [(e.start_time.hour, e.parameter_defaults["p"]) for e in events] == [
        (12, 1), (12, 2), (0, 1), (0, 2), (12, 1)]


def test_same_time_from_clocks_in_different_zones_is_one_time():
    schedule = Schedule([
        CronClock("0 9 * * *", start_date=D(2024, 1, 1, tz="Europe/Paris")),
        CronClock("0 8 * * *", start_date=D(2024, 1, 1, tz="Europe/London")),
    ])
    assert len(schedule.next(2, after=D(2024, 1, 10, tz=UTC))) == 2
    assert schedule.next(1, after=D(2024, 1, 10, tz=UTC))[0].day == 10
    assert schedule.next(2, after=D(2024, 1, 10, tz=UTC))[1].day == 11


def test_next_zero_and_return_events():
    schedule = IntervalSchedule(start_date=D(2024, 1, 1, tz=UTC), interval=timedelta(days=1))
    assert schedule.next(0) == []
    (event,) = schedule.next(1, after=D(2024, 1, 1, tz=UTC), return_events=True)
    assert event.start_time == D(2024, 1, 2, tz=UTC) and event.parameter_defaults == {}


def test_next_defaults_to_now():
    schedule = IntervalSchedule(interval=timedelta(minutes=1))
    before = pendulum.now(UTC)
    (t,) = schedule.next(1)
    assert t > before


def test_schedule_start_and_end_dates():
    a = IntervalClock(timedelta(hours=1), start_date=D(2024, 1, 2, tz=UTC),
                      end_date=D(2024, 2, 1, tz=UTC))
    b = IntervalClock(timedelta(hours=1), start_date=D(2024, 1, 1, 20, tz="America/Chicago"))
    assert Schedule([a, b]).start_date == D(2024, 1, 2, tz=UTC)  # 02:00 UTC on 2 January
    assert Schedule([a, b]).end_date == D(2024, 2, 1, tz=UTC)
    assert Schedule([b]).end_date is None


def test_a_filter_that_never_matches_stops_after_max_events_scanned():
    looked_at = []

    def never(dt):
        looked_at.append(dt)
        return False

    schedule = Schedule([IntervalClock(timedelta(minutes=1))], filters=[never])
    assert schedule.next(3, after=D(2024, 1, 1, tz=UTC)) == []
    assert len(looked_at) == MAX_EVENTS_SCANNED == 10_000


def test_a_rare_filter_still_finds_what_is_in_reach():
    # an hourly clock filtered to 1 March at noon: 1,4xx events away, within the bound
    schedule = Schedule([IntervalClock(timedelta(hours=1))],
                        filters=[filters.on_date(3, 1), filters.at_time(time(12))])
    assert _iso(schedule.next(1, after=D(2024, 1, 1, tz=UTC))) == ["2024-03-01T12:00:00+00:00"]


def test_repr():
    schedule = CronSchedule("0 9 * * *")
    assert repr(schedule) == "Schedule(clocks=[CronClock('0 9 * * *')])"


# --- filters ---------------------------------------------------------------------------

MON = D(2024, 3, 4, 9, tz=UTC)  # a Monday


@pytest.mark.parametrize("days, weekday, weekend", [
    (0, True, False), (4, True, False), (5, False, True), (6, False, True)])
def test_weekday_and_weekend(days, weekday, weekend):
    assert filters.is_weekday(MON.add(days=days)) is weekday
    assert filters.is_weekend(MON.add(days=days)) is weekend


def test_is_day_of_week_counts_from_monday():
    assert [filters.is_day_of_week(d)(MON) for d in range(7)] == [True] + [False] * 6
    assert filters.is_day_of_week(6)(MON.add(days=6))


@pytest.mark.parametrize("day, start, end", [
    (D(2024, 1, 1, tz=UTC), True, False), (D(2024, 1, 31, tz=UTC), False, True),
    (D(2024, 2, 29, tz=UTC), False, True), (D(2023, 2, 28, tz=UTC), False, True),
    (D(2024, 2, 28, tz=UTC), False, False), (D(2024, 4, 30, tz=UTC), False, True)])
def test_month_start_and_end(day, start, end):
    assert filters.is_month_start(day) is start
    assert filters.is_month_end(day) is end


def test_on_datetime_compares_instants():
    keep = filters.on_datetime(D(2024, 1, 1, 9, tz="Europe/Paris"))
    assert keep(D(2024, 1, 1, 8, tz=UTC))
    assert not keep(D(2024, 1, 1, 9, tz=UTC))


def test_between_datetimes_is_inclusive():
    keep = filters.between_datetimes(D(2024, 1, 1, tz=UTC), D(2024, 1, 2, tz=UTC))
    assert keep(D(2024, 1, 1, tz=UTC)) and keep(D(2024, 1, 2, tz=UTC))
    assert not keep(D(2024, 1, 2, 0, 0, 1, tz=UTC))


def test_on_date_and_between_dates():
    assert filters.on_date(12, 25)(D(2030, 12, 25, 23, tz=UTC))
    assert not filters.on_date(12, 25)(D(2030, 12, 26, tz=UTC))
    winter = filters.between_dates(10, 15, 3, 31)
    assert winter(D(2024, 1, 1, tz=UTC)) and winter(D(2024, 10, 15, tz=UTC))
    assert not winter(D(2024, 6, 1, tz=UTC))
    spring = filters.between_dates(3, 1, 5, 31)
    assert spring(D(2024, 5, 31, tz=UTC)) and not spring(D(2024, 6, 1, tz=UTC))
    # a start later in the same month than the end wraps the year too
    wrap = filters.between_dates(3, 20, 3, 10)
    assert wrap(D(2024, 3, 5, tz=UTC)) and wrap(D(2024, 7, 1, tz=UTC))
    assert not wrap(D(2024, 3, 15, tz=UTC))


def test_at_time_and_between_times_use_the_event_local_time():
    at_nine = filters.at_time(time(9))
    assert at_nine(D(2024, 7, 1, 9, tz=NY))
    assert not at_nine(D(2024, 7, 1, 9, tz=NY).in_timezone(UTC))
    night = filters.between_times(time(22), time(6))
    assert night(D(2024, 1, 1, 23, tz=UTC)) and night(D(2024, 1, 1, 6, tz=UTC))
    assert not night(D(2024, 1, 1, 12, tz=UTC))
    office = filters.between_times(time(9), time(17))
    assert office(D(2024, 1, 1, 17, tz=UTC)) and not office(D(2024, 1, 1, 17, 0, 1, tz=UTC))


def test_filters_all_or_and_not():
    clock = IntervalClock(timedelta(hours=1), start_date=D(2024, 1, 1, tz=NY))
    schedule = Schedule([clock], filters=[filters.is_weekday],
                        or_filters=[filters.at_time(time(9)), filters.at_time(time(17))],
                        not_filters=[filters.on_date(3, 12)])
    got = schedule.next(5, after=D(2024, 3, 8, tz=NY))  # Friday 8 March
    assert [t.format("ddd DD HH:mm") for t in got] == [
        "Fri 08 09:00", "Fri 08 17:00", "Mon 11 09:00", "Mon 11 17:00", "Wed 13 09:00"]


# --- adjustments -----------------------------------------------------------------------

def test_add_moves_by_elapsed_time():
    move = adjustments.add(timedelta(days=1))
    assert move(D(2024, 3, 9, 9, tz=NY)).isoformat() == "2024-03-10T10:00:00-04:00"
    assert adjustments.add(timedelta(minutes=-30))(D(2024, 1, 1, tz=UTC)) == \
        D(2023, 12, 31, 23, 30, tz=UTC)


def test_next_weekday():
    assert adjustments.next_weekday(MON) == MON
    assert adjustments.next_weekday(MON.add(days=5)) == MON.add(days=7)
    assert adjustments.next_weekday(MON.add(days=6)) == MON.add(days=7)


def test_adjustments_apply_in_order_after_filters_and_do_not_duplicate():
    clock = IntervalClock(timedelta(days=1), start_date=D(2024, 1, 1, 9, tz=UTC))
    schedule = Schedule([clock], adjustments=[adjustments.next_weekday])
    # Sat 9 and Sun 10 March both move onto Mon 11 March: one run there
    got = schedule.next(5, after=D(2024, 3, 7, tz=UTC))
    assert [t.day for t in got] == [7, 8, 11, 12, 13]
    schedule = Schedule([clock], filters=[filters.is_weekend],
                        adjustments=[adjustments.add(timedelta(minutes=-30)),
                                     adjustments.next_weekday])
    assert _iso(schedule.next(2, after=D(2024, 3, 7, tz=UTC))) == [
        "2024-03-11T08:30:00+00:00", "2024-03-18T08:30:00+00:00"]
