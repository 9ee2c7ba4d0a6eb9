"""Adjustments: functions that move the start time of events a schedule kept.

An adjustment is any callable ``f(dt) -> datetime``. A schedule applies its
adjustments, in order, to each event that passed its filters.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable

import pendulum

from ferroflow.errors import ScheduleError
from ferroflow.schedules._recorded import Recorded

__all__ = ["add", "next_weekday"]

Adjustment = Callable[[_dt.datetime], _dt.datetime]


def add(interval: _dt.timedelta) -> Adjustment:
    """Move each event by ``interval`` (a ``timedelta``; may be negative).

    The interval is elapsed time, as in Prefect 1: 09:00 EST on the day before the
    spring change moved by ``timedelta(days=1)`` is 10:00 EDT (24 hours later). To
    keep the local time of day, build the clock on the local time instead.
    """
    if not isinstance(interval, _dt.timedelta):
        raise ScheduleError(f"add(interval): interval must be a datetime.timedelta, got "
                            f"{type(interval).__name__} {interval!r}")

    def _add(dt: _dt.datetime) -> _dt.datetime:
        return pendulum.instance(dt) + interval

    return Recorded("add", (interval,), _add)


def next_weekday(dt: _dt.datetime) -> _dt.datetime:
    """Move an event on a Saturday or Sunday to the same time on the next Monday;
    leave Monday to Friday alone."""
    moved = pendulum.instance(dt)
    while moved.weekday() >= 5:
        moved = moved.add(days=1)
    return moved
