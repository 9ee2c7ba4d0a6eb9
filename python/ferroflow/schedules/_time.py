"""Time-zone helpers shared by clocks, filters and the scheduled runner (private)."""

from __future__ import annotations

import datetime as _dt
import zoneinfo
from typing import Any

import pendulum

from ferroflow.errors import ScheduleError

UTC = _dt.timezone.utc
_ONE_US = _dt.timedelta(microseconds=1)


def require_aware(value: Any, what: str) -> pendulum.DateTime:
    """``value`` as a pendulum ``DateTime``, or a ``ScheduleError`` naming ``what``
    when it is not a datetime or is naive (for the clock of ``run_on_schedule``, which
    must say which instant it is)."""
    instant = as_instant(value, what)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ScheduleError(
            f"{what} {value.isoformat()} is a naive datetime (it has no time zone); pass a "
            f"time-zone-aware datetime, e.g. pendulum.now('UTC')"
        )
    return instant


def as_instant(value: Any, what: str) -> pendulum.DateTime:
    """``value`` as a pendulum ``DateTime``: a naive datetime is taken as UTC, as
    Prefect 1 takes it. Anything but a datetime is a ``ScheduleError`` naming ``what``."""
    if not isinstance(value, _dt.datetime):
        raise ScheduleError(
            f"{what} must be a datetime, got {type(value).__name__} "
            f"{value!r}; pass e.g. pendulum.datetime(2024, 1, 1, tz='UTC')"
        )
    if value.tzinfo is None or value.utcoffset() is None:
        return pendulum.datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                                 value.microsecond, tz="UTC")
    return pendulum.instance(value)


def optional_instant(value: Any, what: str) -> pendulum.DateTime | None:
    """Like :func:`as_instant`, but ``None`` passes through."""
    return None if value is None else as_instant(value, what)


def stdlib_tz(tz: Any) -> _dt.tzinfo:
    """A standard-library ``tzinfo`` equivalent to a pendulum time zone.

    Wall-clock arithmetic below relies on PEP 495 ``fold`` semantics, which the
    standard-library ``ZoneInfo`` and ``timezone`` classes implement exactly.
    """
    if isinstance(tz, pendulum.FixedTimezone):
        return _dt.timezone(_dt.timedelta(seconds=tz.offset))
    name = getattr(tz, "key", None) or getattr(tz, "name", None)
    if isinstance(tz, zoneinfo.ZoneInfo) and name:
        return zoneinfo.ZoneInfo(name)
    return tz


def to_utc(value: _dt.datetime) -> _dt.datetime:
    """A plain standard-library datetime in UTC for the same instant.

    Compare and hash times through this. Python compares two datetimes that share a
    ``tzinfo`` by their wall-clock readings, ignoring ``fold``: 01:00 EDT and 01:00 EST
    on the autumn change compare *equal* although they are an hour apart.
    """
    u = value.astimezone(UTC)
    return _dt.datetime(u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond,
                        tzinfo=UTC)


def local_wall(instant: _dt.datetime, tz: _dt.tzinfo) -> _dt.datetime:
    """The naive wall-clock reading of ``instant`` in ``tz``."""
    return instant.astimezone(tz).replace(tzinfo=None, fold=0)


def wall_to_instant_first(wall: _dt.datetime, tz: _dt.tzinfo) -> _dt.datetime:
    """The instant (in UTC) at which a wall clock in ``tz`` first shows ``wall``.

    * A reading that occurs once maps to that instant.
    * A reading that occurs twice (the repeated hour when clocks go back) maps to its
      first occurrence.
    * A reading that never occurs (the hour skipped when clocks go forward) maps to the
      moment of the change, the first instant after the skipped reading, which is when
      the classic cron daemons run a job whose time was skipped.
    """
    first = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if local_wall(first, tz) == wall:
        return first
    # ``wall`` falls in a gap. fold=1 reads it with the offset after the change, which
    # lands before the gap; fold=0 with the offset before it, which lands after.
    lo = int(wall.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp()) - 1
    hi = int(first.timestamp()) + 1
    # smallest whole second whose wall-clock reading is past ``wall`` (the change)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if local_wall(_dt.datetime.fromtimestamp(mid, UTC), tz) > wall:
            hi = mid
        else:
            lo = mid
    return _dt.datetime.fromtimestamp(hi, UTC)


def in_zone(instant: _dt.datetime, ptz: Any) -> pendulum.DateTime:
    """``instant`` as a pendulum ``DateTime`` shown in the pendulum time zone ``ptz``."""
    return pendulum.instance(instant.astimezone(UTC)).in_timezone(ptz)


def now_utc() -> pendulum.DateTime:
    """The current time, in UTC."""
    return pendulum.now("UTC")


def coerce_after(after: Any) -> pendulum.DateTime:
    """The ``after=`` argument of ``events``/``next`` (naive: UTC), defaulting to now."""
    if after is None:
        return now_utc()
    return as_instant(after, "after")


def minus_one_us(value: _dt.datetime) -> _dt.datetime:
    """One microsecond earlier (turns an inclusive bound into an exclusive one)."""
    return value - _ONE_US
