"""Bad input is a ScheduleError when the object is built, naming the culprit (E3)."""

from __future__ import annotations

import datetime
from datetime import timedelta

import pendulum
import pytest

from ferroflow.errors import FerroflowError
from ferroflow.schedules import (
    CronClock,
    CronSchedule,
    DatesClock,
    IntervalClock,
    IntervalSchedule,
    Schedule,
    ScheduleError,
    adjustments,
    filters,
    run_on_schedule,
)

UTC_START = pendulum.datetime(2024, 1, 1, tz="UTC")


def test_schedule_error_is_a_ferroflow_error_and_a_value_error():
    assert issubclass(ScheduleError, FerroflowError)
    assert issubclass(ScheduleError, ValueError)


# --- cron strings (RELIABILITY E3) -----------------------------------------------------

@pytest.mark.parametrize("cron, words", [
    ("61 * * * *", ["minute", "'61'", "61", "0-59"]),
    ("* * *", ["3 fields", "expected 5", "minute hour day-of-month month day-of-week"]),
    ("@hourlyy", ["unknown alias", "'@hourlyy'", "did you mean '@hourly'"]),
    ("0 0 30 2 *", ["never fires", "400 years", "month 2 has no day 30"]),
])
def test_reliability_e3_bad_cron_strings(cron, words):
    with pytest.raises(ScheduleError) as info:
        CronClock(cron, start_date=UTC_START)
    message = str(info.value)
    assert repr(cron) in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("cron, words", [
    ("0 24 * * *", ["hour field '24'", "outside 0-23"]),
    ("0 0 0 * *", ["day-of-month field '0'", "outside 1-31"]),
    ("0 0 * 13 *", ["month field '13'", "outside 1-12"]),
    ("0 0 * * 8", ["day-of-week field '8'", "outside 0-7"]),
    ("0 0 * * * 75", ["second field '75'", "outside 0-59"]),
    ("5,99 * * * *", ["minute field '5,99'", "value 99"]),
    ("10-70 * * * *", ["minute field '10-70'", "value 70"]),
    ("*/0 * * * *", ["minute field '*/0'", "step 0"]),
    ("a * * * *", ["minute field 'a'", "not valid cron syntax"]),
    ("0 0 * foo *", ["month field 'foo'", "jan-dec"]),
    ("0 0 * * funday", ["day-of-week field 'funday'", "sun-sat"]),
    ("1,,2 * * * *", ["minute field '1,,2'"]),
    ("R * * * *", ["minute field 'R'", "random"]),
    ("0 H * * *", ["hour field 'H'", "hash"]),
    ("* * * * * * * *", ["8 fields"]),
    ("", ["empty"]),
    ("   ", ["empty"]),
    ("@reboot", ["unknown alias", "@hourly"]),
    ("0 0 31 4,6,9,11 *", ["never fires", "months 4, 6, 9, 11 have no day 31"]),
    ("0 0 1 1 * 0 2020", ["never fires", "year"]),
])
def test_more_bad_cron_strings_name_the_field(cron, words):
    with pytest.raises(ScheduleError) as info:
        CronClock(cron, start_date=UTC_START)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("cron", [
    "0 0 29 2 *",                   # leap day: every four years is often enough
    "0 0 * * 7",                    # 7 is Sunday too
    "0 9 * jan,FEB mon-fri",        # names, any case
    "0 0 L * *",                    # last day of the month
    "0 0 15W * *",                  # nearest weekday
    "0 0 * * 5#2",                  # second Friday
    "0 0 ? * *",
    "@HOURLY",
    " 0 9 * * 1-5 ",                # surrounding blanks
    "0 12 * * * 30",                # seconds field
])
def test_valid_cron_strings_are_accepted(cron):
    CronClock(cron, start_date=UTC_START)


def test_day_or_false_with_rare_dates_is_not_mistaken_for_never():
    # 29 February falling on a Monday: 2044, then 2072 (28 years apart)
    clock = CronClock("0 0 29 2 1", start_date=pendulum.datetime(2024, 3, 1, tz="UTC"),
                      day_or=False)
    assert Schedule([clock]).next(2, after=pendulum.datetime(2024, 3, 1, tz="UTC")) == [
        pendulum.datetime(2044, 2, 29, tz="UTC"), pendulum.datetime(2072, 2, 29, tz="UTC")]


def test_day_or_or_makes_an_impossible_day_possible():
    # day 30 OR a Monday, in February: fires on Mondays
    CronClock("0 0 30 2 1", start_date=UTC_START)
    with pytest.raises(ScheduleError, match="never fires"):
        CronClock("0 0 30 2 1", start_date=UTC_START, day_or=False)


@pytest.mark.parametrize("cron", [None, 5, ["0", "*", "*", "*", "*"]])
def test_cron_must_be_a_string(cron):
    with pytest.raises(ScheduleError, match="cron must be a string"):
        CronClock(cron)


def test_day_or_must_be_a_bool():
    with pytest.raises(ScheduleError, match="day_or"):
        CronClock("0 0 * * *", day_or="yes")


def test_cron_schedule_shortcut_checks_too():
    with pytest.raises(ScheduleError, match="minute field '61'"):
        CronSchedule("61 * * * *")


# --- naive datetimes: taken as UTC, as Prefect 1 takes them ----------------------------

NAIVE = datetime.datetime(2024, 1, 1, 9)
NAIVE_AS_UTC = pendulum.datetime(2024, 1, 1, 9, tz="UTC")


@pytest.mark.parametrize("build, attribute", [
    (lambda: IntervalClock(timedelta(hours=1), start_date=NAIVE), "start_date"),
    (lambda: IntervalClock(timedelta(hours=1), end_date=NAIVE), "end_date"),
    (lambda: CronClock("0 9 * * *", start_date=NAIVE), "start_date"),
    (lambda: CronClock("0 9 * * *", end_date=pendulum.naive(2024, 1, 1, 9)), "end_date"),
])
def test_naive_start_or_end_date_is_utc(build, attribute):
    value = getattr(build(), attribute)
    assert value == NAIVE_AS_UTC and value.timezone_name == "UTC"


def test_naive_dates_of_schedules_and_dates_clocks_are_utc():
    schedule = IntervalSchedule(start_date=NAIVE, interval=timedelta(hours=1))
    assert schedule.next(2, after=datetime.datetime(2024, 1, 1, 10, 30)) == [
        pendulum.datetime(2024, 1, 1, 11, tz="UTC"), pendulum.datetime(2024, 1, 1, 12, tz="UTC")]
    cron = CronSchedule("0 9 * * *", start_date=NAIVE)
    assert cron.next(1, after=NAIVE) == [pendulum.datetime(2024, 1, 2, 9, tz="UTC")]
    assert DatesClock([UTC_START, NAIVE]).dates[-1] == NAIVE_AS_UTC


def test_naive_after_is_utc():
    clock = CronClock("0 * * * *", start_date=pendulum.datetime(2024, 1, 1, tz="Europe/Paris"))
    event = next(iter(clock.events(after=NAIVE)))  # 09:00 UTC is 10:00 in Paris: the next is 11:00
    assert event.start_time == pendulum.datetime(2024, 1, 1, 11, tz="Europe/Paris")
    assert event.start_time.timezone_name == "Europe/Paris"


def test_naive_filter_bounds_are_utc():
    assert filters.on_datetime(NAIVE)(NAIVE_AS_UTC)
    assert filters.between_datetimes(NAIVE, datetime.datetime(2024, 1, 1, 10))(NAIVE_AS_UTC.add(minutes=30))


@pytest.mark.parametrize("value", ["2024-01-01", 1704067200, datetime.date(2024, 1, 1)])
def test_start_date_must_be_a_datetime(value):
    with pytest.raises(ScheduleError, match="start_date must be a datetime"):
        IntervalClock(timedelta(hours=1), start_date=value)


def test_any_aware_datetime_is_accepted():
    import zoneinfo

    for start in (datetime.datetime(2024, 1, 1, tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo")),
                  datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc),
                  datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone(timedelta(hours=5)))):
        clock = CronClock("0 9 * * *", start_date=start)
        first = Schedule([clock]).next(1, after=start)[0]
        assert first.hour == 9 and first.utcoffset() == start.utcoffset()


# --- intervals and ranges --------------------------------------------------------------

@pytest.mark.parametrize("interval, words", [
    (timedelta(0), ["interval must be positive", "timedelta(0)"]),
    (timedelta(minutes=-5), ["interval must be positive"]),
    (3600, ["interval must be a datetime.timedelta", "int 3600"]),
    (1.5, ["interval must be a datetime.timedelta", "float"]),
    ("1h", ["interval must be a datetime.timedelta", "'1h'"]),
    (None, ["interval must be a datetime.timedelta"]),
])
def test_bad_interval(interval, words):
    with pytest.raises(ScheduleError) as info:
        IntervalClock(interval)
    for word in words:
        assert word in str(info.value)


def test_interval_schedule_without_interval():
    with pytest.raises(ScheduleError, match="needs an interval"):
        IntervalSchedule(start_date=UTC_START)


def test_end_before_start():
    with pytest.raises(ScheduleError) as info:
        IntervalClock(timedelta(hours=1), start_date=UTC_START,
                      end_date=pendulum.datetime(2023, 12, 31, tz="UTC"))
    message = str(info.value)
    assert "end_date 2023-12-31T00:00:00+00:00 is before start_date 2024-01-01T00:00:00+00:00" \
        in message
    with pytest.raises(ScheduleError, match="before start_date"):
        CronClock("0 * * * *", start_date=UTC_START,
                  end_date=pendulum.datetime(2023, 12, 31, tz="UTC"))


def test_end_equal_to_start_is_fine():
    clock = IntervalClock(timedelta(hours=1), start_date=UTC_START, end_date=UTC_START)
    assert Schedule([clock]).next(3, after=pendulum.datetime(2023, 1, 1, tz="UTC")) == [UTC_START]


@pytest.mark.parametrize("kwargs, words", [
    ({"parameter_defaults": [("x", 1)]}, ["parameter_defaults must be a dict"]),
    ({"parameter_defaults": {1: "x"}}, ["parameter_defaults keys", "1"]),
    ({"labels": "prod"}, ["labels must be a list of strings", "'prod'"]),
    ({"labels": ["ok", 3]}, ["labels must be strings", "3"]),
])
def test_bad_parameter_defaults_and_labels(kwargs, words):
    with pytest.raises(ScheduleError) as info:
        IntervalClock(timedelta(hours=1), **kwargs)
    for word in words:
        assert word in str(info.value)


def test_dates_clock_needs_dates():
    with pytest.raises(ScheduleError, match="at least one"):
        DatesClock([])
    with pytest.raises(ScheduleError, match="list of datetimes"):
        DatesClock(UTC_START)


# --- schedules, filters, adjustments ---------------------------------------------------

@pytest.mark.parametrize("clocks, words", [
    ([], ["at least one clock"]),
    (IntervalClock(timedelta(hours=1)), ["clocks must be a list of clocks"]),
    ([IntervalClock(timedelta(hours=1)), "0 * * * *"], ["clocks[1] must be a Clock", "str"]),
    (None, ["clocks must be a list"]),
])
def test_bad_clocks(clocks, words):
    with pytest.raises(ScheduleError) as info:
        Schedule(clocks)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("kwarg", ["filters", "or_filters", "not_filters", "adjustments"])
def test_filters_and_adjustments_must_be_lists_of_callables(kwarg):
    clock = IntervalClock(timedelta(hours=1))
    with pytest.raises(ScheduleError, match=rf"{kwarg}\[1\] must be a function"):
        Schedule([clock], **{kwarg: [filters.is_weekday, "weekday"]})
    with pytest.raises(ScheduleError, match=f"{kwarg} must be a list of functions"):
        Schedule([clock], **{kwarg: filters.is_weekday})


@pytest.mark.parametrize("n", [-1, 1.5, "3", True])
def test_next_needs_a_count(n):
    with pytest.raises(ScheduleError, match="n must be an int >= 0"):
        IntervalSchedule(interval=timedelta(hours=1)).next(n)


@pytest.mark.parametrize("build, words", [
    (lambda: filters.on_date(13, 1), ["on_date", "month", "13"]),
    (lambda: filters.on_date(2, 30), ["on_date", "day", "1 to 29", "30"]),
    (lambda: filters.on_date(4, 31), ["1 to 30"]),
    (lambda: filters.between_dates(1, 1, 0, 5), ["between_dates end", "month"]),
    (lambda: filters.at_time("09:00"), ["at_time(t) must be a datetime.time"]),
    (lambda: filters.at_time(datetime.time(9, tzinfo=datetime.timezone.utc)),
     ["has a time zone", "plain time"]),
    (lambda: filters.between_times(datetime.time(9), 17), ["between_times(end)"]),
    (lambda: filters.on_datetime("2024-01-01"), ["on_datetime(dt) must be a datetime"]),
    (lambda: filters.between_datetimes(UTC_START, 3), ["between_datetimes(end) must be a datetime"]),
    (lambda: filters.between_datetimes(UTC_START, UTC_START.subtract(days=1)),
     ["end", "is before start"]),
    (lambda: filters.is_day_of_week(7), ["0 (Monday) to 6 (Sunday)", "7"]),
    (lambda: adjustments.add(3600), ["add(interval)", "timedelta", "3600"]),
])
def test_bad_filter_and_adjustment_arguments(build, words):
    with pytest.raises(ScheduleError) as info:
        build()
    for word in words:
        assert word in str(info.value)


def test_on_date_accepts_leap_day():
    filters.on_date(2, 29)


@pytest.mark.parametrize("kwargs, words", [
    ({"max_runs": -1}, ["max_runs"]),
    ({"max_runs": 1.0}, ["max_runs"]),
    ({"stop": True}, ["stop must be a callable"]),
])
def test_run_on_schedule_checks_its_arguments(kwargs, words):
    schedule = IntervalSchedule(interval=timedelta(hours=1))
    with pytest.raises(ScheduleError) as info:
        run_on_schedule(schedule, lambda p, t: None, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_run_on_schedule_needs_a_schedule_and_a_callable():
    with pytest.raises(ScheduleError, match="needs a Schedule"):
        run_on_schedule(IntervalClock(timedelta(hours=1)), lambda p, t: None)
    with pytest.raises(ScheduleError, match="run_once must be callable"):
        run_on_schedule(IntervalSchedule(interval=timedelta(hours=1)), None)


def test_run_on_schedule_refuses_a_naive_clock():
    schedule = IntervalSchedule(interval=timedelta(hours=1))
    with pytest.raises(ScheduleError, match="now callable must return an aware datetime"):
        run_on_schedule(schedule, lambda p, t: None, now=lambda: NAIVE, sleep=lambda s: None)
