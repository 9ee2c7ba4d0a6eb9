"""Running something at each time of a schedule, in this process."""

from __future__ import annotations

import datetime as _dt
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pendulum

from ferroflow.errors import ScheduleError
from ferroflow.schedules import _time
from ferroflow.schedules.clocks import ClockEvent
from ferroflow.schedules.schedules import MAX_EVENTS_SCANNED, Schedule

__all__ = ["run_on_schedule"]

logger = logging.getLogger("ferroflow.schedules")

#: the longest single sleep while a ``stop`` callable is being watched, in seconds
STOP_POLL_SECONDS = 1.0


def _now(now: Callable[[], _dt.datetime]) -> pendulum.DateTime:
    value = now()
    try:
        return _time.require_aware(value, "now()")
    except ScheduleError as exc:
        raise ScheduleError(f"run_on_schedule: the now callable must return an aware "
                            f"datetime: {exc}") from None


def run_on_schedule(schedule: Schedule,
                    run_once: Callable[[dict, _dt.datetime], Any], *,
                    now: Callable[[], _dt.datetime] = pendulum.now,
                    sleep: Callable[[float], Any] = time.sleep,
                    max_runs: int | None = None,
                    stop: Callable[[], bool] | None = None) -> list[Any]:
    """Call ``run_once`` at each upcoming time of ``schedule``; return what it returned.

    For each event the schedule gives after the current time, sleep until the event's
    start time, then call ``run_once(parameter_defaults, scheduled_start_time)`` with a
    fresh copy of the event's ``parameter_defaults`` (a dict) and its start time.

    Runs never overlap and never pile up: when a run ends, the next one is the first
    event after the current time and after the previous run. Times that fell due while
    a run was still going are skipped, as in Prefect 1's ``flow.run()`` on a schedule.
    Events at the *same* time (clocks with different ``parameter_defaults`` firing
    together) all run, one after the other; an event an adjustment moved onto the time
    of one that already ran does not run again.

    It stops, returning the list of values ``run_once`` returned (in order), when

    * the schedule has no more events (past its ``end_date``, or 10,000 events
      scanned without one passing its filters);
    * ``max_runs`` runs have been made;
    * ``stop()`` returns true: it is asked before each run and, while waiting, at least
      every second (``STOP_POLL_SECONDS``) so a long wait ends promptly;
    * ``KeyboardInterrupt`` (Ctrl-C) arrives while waiting for the next run: it is
      caught and the runs made so far are returned. During a run it propagates (the
      engine handles Ctrl-C inside a run itself).

    An exception raised by ``run_once`` propagates.

    Args:
        schedule: the :class:`~ferroflow.schedules.Schedule`.
        run_once: called as ``run_once(parameter_defaults, scheduled_start_time)``.
        now: returns the current time as an aware datetime (tests pass a fake clock).
        sleep: sleeps for a number of seconds (tests pass a fake that moves the clock).
        max_runs: stop after this many runs (``None``: no limit).
        stop: a callable; when it returns true, no further run starts.

    Raises:
        ScheduleError: ``schedule`` is not a Schedule, ``max_runs`` is not a
            non-negative int, or ``now()`` returns a naive datetime.
    """
    if not isinstance(schedule, Schedule):
        raise ScheduleError(f"run_on_schedule needs a Schedule, got "
                            f"{type(schedule).__name__} {schedule!r}")
    if not callable(run_once):
        raise ScheduleError(f"run_once must be callable, got {type(run_once).__name__}")
    if max_runs is not None and (not isinstance(max_runs, int) or isinstance(max_runs, bool)
                                 or max_runs < 0):
        raise ScheduleError(f"max_runs must be None or an int >= 0, got {max_runs!r}")
    if stop is not None and not callable(stop):
        raise ScheduleError(f"stop must be a callable returning a bool, got "
                            f"{type(stop).__name__}")

    results: list[Any] = []
    # all times below are UTC (see _time.to_utc for why)
    last_clock: _dt.datetime | None = None  # clock time of the latest run's event
    last_start: _dt.datetime | None = None  # its start time (after adjustments)
    done: list[ClockEvent] = []  # the events already run at ``last_start``
    while max_runs is None or len(results) < max_runs:
        if stop is not None and stop():
            break
        found = _same_time_leftover(schedule, last_clock, done)
        if found is None:
            current = _time.to_utc(_now(now))
            after = current if last_clock is None or current > last_clock else last_clock
            found = _next_event(schedule, after, last_start, done)
            if found is None:
                logger.info("The schedule has no more runs")
                break
            try:
                if not _wait_until(found[1].start_time, now, sleep, stop):
                    break
            except KeyboardInterrupt:
                logger.info("Interrupted while waiting for the run at %s; stopping",
                            found[1].start_time)
                break
        last_clock, event = found
        if _time.to_utc(event.start_time) != last_start:
            last_start, done = _time.to_utc(event.start_time), []
        done.append(event)
        results.append(run_once(dict(event.parameter_defaults), event.start_time))
    return results


def _scan(schedule: Schedule, after: _dt.datetime) -> Iterator[tuple[_dt.datetime, ClockEvent]]:
    """(clock time, event with its adjusted start time) for each of the schedule's
    events after ``after`` that passes its filters, scanning at most
    ``MAX_EVENTS_SCANNED`` clock events (as ``Schedule.next`` does)."""
    for scanned, event in enumerate(schedule.events(after=after), 1):
        if scanned > MAX_EVENTS_SCANNED:
            return
        if schedule.passes_filters(event.start_time):
            yield _time.to_utc(event.start_time), ClockEvent(
                schedule.adjust(event.start_time), event.parameter_defaults, event.labels)


def _same_time_leftover(schedule: Schedule, last_clock: _dt.datetime | None,
                        done: list[ClockEvent]) -> tuple[_dt.datetime, ClockEvent] | None:
    """An event at the latest run's clock time that has not run yet (clocks firing
    together with different parameter defaults or labels each get their run)."""
    if last_clock is None:
        return None
    for event in schedule.events(after=_time.minus_one_us(last_clock)):
        if _time.to_utc(event.start_time) > last_clock:
            return None
        if schedule.passes_filters(event.start_time):
            adjusted = ClockEvent(schedule.adjust(event.start_time), event.parameter_defaults,
                                  event.labels)
            if not any(adjusted == d for d in done):
                return last_clock, adjusted
    return None


def _next_event(schedule: Schedule, after: _dt.datetime, last_start: _dt.datetime | None,
                done: list[ClockEvent]) -> tuple[_dt.datetime, ClockEvent] | None:
    """The first event after ``after`` (clock time) that starts after the latest run
    (adjustments can move an event back onto or before it), or None."""
    for clock_time, event in _scan(schedule, after):
        start = _time.to_utc(event.start_time)
        if last_start is None or start > last_start or (
                start == last_start and not any(event == d for d in done)):
            return clock_time, event
    return None


def _wait_until(start: _dt.datetime, now: Callable[[], _dt.datetime],
                sleep: Callable[[float], Any], stop: Callable[[], bool] | None) -> bool:
    """Sleep until ``start``; False if ``stop()`` became true meanwhile."""
    logged = False
    while True:
        remaining = (_time.to_utc(start) - _time.to_utc(_now(now))).total_seconds()
        if remaining <= 0:
            return True
        if not logged:
            logger.info("Waiting for next scheduled run at %s", start)
            logged = True
        if stop is not None:
            sleep(min(remaining, STOP_POLL_SECONDS))
            if stop():
                return False
        else:
            sleep(remaining)
