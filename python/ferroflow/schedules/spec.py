"""Schedules as plain JSON: :func:`to_spec` and :func:`from_spec`.

A spec holds only dicts, lists, strings, numbers, booleans and ``None``, so it can be
stored in a database and sent over the network; nothing in it is code.
:func:`from_spec` checks every field strictly (an unknown kind, name or field is a
``ScheduleError``, a ``ValueError``, naming it) and builds the schedule from the
built-in clocks, filters and adjustments only.

The form (version 1)::

    {"v": 1,
     "clocks": [{"kind": "interval", "interval": 3600.0,
                 "start_date": {"dt": "2024-03-10T00:00:00-05:00", "tz": "America/New_York"},
                 "end_date": None, "parameter_defaults": {"region": "eu"}, "labels": None},
                {"kind": "cron", "cron": "0 9 * * *", "day_or": True, ...},
                {"kind": "dates", "dates": [...], "parameter_defaults": {}, "labels": None}],
     "filters": [{"name": "is_weekday", "args": []},
                 {"name": "at_time", "args": ["09:00:00"]}],
     "or_filters": [], "not_filters": [],
     "adjustments": [{"name": "add", "args": [1800.0]}]}

A datetime is its ISO 8601 reading with its UTC offset (which keeps the two 01:30 of an
autumn change apart) plus its time zone name (``None`` for a fixed offset), so the
clock keeps following the zone's daylight saving changes. A ``time`` is its ISO
reading, a ``timedelta`` its length in seconds.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable
from typing import Any

import pendulum

from ferroflow.errors import ScheduleError
from ferroflow.schedules import _time, adjustments, filters
from ferroflow.schedules._recorded import Recorded
from ferroflow.schedules.clocks import Clock, CronClock, DatesClock, IntervalClock
from ferroflow.schedules.schedules import Schedule

__all__ = ["SPEC_VERSION", "from_spec", "to_spec"]

#: the version written into (``"v"``) and required from every spec
SPEC_VERSION = 1

# name -> (the plain function, or the factory, and the kinds of its arguments);
# ``None`` kinds mark a plain function stored by name alone
_FILTERS: dict[str, tuple[Callable, tuple[str, ...] | None]] = {
    "is_weekday": (filters.is_weekday, None),
    "is_weekend": (filters.is_weekend, None),
    "is_month_start": (filters.is_month_start, None),
    "is_month_end": (filters.is_month_end, None),
    "on_datetime": (filters.on_datetime, ("datetime",)),
    "between_datetimes": (filters.between_datetimes, ("datetime", "datetime")),
    "on_date": (filters.on_date, ("int", "int")),
    "between_dates": (filters.between_dates, ("int", "int", "int", "int")),
    "at_time": (filters.at_time, ("time",)),
    "between_times": (filters.between_times, ("time", "time")),
    "is_day_of_week": (filters.is_day_of_week, ("int",)),
}
_ADJUSTMENTS: dict[str, tuple[Callable, tuple[str, ...] | None]] = {
    "next_weekday": (adjustments.next_weekday, None),
    "add": (adjustments.add, ("timedelta",)),
}
_COMMON_CLOCK_FIELDS = ("kind", "parameter_defaults", "labels")
_CLOCK_FIELDS = {
    "interval": {*_COMMON_CLOCK_FIELDS, "interval", "start_date", "end_date"},
    "cron": {*_COMMON_CLOCK_FIELDS, "cron", "start_date", "end_date", "day_or"},
    "dates": {*_COMMON_CLOCK_FIELDS, "dates"},
}
_SCHEDULE_FIELDS = {"v", "clocks", "filters", "or_filters", "not_filters", "adjustments"}
_FUNCTION_LISTS = (("filters", _FILTERS), ("or_filters", _FILTERS),
                   ("not_filters", _FILTERS), ("adjustments", _ADJUSTMENTS))


# -- writing ------------------------------------------------------------------------


def to_spec(schedule: Schedule) -> dict:
    """The JSON form of ``schedule`` (a dict that ``json.dumps`` accepts as it is).

    Raises:
        ScheduleError: (a ``ValueError``) something in the schedule has no JSON form:
            a clock that is not an ``IntervalClock``, ``CronClock`` or ``DatesClock``, a
            parameter default that is not JSON (the message names it), a datetime in a
            time zone without a name, or a filter or adjustment that is not one of the
            built-in ones of ``ferroflow.schedules.filters``/``adjustments`` (a
            function of your own is code, which a stored schedule cannot hold).
    """
    if not isinstance(schedule, Schedule):
        raise ScheduleError(f"to_spec takes a Schedule, got {type(schedule).__name__} "
                            f"{schedule!r}")
    spec: dict[str, Any] = {"v": SPEC_VERSION,
                            "clocks": [_clock_to_spec(c, f"clocks[{i}]")
                                       for i, c in enumerate(schedule.clocks)]}
    for field, table in _FUNCTION_LISTS:
        spec[field] = [_function_to_spec(f, table, f"{field}[{i}]")
                       for i, f in enumerate(getattr(schedule, field))]
    return spec


def _clock_to_spec(clock: Clock, where: str) -> dict:
    common = {"parameter_defaults": _json_defaults(clock.parameter_defaults, where),
              "labels": None if clock.labels is None else list(clock.labels)}
    if type(clock) is IntervalClock:
        return {"kind": "interval", "interval": _timedelta_to_spec(clock.interval),
                "start_date": _optional_datetime(clock.start_date, f"{where}.start_date"),
                "end_date": _optional_datetime(clock.end_date, f"{where}.end_date"),
                **common}
    if type(clock) is CronClock:
        return {"kind": "cron", "cron": clock.cron, "day_or": clock.day_or,
                "start_date": _optional_datetime(clock.start_date, f"{where}.start_date"),
                "end_date": _optional_datetime(clock.end_date, f"{where}.end_date"),
                **common}
    if type(clock) is DatesClock:
        return {"kind": "dates", **common,
                "dates": [_datetime_to_spec(d, f"{where}.dates[{i}]")
                          for i, d in enumerate(clock.dates)]}
    raise ScheduleError(f"{where}: {type(clock).__name__} has no JSON form; only "
                        f"IntervalClock, CronClock and DatesClock can be stored")


def _json_defaults(defaults: dict, where: str) -> dict:
    for name, value in defaults.items():
        _check_json(value, f"{where}.parameter_defaults[{name!r}]")
    return dict(defaults)


def _check_json(value: Any, where: str) -> None:
    if value is None or isinstance(value, (str, bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ScheduleError(f"{where} is {value!r}, which JSON cannot hold")
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ScheduleError(f"{where} has the key {key!r}; JSON object keys must "
                                    f"be strings")
            _check_json(item, f"{where}[{key!r}]")
        return
    raise ScheduleError(f"{where} is a {type(value).__name__} ({value!r}), which is not "
                        f"JSON; parameter defaults of a stored schedule must be dicts, "
                        f"lists, strings, numbers, booleans or None")


def _function_to_spec(function: Callable, table: dict, where: str) -> dict:
    for name, (known, kinds) in table.items():
        if kinds is None and function is known:
            return {"name": name, "args": []}
        if kinds is not None and isinstance(function, Recorded) and function.name == name:
            return {"name": name, "args": [_arg_to_spec(kind, arg, f"{where}.args[{i}]")
                                           for i, (kind, arg)
                                           in enumerate(zip(kinds, function.args, strict=True))]}
    label = getattr(function, "__qualname__", None) or repr(function)
    module = "filters" if table is _FILTERS else "adjustments"
    raise ScheduleError(f"{where}: {label} is a function of your own, which cannot be "
                        f"stored as JSON (it is code); use the built-in ones of "
                        f"ferroflow.schedules.{module} ({', '.join(sorted(table))}), or "
                        f"express the rule with clocks (e.g. a cron string)")


def _arg_to_spec(kind: str, value: Any, where: str) -> Any:
    if kind == "datetime":
        return _datetime_to_spec(_time.as_instant(value, where), where)
    if kind == "time":
        return value.isoformat()
    if kind == "timedelta":
        return _timedelta_to_spec(value)
    return value  # "int"


def _timedelta_to_spec(value: _dt.timedelta) -> float | int:
    whole = value.days * 86400 + value.seconds
    return whole if value.microseconds == 0 else whole + value.microseconds / 1e6


def _optional_datetime(value: _dt.datetime | None, where: str) -> dict | None:
    return None if value is None else _datetime_to_spec(value, where)


def _datetime_to_spec(value: _dt.datetime, where: str) -> dict:
    instant = pendulum.instance(value)
    tz = instant.tzinfo
    if isinstance(tz, pendulum.FixedTimezone):
        name = None
    elif isinstance(tz, pendulum.Timezone):
        name = tz.name
    else:
        raise ScheduleError(f"{where}: the time zone {tz!r} has no name; use an IANA zone "
                            f"such as pendulum.timezone('Europe/London') or a fixed offset")
    return {"dt": instant.isoformat(), "tz": name}


# -- reading ------------------------------------------------------------------------


def from_spec(spec: Any) -> Schedule:
    """The :class:`Schedule` a spec made by :func:`to_spec` describes.

    The spec is checked strictly, as data from the network should be: every field must
    be present with the right type and nothing else may be there; clocks, filters and
    adjustments are built from the built-in ones only, and no code is evaluated.

    Raises:
        ScheduleError: (a ``ValueError``) the spec is malformed; the message names the
            field, kind or name at fault (``clocks[0].interval``, ``unknown filter
            'evil'``), or repeats the clock's own error (a bad cron string).
    """
    _require_fields(spec, _SCHEDULE_FIELDS, "schedule spec")
    if type(spec["v"]) is not int or spec["v"] != SPEC_VERSION:
        raise ScheduleError(f"schedule spec: v is {spec['v']!r}; this version of ferroflow "
                            f"reads version {SPEC_VERSION}")
    clocks = [_clock_from_spec(c, f"clocks[{i}]")
              for i, c in enumerate(_list(spec["clocks"], "clocks"))]
    functions = {field: [_function_from_spec(f, table, f"{field}[{i}]")
                         for i, f in enumerate(_list(spec[field], field))]
                 for field, table in _FUNCTION_LISTS}
    return Schedule(clocks, **functions)


def _require_fields(value: Any, fields: set[str], where: str) -> dict:
    if not isinstance(value, dict):
        raise ScheduleError(f"{where} must be an object, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in fields)
    if unknown:
        raise ScheduleError(f"{where}: unknown field {unknown[0]!r}")
    missing = sorted(fields - set(value))
    if missing:
        raise ScheduleError(f"{where}: missing field {missing[0]!r}")
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise ScheduleError(f"{where} must be a list, got {type(value).__name__}")
    return value


def _clock_from_spec(spec: Any, where: str) -> Clock:
    if not isinstance(spec, dict):
        raise ScheduleError(f"{where} must be an object, got {type(spec).__name__}")
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in _CLOCK_FIELDS:
        raise ScheduleError(f"{where}: unknown clock kind {kind!r}; known kinds are "
                            f"{', '.join(sorted(_CLOCK_FIELDS))}")
    _require_fields(spec, _CLOCK_FIELDS[kind], where)
    defaults = spec["parameter_defaults"]
    if not isinstance(defaults, dict):
        raise ScheduleError(f"{where}.parameter_defaults must be an object")
    _json_defaults(defaults, where)
    labels = spec["labels"]
    if labels is not None and not (isinstance(labels, list)
                                   and all(isinstance(x, str) for x in labels)):
        raise ScheduleError(f"{where}.labels must be a list of strings or null")
    common: dict[str, Any] = {"parameter_defaults": defaults, "labels": labels}
    try:
        if kind == "dates":
            dates = [_datetime_from_spec(d, f"{where}.dates[{i}]")
                     for i, d in enumerate(_list(spec["dates"], f"{where}.dates"))]
            return DatesClock(dates, **common)
        start = _optional_datetime_from_spec(spec["start_date"], f"{where}.start_date")
        end = _optional_datetime_from_spec(spec["end_date"], f"{where}.end_date")
        if kind == "interval":
            interval = _timedelta_from_spec(spec["interval"], f"{where}.interval")
            return IntervalClock(interval, start, end, **common)
        if not isinstance(spec["cron"], str):
            raise ScheduleError(f"{where}.cron must be a string")
        if not isinstance(spec["day_or"], bool):
            raise ScheduleError(f"{where}.day_or must be true or false")
        return CronClock(spec["cron"], start, end, day_or=spec["day_or"], **common)
    except ScheduleError as error:
        if str(error).startswith(where):
            raise
        raise ScheduleError(f"{where}: {error}") from None


def _function_from_spec(spec: Any, table: dict, where: str) -> Callable:
    _require_fields(spec, {"name", "args"}, where)
    name, args = spec["name"], _list(spec["args"], f"{where}.args")
    if not isinstance(name, str) or name not in table:
        raise ScheduleError(f"{where}: unknown name {name!r}; known names are "
                            f"{', '.join(sorted(table))}")
    function, kinds = table[name]
    expected = kinds or ()
    if len(args) != len(expected):
        raise ScheduleError(f"{where}: {name} takes {len(expected)} argument(s), got "
                            f"{len(args)}")
    if kinds is None:
        return function
    values = [_arg_from_spec(kind, arg, f"{where}.args[{i}]")
              for i, (kind, arg) in enumerate(zip(kinds, args, strict=True))]
    try:
        return function(*values)
    except ScheduleError as error:
        raise ScheduleError(f"{where}: {error}") from None


def _arg_from_spec(kind: str, value: Any, where: str) -> Any:
    if kind == "datetime":
        return _datetime_from_spec(value, where)
    if kind == "timedelta":
        return _timedelta_from_spec(value, where)
    if kind == "time":
        if not isinstance(value, str):
            raise ScheduleError(f"{where} must be a time string such as '09:30:00'")
        try:
            return _dt.time.fromisoformat(value)
        except ValueError:
            raise ScheduleError(f"{where}: {value!r} is not a time such as '09:30:00'") \
                from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ScheduleError(f"{where} must be an integer, got {value!r}")
    return value


def _timedelta_from_spec(value: Any, where: str) -> _dt.timedelta:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value):
        raise ScheduleError(f"{where} must be a number of seconds, got {value!r}")
    try:
        return _dt.timedelta(seconds=value)
    except OverflowError:
        raise ScheduleError(f"{where}: {value!r} seconds is too long") from None


def _optional_datetime_from_spec(value: Any, where: str) -> pendulum.DateTime | None:
    return None if value is None else _datetime_from_spec(value, where)


def _datetime_from_spec(value: Any, where: str) -> pendulum.DateTime:
    _require_fields(value, {"dt", "tz"}, where)
    text, name = value["dt"], value["tz"]
    if not isinstance(text, str):
        raise ScheduleError(f"{where}.dt must be an ISO 8601 string")
    try:
        parsed = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise ScheduleError(f"{where}.dt: {text!r} is not an ISO 8601 datetime") from None
    if parsed.tzinfo is None:
        raise ScheduleError(f"{where}.dt: {text!r} has no UTC offset")
    instant = pendulum.instance(parsed)
    if name is None:
        return instant
    if not isinstance(name, str):
        raise ScheduleError(f"{where}.tz must be a time zone name or null")
    try:
        zone = pendulum.timezone(name)
    except Exception:  # pendulum raises its own errors for unknown or malformed names
        raise ScheduleError(f"{where}.tz: unknown time zone {name!r}") from None
    return instant.in_timezone(zone)
