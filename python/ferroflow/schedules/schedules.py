"""``Schedule``: clocks merged in time order, filtered and adjusted."""

from __future__ import annotations

import datetime as _dt
import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence

from ferroflow.errors import ScheduleError
from ferroflow.schedules import _time
from ferroflow.schedules.clocks import Clock, ClockEvent, CronClock, IntervalClock

__all__ = ["CronSchedule", "IntervalSchedule", "Schedule"]

#: how many clock events one call to :meth:`Schedule.next` looks at, at most (as in
#: Prefect 1); it is what stops a filter that never matches from looping for ever
MAX_EVENTS_SCANNED = 10_000


def _callables(value: Iterable | None, what: str) -> list:
    if value is None:
        return []
    if callable(value) or isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ScheduleError(f"{what} must be a list of functions, got "
                            f"{type(value).__name__} {value!r}")
    items = list(value)
    for i, item in enumerate(items):
        if not callable(item):
            raise ScheduleError(f"{what}[{i}] must be a function, got "
                                f"{type(item).__name__} {item!r}")
    return items


class Schedule:
    """When a flow should run: one or more clocks, filtered and adjusted.

    The schedule merges its clocks' events in time order. When two clocks fire at the
    same time with the same parameter defaults and labels, the run happens once; with
    different parameter defaults, once per distinct set. An event is kept when **all**
    ``filters`` pass, **at least one** of the ``or_filters`` passes (if there are any)
    and **none** of the ``not_filters`` passes. Each kept event's time then goes through
    the ``adjustments`` in order; events an adjustment moves onto the time of an
    identical event already listed are dropped.

    Args:
        clocks: a list of clocks (at least one).
        filters: functions ``f(dt) -> bool`` that must all be true.
        or_filters: functions of which at least one must be true.
        not_filters: functions that must all be false.
        adjustments: functions ``f(dt) -> dt`` applied in order to kept events.

    Raises:
        ScheduleError: ``clocks`` is empty or holds something that is not a clock, or a
            filter or adjustment is not callable.
    """

    def __init__(self, clocks: Sequence[Clock],
                 filters: Iterable[Callable[[_dt.datetime], bool]] | None = None,
                 or_filters: Iterable[Callable[[_dt.datetime], bool]] | None = None,
                 not_filters: Iterable[Callable[[_dt.datetime], bool]] | None = None,
                 adjustments: Iterable[Callable[[_dt.datetime], _dt.datetime]] | None = None,
                 ) -> None:
        if isinstance(clocks, Clock) or not isinstance(clocks, Iterable) \
                or isinstance(clocks, (str, bytes)):
            raise ScheduleError(f"clocks must be a list of clocks, e.g. "
                                f"Schedule(clocks=[IntervalClock(timedelta(hours=1))]), got "
                                f"{type(clocks).__name__} {clocks!r}")
        self.clocks = list(clocks)
        if not self.clocks:
            raise ScheduleError("a Schedule needs at least one clock")
        for i, clock in enumerate(self.clocks):
            if not isinstance(clock, Clock):
                raise ScheduleError(f"clocks[{i}] must be a Clock (IntervalClock, CronClock, "
                                    f"DatesClock or a Clock subclass), got "
                                    f"{type(clock).__name__} {clock!r}")
        self.filters = _callables(filters, "filters")
        self.or_filters = _callables(or_filters, "or_filters")
        self.not_filters = _callables(not_filters, "not_filters")
        self.adjustments = _callables(adjustments, "adjustments")

    def __repr__(self) -> str:
        extra = "".join(f", {name}={value!r}" for name, value in (
            ("filters", self.filters), ("or_filters", self.or_filters),
            ("not_filters", self.not_filters), ("adjustments", self.adjustments)) if value)
        return f"Schedule(clocks={self.clocks!r}{extra})"

    @property
    def start_date(self) -> _dt.datetime | None:
        """The earliest ``start_date`` of the clocks, or None if no clock has one."""
        return min((c.start_date for c in self.clocks if c.start_date is not None),
                   key=_time.to_utc, default=None)

    @property
    def end_date(self) -> _dt.datetime | None:
        """The latest ``end_date`` of the clocks, or None if no clock has one."""
        return max((c.end_date for c in self.clocks if c.end_date is not None),
                   key=_time.to_utc, default=None)

    def next(self, n: int, after: _dt.datetime | None = None,
             return_events: bool = False) -> list[_dt.datetime] | list[ClockEvent]:
        """The next ``n`` scheduled times strictly after ``after`` (default: now).

        Fewer come back when the clocks run out, or when the first
        :data:`MAX_EVENTS_SCANNED` (10,000) clock events did not yield ``n`` that pass
        the filters (so a filter that never matches returns an empty list instead of
        looping for ever).

        Args:
            n: how many times to return (0 or more).
            after: a datetime (naive: UTC); default now.
            return_events: return :class:`ClockEvent` objects (with the clock's
                ``parameter_defaults`` and ``labels``) instead of datetimes.

        Raises:
            ScheduleError: ``n`` is not a non-negative int, or ``after`` is not a
                datetime.
        """
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ScheduleError(f"n must be an int >= 0, got {n!r}")
        after = _time.coerce_after(after)
        found: list = []
        at_time: dict = {}
        if n == 0:
            return found
        for scanned, event in enumerate(self.events(after=after), 1):
            if self.passes_filters(event.start_time):
                adjusted = ClockEvent(self.adjust(event.start_time), event.parameter_defaults,
                                      event.labels)
                # two events an adjustment moved onto the same time (Saturday and Sunday
                # both moved to Monday by next_weekday) make one run
                same_time = at_time.setdefault(_time.to_utc(adjusted.start_time), [])
                if not any(adjusted == other for other in same_time):
                    same_time.append(adjusted)
                    found.append(adjusted)
                if len(found) == n:
                    break
            if scanned >= MAX_EVENTS_SCANNED:
                break
        return found if return_events else [event.start_time for event in found]

    def events(self, after: _dt.datetime | None = None) -> Iterator[ClockEvent]:
        """All clocks' events strictly after ``after`` merged in time order, without
        duplicates, before filters and adjustments. Possibly infinite."""
        after = _time.coerce_after(after)
        streams = [clock.events(after=after) for clock in self.clocks]
        return self._dedup(heapq.merge(*streams,
                                       key=lambda event: _time.to_utc(event.start_time)))

    @staticmethod
    def _dedup(merged: Iterator[ClockEvent]) -> Iterator[ClockEvent]:
        # events at the same instant: keep the first of each distinct
        # (parameter_defaults, labels); heapq.merge keeps clock order among ties
        current: _dt.datetime | None = None
        seen: list[ClockEvent] = []
        for event in merged:
            instant = _time.to_utc(event.start_time)
            if instant != current:
                current, seen = instant, []
            if any(event == other for other in seen):
                continue
            seen.append(event)
            yield event

    def passes_filters(self, dt: _dt.datetime) -> bool:
        """Whether an event at ``dt`` passes ``filters``, ``or_filters`` and
        ``not_filters``."""
        return (all(f(dt) for f in self.filters)
                and (not self.or_filters or any(f(dt) for f in self.or_filters))
                and not any(f(dt) for f in self.not_filters))

    def adjust(self, dt: _dt.datetime) -> _dt.datetime:
        """``dt`` after every adjustment, in order."""
        for adjustment in self.adjustments:
            dt = adjustment(dt)
        return dt


def IntervalSchedule(start_date: _dt.datetime | None = None,
                     interval: _dt.timedelta | None = None,
                     end_date: _dt.datetime | None = None) -> Schedule:
    """A schedule with one :class:`~ferroflow.schedules.clocks.IntervalClock`.

    ``start_date`` comes first, as in Prefect 1; pass ``interval`` by keyword:
    ``IntervalSchedule(interval=timedelta(hours=1))``.

    Raises:
        ScheduleError: no ``interval``, or any error of ``IntervalClock``.
    """
    if interval is None:
        raise ScheduleError("IntervalSchedule needs an interval, e.g. "
                            "IntervalSchedule(interval=timedelta(hours=1))")
    return Schedule(clocks=[IntervalClock(interval, start_date=start_date, end_date=end_date)])


def CronSchedule(cron: str, start_date: _dt.datetime | None = None,
                 end_date: _dt.datetime | None = None, day_or: bool = True) -> Schedule:
    """A schedule with one :class:`~ferroflow.schedules.clocks.CronClock`.

    Raises:
        ScheduleError: a bad cron string (the message names the field), or any error of
            ``CronClock``.
    """
    return Schedule(clocks=[CronClock(cron, start_date=start_date, end_date=end_date,
                                      day_or=day_or)])
