"""Schedules as JSON: ``from_spec(json.loads(json.dumps(to_spec(s))))`` is ``s``."""

from __future__ import annotations

import copy
import datetime as _dt
import json
import zoneinfo
from datetime import time, timedelta

import pendulum
import pytest

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
    from_spec,
    to_spec,
)
from ferroflow.schedules.clocks import Clock

NY = "America/New_York"
LONDON = "Europe/London"
AFTER = pendulum.datetime(2024, 1, 1, tz="UTC")


def ny(*args: int) -> pendulum.DateTime:
    return pendulum.datetime(*args, tz=NY)


def london(*args: int) -> pendulum.DateTime:
    return pendulum.datetime(*args, tz=LONDON)


# the two 01:30 of the autumn change in New York (EDT, then EST)
FIRST_0130 = ny(2024, 11, 3, 0, 30).add(hours=1)
SECOND_0130 = ny(2024, 11, 3, 0, 30).add(hours=2)

SCHEDULES = {
    "interval-hourly-ny-dst": Schedule([IntervalClock(timedelta(hours=1),
                                                      start_date=ny(2024, 3, 9, 22))]),
    "interval-daily-ny-dst": Schedule([IntervalClock(timedelta(days=1),
                                                     start_date=ny(2024, 1, 1, 2, 30))]),
    "interval-daily-london-dst": Schedule([IntervalClock(timedelta(days=1),
                                                         start_date=london(2024, 1, 1, 1, 30))]),
    "interval-90min-london": Schedule([IntervalClock(timedelta(minutes=90, microseconds=5),
                                                     start_date=london(2024, 3, 30, 23))]),
    "interval-second-0130-anchor": Schedule([IntervalClock(timedelta(days=1),
                                                           start_date=SECOND_0130)]),
    "interval-first-0130-anchor": Schedule([IntervalClock(timedelta(days=1),
                                                          start_date=FIRST_0130)]),
    "interval-no-start": IntervalSchedule(interval=timedelta(minutes=17)),
    "interval-start-end": IntervalSchedule(start_date=ny(2024, 2, 1), interval=timedelta(hours=7),
                                           end_date=ny(2024, 3, 20)),
    "interval-fixed-offset": Schedule([IntervalClock(
        timedelta(hours=5), start_date=_dt.datetime(2024, 1, 1, tzinfo=_dt.timezone(
            timedelta(hours=5, minutes=30))))]),
    "interval-stdlib-zoneinfo": Schedule([IntervalClock(timedelta(hours=6), start_date=_dt.datetime(
        2024, 3, 30, 23, tzinfo=zoneinfo.ZoneInfo(LONDON)))]),
    "interval-naive-start": Schedule([IntervalClock(timedelta(hours=3),
                                                    start_date=_dt.datetime(2024, 1, 1, 4))]),
    "cron-ny-dst-skipped": CronSchedule("30 2 * * *", start_date=ny(2024, 1, 1)),
    "cron-ny-hourly": CronSchedule("0 * * * *", start_date=ny(2024, 3, 7)),
    "cron-ny-hourly-autumn": CronSchedule("30 * * * *", start_date=ny(2024, 10, 30)),
    "interval-hourly-london-autumn": Schedule([IntervalClock(timedelta(hours=1),
                                                             start_date=london(2024, 10, 25))]),
    "cron-london-repeated": CronSchedule("30 1 * * *", start_date=london(2024, 1, 1)),
    "cron-london-15min": CronSchedule("*/15 0-3 * * *", start_date=london(2024, 3, 25)),
    "cron-day-or-false": CronSchedule("0 9 8-14 * fri", start_date=ny(2024, 1, 1),
                                      day_or=False),
    "cron-no-start-end": CronSchedule("@daily", end_date=pendulum.datetime(2024, 3, 1)),
    "cron-start-end": CronSchedule("0 12 * * mon", start_date=london(2024, 2, 1),
                                   end_date=london(2024, 6, 1)),
    "cron-parameters-labels": Schedule([CronClock(
        "0 6 * * *", start_date=ny(2024, 1, 1), end_date=ny(2025, 1, 1),
        parameter_defaults={"region": "us", "n": 3, "ratio": 0.5, "on": True, "none": None,
                            "nested": {"a": [1, {"b": "c"}]}},
        labels=["gpu", "eu"])]),
    "dates-clock": Schedule([DatesClock(
        [ny(2024, 3, 10, 3), FIRST_0130, SECOND_0130, london(2024, 10, 27, 1, 30),
         pendulum.datetime(2024, 1, 1, 12)], parameter_defaults={"x": [1, 2]},
        labels=["once"])]),
    "several-clocks": Schedule([
        IntervalClock(timedelta(hours=1), start_date=ny(2024, 1, 1)),
        IntervalClock(timedelta(hours=2), start_date=ny(2024, 1, 1),
                      parameter_defaults={"region": "us"}),
        CronClock("0 9 * * *", start_date=london(2024, 1, 1), labels=["a"]),
        DatesClock([ny(2024, 1, 1, 5)], parameter_defaults={"region": "eu"}),
    ]),
    "plain-filters": Schedule([IntervalClock(timedelta(hours=1), start_date=ny(2024, 1, 1))],
                              filters=[filters.is_weekday], or_filters=[
                                  filters.is_month_start, filters.is_month_end],
                              not_filters=[filters.is_weekend]),
    "factory-filters": Schedule(
        [IntervalClock(timedelta(minutes=30), start_date=ny(2024, 1, 1))],
        filters=[filters.between_dates(3, 20, 3, 10), filters.between_times(time(22), time(6)),
                 filters.between_datetimes(ny(2024, 1, 1), london(2026, 1, 1))],
        or_filters=[filters.at_time(time(23, 30)), filters.at_time(time(1, 30)),
                    filters.is_day_of_week(2), filters.on_date(2, 29)],
        not_filters=[filters.on_datetime(FIRST_0130),
                     filters.on_datetime(_dt.datetime(2024, 1, 3, 4, 30))]),
    "adjustments": Schedule([CronClock("0 18 L * *", start_date=ny(2024, 1, 1))],
                            adjustments=[adjustments.next_weekday,
                                         adjustments.add(timedelta(days=-1, minutes=30,
                                                                   microseconds=250))]),
    "time-with-microseconds": Schedule(
        [IntervalClock(timedelta(seconds=1, microseconds=500_000),
                       start_date=ny(2024, 1, 1, 9, 0, 0, 0))],
        filters=[filters.between_times(time(9, 0, 0, 500_000), time(9, 30))]),
}


def round_trip(schedule: Schedule) -> Schedule:
    return from_spec(json.loads(json.dumps(to_spec(schedule), allow_nan=False)))


def described(schedule: Schedule) -> list:
    return [(e.start_time.isoformat(), _dt.datetime.timestamp(e.start_time), e.start_time.tzname(),
             e.parameter_defaults, e.labels)
            for e in schedule.next(200, after=AFTER, return_events=True)]


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_round_trip_keeps_the_next_200_events(name):
    schedule = SCHEDULES[name]
    expected = described(schedule)
    assert expected, "the case should produce events"
    assert described(round_trip(schedule)) == expected


def test_the_cases_cover_every_builtin_filter_and_adjustment():
    used = set()
    for schedule in SCHEDULES.values():
        spec = to_spec(schedule)
        for field in ("filters", "or_filters", "not_filters", "adjustments"):
            used.update(f["name"] for f in spec[field])
    assert used == set(filters.__all__) | set(adjustments.__all__)


def test_spec_shape_is_plain_json_with_version_and_zone_names():
    spec = to_spec(SCHEDULES["interval-second-0130-anchor"])
    assert spec["v"] == 1
    assert spec["clocks"][0]["start_date"] == {"dt": "2024-11-03T01:30:00-05:00", "tz": NY}
    assert spec["clocks"][0]["interval"] == 86400
    first = to_spec(SCHEDULES["interval-first-0130-anchor"])["clocks"][0]["start_date"]
    assert first == {"dt": "2024-11-03T01:30:00-04:00", "tz": NY}
    spec = to_spec(SCHEDULES["factory-filters"])
    assert spec["filters"][0] == {"name": "between_dates", "args": [3, 20, 3, 10]}
    assert spec["or_filters"][0] == {"name": "at_time", "args": ["23:30:00"]}
    fixed = to_spec(SCHEDULES["interval-fixed-offset"])["clocks"][0]["start_date"]
    assert fixed == {"dt": "2024-01-01T00:00:00+05:30", "tz": None}


def test_factories_still_behave_as_functions_and_record_their_arguments():
    f = filters.between_dates(3, 20, 3, 10)
    assert (f.name, f.args) == ("between_dates", (3, 20, 3, 10))
    assert f(ny(2024, 3, 9)) and not f(ny(2024, 3, 15))
    assert repr(filters.at_time(time(9))) == "at_time(datetime.time(9, 0))"
    assert adjustments.add(timedelta(hours=1))(ny(2024, 1, 1)) == ny(2024, 1, 1, 1)


# -- refused when writing -------------------------------------------------------------


def my_filter(dt):
    return dt.hour == 9


def test_a_user_function_filter_is_refused_by_name():
    schedule = Schedule([IntervalClock(timedelta(hours=1))], not_filters=[my_filter])
    with pytest.raises(ValueError, match=r"not_filters\[0\]: my_filter is a function of "
                                         r"your own.*at_time"):
        to_spec(schedule)
    schedule = Schedule([IntervalClock(timedelta(hours=1))],
                        adjustments=[lambda dt: dt])
    with pytest.raises(ValueError, match=r"adjustments\[0\]: .*<lambda>.*next_weekday"):
        to_spec(schedule)


def test_a_non_json_parameter_default_is_refused_by_name():
    clock = IntervalClock(timedelta(hours=1), parameter_defaults={"when": _dt.date(2024, 1, 1)})
    with pytest.raises(ValueError, match=r"clocks\[0\]\.parameter_defaults\['when'\] is a "
                                         r"date"):
        to_spec(Schedule([clock]))
    clock = IntervalClock(timedelta(hours=1), parameter_defaults={"xs": [1, (2, 3)]})
    with pytest.raises(ValueError, match=r"parameter_defaults\['xs'\]\[1\] is a tuple"):
        to_spec(Schedule([clock]))
    clock = IntervalClock(timedelta(hours=1), parameter_defaults={"x": float("nan")})
    with pytest.raises(ValueError, match=r"parameter_defaults\['x'\] is nan"):
        to_spec(Schedule([clock]))


def test_a_custom_clock_is_refused_by_name():
    class EveryMinute(Clock):
        def events(self, after=None):
            return iter(())

    with pytest.raises(ValueError, match=r"clocks\[0\]: EveryMinute has no JSON form"):
        to_spec(Schedule([EveryMinute()]))


# -- refused when reading -------------------------------------------------------------


def good_spec() -> dict:
    schedule = Schedule(
        [CronClock("0 9 * * *", start_date=ny(2024, 1, 1), labels=["a"]),
         IntervalClock(timedelta(hours=1)), DatesClock([ny(2024, 1, 1)])],
        filters=[filters.at_time(time(9))], adjustments=[adjustments.add(timedelta(hours=1))])
    return json.loads(json.dumps(to_spec(schedule)))


def mutated(change) -> dict:
    spec = copy.deepcopy(good_spec())
    change(spec)
    return spec


def _set(path, value):
    def change(spec):
        target = spec
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _delete(path):
    def change(spec):
        target = spec
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


MALFORMED = {
    "not-an-object": (lambda s: None, r"schedule spec must be an object"),
    "unknown-top-field": (_set(["code"], "x"), r"schedule spec: unknown field 'code'"),
    "missing-top-field": (_delete(["not_filters"]), r"missing field 'not_filters'"),
    "wrong-version": (_set(["v"], 2), r"v is 2"),
    "bool-version": (_set(["v"], True), r"v is True"),
    "clocks-not-list": (_set(["clocks"], {}), r"clocks must be a list"),
    "no-clocks": (_set(["clocks"], []), r"at least one clock"),
    "unknown-clock-kind": (_set(["clocks", 0, "kind"], "python"),
                           r"clocks\[0\]: unknown clock kind 'python'"),
    "unknown-clock-field": (_set(["clocks", 1, "every"], 5),
                            r"clocks\[1\]: unknown field 'every'"),
    "missing-clock-field": (_delete(["clocks", 0, "day_or"]),
                            r"clocks\[0\]: missing field 'day_or'"),
    "bad-cron": (_set(["clocks", 0, "cron"], "61 * * * *"), r"clocks\[0\]: .*minute"),
    "cron-not-string": (_set(["clocks", 0, "cron"], 5), r"clocks\[0\]\.cron must be a string"),
    "day-or-not-bool": (_set(["clocks", 0, "day_or"], 1), r"clocks\[0\]\.day_or"),
    "interval-string": (_set(["clocks", 1, "interval"], "3600"),
                        r"clocks\[1\]\.interval must be a number of seconds"),
    "interval-negative": (_set(["clocks", 1, "interval"], -5), r"clocks\[1\]: .*positive"),
    "interval-huge": (_set(["clocks", 1, "interval"], 1e300), r"clocks\[1\]\.interval"),
    "labels-not-strings": (_set(["clocks", 0, "labels"], [1]), r"clocks\[0\]\.labels"),
    "defaults-not-object": (_set(["clocks", 0, "parameter_defaults"], []),
                            r"clocks\[0\]\.parameter_defaults must be an object"),
    "date-not-object": (_set(["clocks", 0, "start_date"], "2024-01-01"),
                        r"clocks\[0\]\.start_date must be an object"),
    "date-extra-field": (_set(["clocks", 0, "start_date", "fold"], 1),
                         r"clocks\[0\]\.start_date: unknown field 'fold'"),
    "date-bad-iso": (_set(["clocks", 0, "start_date", "dt"], "yesterday"),
                     r"clocks\[0\]\.start_date\.dt: 'yesterday' is not an ISO 8601"),
    "date-naive": (_set(["clocks", 0, "start_date", "dt"], "2024-01-01T00:00:00"),
                   r"start_date\.dt: .* has no UTC offset"),
    "date-unknown-zone": (_set(["clocks", 0, "start_date", "tz"], "Mars/Olympus"),
                          r"start_date\.tz: unknown time zone 'Mars/Olympus'"),
    "date-zone-path": (_set(["clocks", 0, "start_date", "tz"], "../../etc/passwd"),
                       r"start_date\.tz: unknown time zone"),
    "dates-empty": (_set(["clocks", 2, "dates"], []), r"clocks\[2\]: .*at least one"),
    "dates-item-bad": (_set(["clocks", 2, "dates", 0], 5), r"clocks\[2\]\.dates\[0\] must be"),
    "unknown-filter": (_set(["filters", 0, "name"], "eval"), r"filters\[0\]: unknown name 'eval'"),
    "adjustment-as-filter": (_set(["filters", 0], {"name": "add", "args": [1]}),
                             r"filters\[0\]: unknown name 'add'"),
    "filter-extra-field": (_set(["filters", 0, "code"], "x"),
                           r"filters\[0\]: unknown field 'code'"),
    "filter-wrong-arg-count": (_set(["filters", 0, "args"], []),
                               r"filters\[0\]: at_time takes 1 argument"),
    "filter-bad-time": (_set(["filters", 0, "args"], ["nine"]),
                        r"filters\[0\]\.args\[0\]: 'nine' is not a time"),
    "filter-bad-int": (_set(["filters", 0], {"name": "on_date", "args": [2, "29"]}),
                       r"filters\[0\]\.args\[1\] must be an integer"),
    "filter-bad-value": (_set(["filters", 0], {"name": "on_date", "args": [2, 30]}),
                         r"filters\[0\]: on_date: day"),
    "plain-filter-with-args": (_set(["filters", 0], {"name": "is_weekday", "args": [1]}),
                               r"filters\[0\]: is_weekday takes 0 argument"),
    "unknown-adjustment": (_set(["adjustments", 0, "name"], "os.system"),
                           r"adjustments\[0\]: unknown name 'os.system'"),
    "non-json-default": (_set(["clocks", 0, "parameter_defaults"], {"x": float("inf")}),
                         r"parameter_defaults\['x'\] is inf"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_specs_are_refused_by_name(name):
    change, message = MALFORMED[name]
    spec = None if name == "not-an-object" else mutated(change)
    with pytest.raises(ScheduleError, match=message):
        from_spec(spec)


def test_the_good_spec_used_above_is_accepted():
    schedule = from_spec(good_spec())
    assert len(schedule.clocks) == 3
    assert isinstance(ScheduleError("x"), ValueError)
