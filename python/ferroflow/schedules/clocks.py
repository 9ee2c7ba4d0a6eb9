"""Clocks: the sources of a schedule's candidate run times.

A clock emits :class:`ClockEvent` objects in time order, each carrying a start time and
the parameter defaults and labels that runs started by this clock should get:

* :class:`IntervalClock` fires every ``interval``, anchored at its ``start_date``;
* :class:`CronClock` fires when a cron string matches the wall clock of its
  ``start_date``'s time zone;
* :class:`DatesClock` fires at a fixed list of times.

A naive datetime (without a time zone) is taken as UTC, as in Prefect 1. Times come
back as ``pendulum.DateTime`` objects, shown in the clock's time zone.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pendulum
from croniter import CroniterError, croniter

from ferroflow.errors import ScheduleError
from ferroflow.schedules import _time
from ferroflow.schedules._cron import HORIZON_YEARS, check_cron

__all__ = ["Clock", "ClockEvent", "CronClock", "DatesClock", "IntervalClock"]

#: the anchor of an ``IntervalClock`` built without ``start_date`` (as in Prefect 1)
DEFAULT_INTERVAL_START = pendulum.datetime(2019, 1, 1, tz="UTC")

_DAY = _dt.timedelta(days=1)
_US = _dt.timedelta(microseconds=1)


class ClockEvent:
    """One time a clock fires, with what runs started at that time should get.

    Attributes:
        start_time: when the run should start (an aware ``pendulum.DateTime``).
        parameter_defaults: parameter values for the run (a dict; empty if none).
        labels: the clock's labels (a list), or ``None`` if it has none.

    Two events are equal when time, parameter defaults and labels are all equal; an
    event also compares equal to a datetime at its ``start_time``. Events order by
    ``start_time``. Times are compared as instants, so the two runs that read 01:00
    local on the autumn change are different times.
    """

    __slots__ = ("start_time", "parameter_defaults", "labels")
    __hash__ = None  # type: ignore[assignment]  # holds a dict, so unhashable

    def __init__(self, start_time: _dt.datetime, parameter_defaults: dict | None = None,
                 labels: list | None = None) -> None:
        self.start_time = start_time
        self.parameter_defaults = dict(parameter_defaults or {})
        self.labels = None if labels is None else list(labels)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ClockEvent):
            return (_time.to_utc(self.start_time) == _time.to_utc(other.start_time)
                    and self.parameter_defaults == other.parameter_defaults
                    and self.labels == other.labels)
        if isinstance(other, _dt.datetime):
            return other.tzinfo is not None and \
                _time.to_utc(self.start_time) == _time.to_utc(other)
        return NotImplemented

    def _instants(self, other: object) -> tuple:
        if isinstance(other, ClockEvent):
            other = other.start_time
        elif not isinstance(other, _dt.datetime):
            raise TypeError(f"cannot order a ClockEvent against {type(other).__name__}")
        return _time.to_utc(self.start_time), _time.to_utc(other)

    def __lt__(self, other: object) -> bool:
        mine, theirs = self._instants(other)
        return mine < theirs

    def __gt__(self, other: object) -> bool:
        mine, theirs = self._instants(other)
        return mine > theirs

    def __le__(self, other: object) -> bool:
        mine, theirs = self._instants(other)
        return mine <= theirs

    def __ge__(self, other: object) -> bool:
        mine, theirs = self._instants(other)
        return mine >= theirs

    def __repr__(self) -> str:
        return (f"ClockEvent({self.start_time.isoformat()}, "
                f"parameter_defaults={self.parameter_defaults!r}, labels={self.labels!r})")


def _check_parameter_defaults(value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScheduleError(f"parameter_defaults must be a dict of parameter names to "
                            f"values, got {type(value).__name__} {value!r}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise ScheduleError(f"parameter_defaults keys must be parameter names (str), got "
                            f"{bad[0]!r}")
    return dict(value)


def _check_labels(value: Any) -> list | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ScheduleError(f"labels must be a list of strings, got "
                            f"{type(value).__name__} {value!r}")
    labels = list(value)
    bad = [x for x in labels if not isinstance(x, str)]
    if bad:
        raise ScheduleError(f"labels must be strings, got {bad[0]!r}")
    return labels


class Clock:
    """Base class of clocks: something that emits :class:`ClockEvent` in time order.

    Subclass it and implement :meth:`events` to make a custom clock.

    Args:
        start_date: no event before this time (a datetime, optional; naive: UTC).
        end_date: no event after this time (a datetime, optional; inclusive; naive: UTC).
        parameter_defaults: parameter values for every run this clock starts.
        labels: labels for every run this clock starts.

    Raises:
        ScheduleError: a ``start_date``/``end_date`` that is not a datetime, an
            ``end_date`` before the ``start_date``, or ``parameter_defaults``/``labels``
            of the wrong type.
    """

    def __init__(self, start_date: _dt.datetime | None = None,
                 end_date: _dt.datetime | None = None,
                 parameter_defaults: dict | None = None,
                 labels: Sequence[str] | None = None) -> None:
        self.start_date = _time.optional_instant(start_date, "start_date")
        self.end_date = _time.optional_instant(end_date, "end_date")
        if self.start_date is not None and self.end_date is not None \
                and _time.to_utc(self.end_date) < _time.to_utc(self.start_date):
            raise ScheduleError(f"end_date {self.end_date.isoformat()} is before start_date "
                                f"{self.start_date.isoformat()}; the clock would never fire")
        self.parameter_defaults = _check_parameter_defaults(parameter_defaults)
        self.labels = _check_labels(labels)

    def events(self, after: _dt.datetime | None = None) -> Iterator[ClockEvent]:
        """Yield this clock's events strictly after ``after`` (default: now), in order."""
        raise NotImplementedError("Clock subclasses implement events()")

    def _event(self, start_time: _dt.datetime) -> ClockEvent:
        return ClockEvent(start_time, self.parameter_defaults, self.labels)

    def _extras_repr(self) -> str:
        parts = []
        if self.start_date is not None:
            parts.append(f"start_date={self.start_date.isoformat()}")
        if self.end_date is not None:
            parts.append(f"end_date={self.end_date.isoformat()}")
        if self.parameter_defaults:
            parts.append(f"parameter_defaults={self.parameter_defaults!r}")
        if self.labels is not None:
            parts.append(f"labels={self.labels!r}")
        return "".join(", " + p for p in parts)


class IntervalClock(Clock):
    """Fires every ``interval``, anchored at ``start_date``.

    The events are ``start_date``, ``start_date + interval``, ``start_date + 2 *
    interval``, ... (those after ``after`` and not after ``end_date``). Without a
    ``start_date`` the anchor is 2019-01-01 00:00 UTC, as in Prefect 1.

    Daylight saving time, when ``start_date`` is in a zone that observes it:

    * an interval of **24 hours or more** keeps the local wall-clock time: a daily
      clock anchored at 09:00 New York time fires at 09:00 New York time in winter
      and in summer (the day it changes is 23 or 25 hours long). The arithmetic is
      done on the wall clock; a time that does not exist that day moves forward by the
      size of the gap, and a time that occurs twice is taken at its second occurrence
      (as pendulum and Prefect 1 do);
    * a **shorter** interval follows elapsed (UTC) time: an hourly clock fires every 60
      minutes, so around the autumn change two runs *appear* to be at 01:00 local time,
      an hour apart, and in spring the local reading jumps from 01:00 to 03:00.

    Args:
        interval: a positive ``datetime.timedelta``.
        start_date, end_date, parameter_defaults, labels: see :class:`Clock`.

    Raises:
        ScheduleError: ``interval`` is not a timedelta or is not positive, or any error
            of :class:`Clock`.
    """

    def __init__(self, interval: _dt.timedelta, start_date: _dt.datetime | None = None,
                 end_date: _dt.datetime | None = None,
                 parameter_defaults: dict | None = None,
                 labels: Sequence[str] | None = None) -> None:
        if not isinstance(interval, _dt.timedelta):
            raise ScheduleError(f"interval must be a datetime.timedelta such as "
                                f"timedelta(hours=1), got {type(interval).__name__} "
                                f"{interval!r}")
        if interval <= _dt.timedelta(0):
            raise ScheduleError(f"interval must be positive, got {interval!r}")
        self.interval = _dt.timedelta(days=interval.days, seconds=interval.seconds,
                                      microseconds=interval.microseconds)
        super().__init__(start_date, end_date, parameter_defaults, labels)

    def __repr__(self) -> str:
        return f"IntervalClock({self.interval!r}{self._extras_repr()})"

    def _anchor(self) -> pendulum.DateTime:
        return self.start_date if self.start_date is not None else DEFAULT_INTERVAL_START

    def _nth(self, anchor: pendulum.DateTime, k: int) -> _dt.datetime:
        """The k-th event (k >= 0) of a wall-clock (>= 24 h) interval."""
        total = self.interval * k
        return anchor.add(days=total.days, seconds=total.seconds,
                          microseconds=total.microseconds)

    def events(self, after: _dt.datetime | None = None) -> Iterator[ClockEvent]:
        """Yield the clock's events strictly after ``after`` (default: now), in order.

        The sequence is infinite unless the clock has an ``end_date``.
        """
        after = _time.coerce_after(after)
        if self.interval < _DAY:
            return self._elapsed_events(after)
        return self._wall_clock_events(after)

    def _elapsed_events(self, after: pendulum.DateTime) -> Iterator[ClockEvent]:
        anchor = self._anchor()
        anchor_utc = _time.to_utc(anchor)
        end = None if self.end_date is None else _time.to_utc(self.end_date)
        elapsed_us = (_time.to_utc(after) - anchor_utc) // _US
        # exact integer arithmetic: no floating point drift however far ``after`` is
        k = 0 if elapsed_us < 0 else elapsed_us // (self.interval // _US) + 1
        while True:
            instant = anchor_utc + self.interval * k
            if end is not None and instant > end:
                return
            yield self._event(_time.in_zone(instant, anchor.timezone))
            k += 1

    def _wall_clock_events(self, after: _dt.datetime) -> Iterator[ClockEvent]:
        anchor = self._anchor()
        after = _time.to_utc(after)
        end = None if self.end_date is None else _time.to_utc(self.end_date)
        elapsed_us = (after - _time.to_utc(anchor)) // _US
        # estimate k from elapsed time, then correct it: daylight saving shifts are far
        # smaller than the (>= 1 day) interval, so the estimate is off by a step or so
        k = max(0, elapsed_us // (self.interval // _US))
        while k > 0 and _time.to_utc(self._nth(anchor, k - 1)) > after:
            k -= 1
        while _time.to_utc(self._nth(anchor, k)) <= after:
            k += 1
        previous = None
        while True:
            current = self._nth(anchor, k)
            instant = _time.to_utc(current)
            k += 1
            if previous is not None and instant <= previous:
                continue  # a day the zone skipped (Samoa, 2011) lands on the next one
            if end is not None and instant > end:
                return
            previous = instant
            yield self._event(current)


class CronClock(Clock):
    """Fires whenever a cron string matches the wall clock.

    The cron string is read by croniter: five fields ``minute hour day-of-month month
    day-of-week``, an optional sixth (seconds) and seventh (year), names such as
    ``mon-fri`` and ``jan``, ``L`` (last day of the month), ``W``, ``#`` and the aliases
    ``@hourly``, ``@daily``/``@midnight``, ``@weekly``, ``@monthly``,
    ``@yearly``/``@annually``.

    Times are matched against the wall clock of ``start_date``'s time zone (UTC without
    a ``start_date``), so ``"0 9 * * *"`` anchored in New York fires at 09:00 New York
    time all year. Where daylight saving time changes the clock:

    * a time the clock skips (02:30 on the spring-forward day in New York) fires at
      the moment of the change (03:00 local), once; several skipped times merge into
      that one run, and with it the run due at the change itself (an hourly cron goes
      01:00, 03:00);
    * a time the clock shows twice (01:30 on the fall-back day) fires once, at its
      first occurrence, so an hourly cron waits two hours between 01:00 and 02:00.

    This is what Prefect 1's ``CronClock`` does for fixed-time and hourly strings, and
    what the classic cron daemon does for fixed-time jobs. (Prefect 1 drops a skipped
    time for strings like ``"30 * * * *"``; here it too runs at the change.)
    ``start_date`` counts to the microsecond: with a start of 00:00:00.000001 a daily
    midnight cron first fires the next day.

    Args:
        cron: the cron string.
        start_date, end_date, parameter_defaults, labels: see :class:`Clock`.
        day_or: when both day-of-month and day-of-week are restricted, fire on days that
            match either (``True``, as cron does) or only on days matching both
            (``False``; e.g. ``"0 9 8-14 * fri", day_or=False`` is the second Friday).

    Raises:
        ScheduleError: the cron string is malformed (the message names the field and
            value, e.g. ``minute field '61' has value 61, outside 0-59``), uses an
            unknown alias, has the wrong number of fields, or can never fire (``"0 0 30
            2 *"``); or any error of :class:`Clock`.
    """

    def __init__(self, cron: str, start_date: _dt.datetime | None = None,
                 end_date: _dt.datetime | None = None,
                 parameter_defaults: dict | None = None,
                 labels: Sequence[str] | None = None, day_or: bool = True) -> None:
        super().__init__(start_date, end_date, parameter_defaults, labels)
        if day_or is None:  # Prefect 1 accepts None for the default
            day_or = True
        if not isinstance(day_or, bool):
            raise ScheduleError(f"day_or must be True or False, got {day_or!r}")
        self.day_or = day_or
        reference = (self.start_date if self.start_date is not None else _time.now_utc())
        self.cron = check_cron(cron, day_or,
                               _time.local_wall(reference, _time.stdlib_tz(reference.tz)))

    def __repr__(self) -> str:
        day_or = "" if self.day_or else ", day_or=False"
        return f"CronClock({self.cron!r}{self._extras_repr()}{day_or})"

    def events(self, after: _dt.datetime | None = None) -> Iterator[ClockEvent]:
        """Yield the clock's events strictly after ``after`` (default: now), in order.

        The sequence ends at ``end_date``, or when the cron string can match no later
        time (a year field in the past), else goes on for ever.
        """
        return self._generate(_time.coerce_after(after))

    def _generate(self, after: pendulum.DateTime) -> Iterator[ClockEvent]:
        shown_tz = self.start_date.timezone if self.start_date is not None else pendulum.UTC
        tz = _time.stdlib_tz(shown_tz)
        # every event is strictly after ``floor`` (start_date itself may fire)
        floor = _time.to_utc(after)
        if self.start_date is not None and _time.to_utc(self.start_date) > floor:
            floor = _time.minus_one_us(_time.to_utc(self.start_date))
        end = None if self.end_date is None else _time.to_utc(self.end_date)
        walls = croniter(self.cron, _time.local_wall(floor, tz), day_or=self.day_or,
                         max_years_between_matches=HORIZON_YEARS)
        previous = None
        while True:
            try:
                wall = walls.get_next(_dt.datetime)
            except CroniterError:
                return  # nothing matches any more
            instant = _time.wall_to_instant_first(wall, tz)
            if instant <= floor or instant == previous:
                # already shown before ``floor`` (a repeated hour), or merged with the
                # previous run (times skipped by a spring-forward change)
                continue
            if end is not None and instant > end:
                return
            previous = instant
            yield self._event(_time.in_zone(instant, shown_tz))


class DatesClock(Clock):
    """Fires at each of a fixed list of times.

    Args:
        dates: datetimes (any order; duplicates fire once; naive: UTC). At least one.
        parameter_defaults, labels: see :class:`Clock`.

    ``start_date`` and ``end_date`` are the earliest and latest of ``dates``.

    Raises:
        ScheduleError: ``dates`` is empty or holds a non-datetime.
    """

    def __init__(self, dates: Iterable[_dt.datetime], parameter_defaults: dict | None = None,
                 labels: Sequence[str] | None = None) -> None:
        if isinstance(dates, _dt.datetime) or not isinstance(dates, Iterable):
            raise ScheduleError(f"dates must be a list of datetimes, got "
                                f"{type(dates).__name__} {dates!r}")
        checked = [_time.as_instant(d, f"dates[{i}]") for i, d in enumerate(dates)]
        if not checked:
            raise ScheduleError("dates must hold at least one datetime; a DatesClock with "
                                "no dates would never fire")
        unique: list[pendulum.DateTime] = []
        for d in sorted(checked, key=_time.to_utc):
            if not unique or _time.to_utc(d) != _time.to_utc(unique[-1]):
                unique.append(d)
        self.dates = unique
        super().__init__(unique[0], unique[-1], parameter_defaults, labels)

    def __repr__(self) -> str:
        dates = ", ".join(d.isoformat() for d in self.dates)
        extras = ""
        if self.parameter_defaults:
            extras += f", parameter_defaults={self.parameter_defaults!r}"
        if self.labels is not None:
            extras += f", labels={self.labels!r}"
        return f"DatesClock([{dates}]{extras})"

    def events(self, after: _dt.datetime | None = None) -> Iterator[ClockEvent]:
        """Yield an event for each date strictly after ``after`` (default: now)."""
        after = _time.to_utc(_time.coerce_after(after))
        return (self._event(date) for date in self.dates if _time.to_utc(date) > after)
