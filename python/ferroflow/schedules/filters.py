"""Filters: predicates that decide which clock events a schedule keeps.

A filter is any callable ``f(dt) -> bool`` taking an event's start time. The ones here
come in two kinds: plain predicates (``is_weekday``) and factories that build one
(``at_time(time(9))``; what they build remembers its arguments, so that
:mod:`ferroflow.schedules.spec` can store it as JSON). Factories check their arguments when called and raise
:class:`~ferroflow.errors.ScheduleError` on bad input.

Calendar and clock filters (``on_date``, ``at_time``, ``is_weekday``, ...) read the
event's time *in the time zone it is shown in*, which is the clock's ``start_date`` zone
(UTC for clocks without one).
"""

from __future__ import annotations

import calendar
import datetime as _dt
from collections.abc import Callable

from ferroflow.errors import ScheduleError
from ferroflow.schedules import _time
from ferroflow.schedules._recorded import Recorded

__all__ = [
    "at_time",
    "between_dates",
    "between_datetimes",
    "between_times",
    "is_day_of_week",
    "is_month_end",
    "is_month_start",
    "is_weekday",
    "is_weekend",
    "on_date",
    "on_datetime",
]

Filter = Callable[[_dt.datetime], bool]


def _check_month_day(month: object, day: object, what: str) -> None:
    if not isinstance(month, int) or isinstance(month, bool) or not 1 <= month <= 12:
        raise ScheduleError(f"{what}: month must be an int from 1 to 12, got {month!r}")
    last = 29 if month == 2 else calendar.monthrange(2023, month)[1]
    if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= last:
        raise ScheduleError(f"{what}: day must be an int from 1 to {last} for month "
                            f"{month}, got {day!r}")


def _check_time(value: object, what: str) -> _dt.time:
    if not isinstance(value, _dt.time):
        raise ScheduleError(f"{what} must be a datetime.time such as time(9, 30), got "
                            f"{type(value).__name__} {value!r}")
    if value.tzinfo is not None:
        raise ScheduleError(f"{what} {value!r} has a time zone; pass a plain time such as "
                            f"time(9, 30): it is compared with each event's local time in "
                            f"its clock's time zone")
    return value


def on_datetime(dt: _dt.datetime) -> Filter:
    """Keep only an event at exactly the instant ``dt`` (a datetime; naive: UTC)."""
    target = _time.to_utc(_time.as_instant(dt, "on_datetime(dt)"))

    def _on_datetime(candidate: _dt.datetime) -> bool:
        return _time.to_utc(candidate) == target

    return Recorded("on_datetime", (dt,), _on_datetime)


def between_datetimes(start: _dt.datetime, end: _dt.datetime) -> Filter:
    """Keep events from ``start`` to ``end`` (datetimes, naive ones UTC; both inclusive)."""
    low: _dt.datetime = _time.as_instant(start, "between_datetimes(start)")
    high: _dt.datetime = _time.as_instant(end, "between_datetimes(end)")
    if _time.to_utc(high) < _time.to_utc(low):
        raise ScheduleError(f"between_datetimes: end {high.isoformat()} is before start "
                            f"{low.isoformat()}; no event could pass")
    low, high = _time.to_utc(low), _time.to_utc(high)

    def _between_datetimes(candidate: _dt.datetime) -> bool:
        return low <= _time.to_utc(candidate) <= high

    return Recorded("between_datetimes", (start, end), _between_datetimes)


def on_date(month: int, day: int) -> Filter:
    """Keep events on the given month and day of any year (``on_date(12, 25)``)."""
    _check_month_day(month, day, "on_date")

    def _on_date(candidate: _dt.datetime) -> bool:
        return (candidate.month, candidate.day) == (month, day)

    return Recorded("on_date", (month, day), _on_date)


def between_dates(start_month: int, start_day: int, end_month: int, end_day: int) -> Filter:
    """Keep events between two days of the year, both inclusive.

    When the start comes after the end the range wraps the new year:
    ``between_dates(10, 15, 3, 31)`` keeps 15 October to 31 March. (Prefect 1 wraps
    only when the start *month* is later, so its ``between_dates(3, 20, 3, 10)`` keeps
    nothing; here it keeps everything but 11-19 March.)
    """
    _check_month_day(start_month, start_day, "between_dates start")
    _check_month_day(end_month, end_day, "between_dates end")
    low, high = (start_month, start_day), (end_month, end_day)

    def _between_dates(candidate: _dt.datetime) -> bool:
        date = (candidate.month, candidate.day)
        if low <= high:
            return low <= date <= high
        return date >= low or date <= high

    return Recorded("between_dates", (start_month, start_day, end_month, end_day), _between_dates)


def at_time(t: _dt.time) -> Filter:
    """Keep events whose local time of day is exactly ``t`` (``at_time(time(9))``)."""
    target = _check_time(t, "at_time(t)")

    def _at_time(candidate: _dt.datetime) -> bool:
        return candidate.time() == target

    return Recorded("at_time", (t,), _at_time)


def between_times(start: _dt.time, end: _dt.time) -> Filter:
    """Keep events whose local time of day is from ``start`` to ``end`` (inclusive).

    When ``start`` is later than ``end`` the range wraps midnight:
    ``between_times(time(22), time(6))`` keeps the night.
    """
    low = _check_time(start, "between_times(start)")
    high = _check_time(end, "between_times(end)")

    def _between_times(candidate: _dt.datetime) -> bool:
        now = candidate.time()
        if low <= high:
            return low <= now <= high
        return now >= low or now <= high

    return Recorded("between_times", (start, end), _between_times)


def is_weekday(dt: _dt.datetime) -> bool:
    """True on Monday to Friday."""
    return dt.weekday() < 5


def is_weekend(dt: _dt.datetime) -> bool:
    """True on Saturday and Sunday."""
    return dt.weekday() >= 5


def is_month_start(dt: _dt.datetime) -> bool:
    """True on the first day of a month."""
    return dt.day == 1


def is_month_end(dt: _dt.datetime) -> bool:
    """True on the last day of a month (28, 29, 30 or 31)."""
    return dt.day == calendar.monthrange(dt.year, dt.month)[1]


def is_day_of_week(day_of_week: int) -> Filter:
    """Keep events on one day of the week, numbered as ``datetime.weekday()``:
    0 = Monday ... 6 = Sunday.

    This is what Prefect 1's ``is_day_of_week`` does (its docstring's "0 = Sunday" is
    wrong about its own code).
    """
    if not isinstance(day_of_week, int) or isinstance(day_of_week, bool) \
            or not 0 <= day_of_week <= 6:
        raise ScheduleError(f"is_day_of_week: day_of_week must be an int from 0 (Monday) "
                            f"to 6 (Sunday), got {day_of_week!r}")

    def _is_day_of_week(candidate: _dt.datetime) -> bool:
        return candidate.weekday() == day_of_week

    return Recorded("is_day_of_week", (day_of_week,), _is_day_of_week)
