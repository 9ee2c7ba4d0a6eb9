"""Schedules: when a flow runs, in the style of Prefect Core 1's ``prefect.schedules``.

A :class:`Schedule` merges the events of one or more clocks (:class:`IntervalClock`,
:class:`CronClock`, :class:`DatesClock`), keeps those its filters allow and moves them
by its adjustments; ``schedule.next(n)`` lists the coming times::

    import pendulum
    from ferroflow.schedules import CronSchedule

    schedule = CronSchedule("0 9 * * 1-5",
                            start_date=pendulum.datetime(2024, 1, 1, tz="Europe/Paris"))
    schedule.next(3, after=pendulum.datetime(2024, 3, 1, tz="Europe/Paris"))

A naive datetime given to a schedule is taken as UTC (as in Prefect 1), and bad input
(a malformed cron string, a date that is not a datetime, a non-positive interval)
raises :class:`ScheduleError` when the object is built. :func:`run_on_schedule` calls a function at each coming
time; :func:`to_spec` and :func:`from_spec` turn a schedule into JSON and back. See ``docs/schedules.md``.
"""

from ferroflow.errors import ScheduleError
from ferroflow.schedules import adjustments, clocks, filters, spec
from ferroflow.schedules.clocks import Clock, ClockEvent, CronClock, DatesClock, IntervalClock
from ferroflow.schedules.runner import run_on_schedule
from ferroflow.schedules.schedules import (
    MAX_EVENTS_SCANNED,
    CronSchedule,
    IntervalSchedule,
    Schedule,
)
from ferroflow.schedules.spec import from_spec, to_spec

__all__ = [
    "MAX_EVENTS_SCANNED",
    "Clock",
    "ClockEvent",
    "CronClock",
    "CronSchedule",
    "DatesClock",
    "IntervalClock",
    "IntervalSchedule",
    "Schedule",
    "ScheduleError",
    "adjustments",
    "clocks",
    "filters",
    "from_spec",
    "run_on_schedule",
    "spec",
    "to_spec",
]
