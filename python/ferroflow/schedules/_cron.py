"""Checking cron strings up front, with messages that name the field at fault (private).

croniter does the matching; this module only decides whether a string is acceptable and,
when it is not, says which field and value are wrong, in words a user can act on.
"""

from __future__ import annotations

import datetime as _dt
import difflib
import re

from croniter import CroniterBadDateError, CroniterError, croniter

from ferroflow.errors import ScheduleError

#: aliases croniter understands, and what they stand for
ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

#: (name, lowest, highest) of each field, in croniter's order
FIELDS = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day-of-month", 1, 31),
    ("month", 1, 12),
    ("day-of-week", 0, 7),
    ("second", 0, 59),
    ("year", 1970, 2099),
)

#: how far ahead a cron string must match something; the Gregorian calendar repeats
#: every 400 years, so a string without a year field that matches nothing in 400 years
#: never matches at all
HORIZON_YEARS = 400

_NUMBER = re.compile(r"(?<![/#\d])\d+")
_RANDOM = re.compile(r"^r(\(\d+-\d+\))?(/\d+)?$")
_HASHED = re.compile(r"^h(\(\d+-\d+\))?(/\d+)?$")
_STEP = re.compile(r"/(\d+)")
_NAMES = {"month": ", a name jan-dec", "day-of-week": ", a name sun-sat"}
_MONTH_DAYS = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31,
               11: 30, 12: 31}


def _fail(cron: str, problem: str) -> ScheduleError:
    return ScheduleError(f"invalid cron string {cron!r}: {problem}")


def _croniter_says(expression: str) -> str | None:
    """croniter's complaint about ``expression``, or None when it accepts it."""
    try:
        croniter.expand(expression)
    except CroniterError as exc:
        return str(exc)
    return None


def _check_field(cron: str, fields: list[str], index: int) -> None:
    name, low, high = FIELDS[index]
    text = fields[index]
    lowered = text.lower()
    if _RANDOM.match(lowered):
        raise _fail(cron, f"{name} field {text!r} is random ('R'); a schedule must give "
                          f"the same times every time it is asked, so use a fixed value")
    if _HASHED.match(lowered):
        raise _fail(cron, f"{name} field {text!r} is hashed ('H'), which needs a hash id "
                          f"that schedules do not take; use a fixed value")
    for step in _STEP.findall(text):
        if int(step) == 0:
            raise _fail(cron, f"{name} field {text!r} has step 0; a step must be 1 or more")
    if "#" not in text and not lowered.startswith("l"):
        for number in _NUMBER.findall(text):
            if not low <= int(number) <= high:
                raise _fail(cron, f"{name} field {text!r} has value {int(number)}, outside "
                                  f"{low}-{high}")
    alone = ["*"] * len(fields)
    alone[index] = text
    if _croniter_says(" ".join(alone)) is not None:
        raise _fail(cron, f"{name} field {text!r} is not valid cron syntax; write a number "
                          f"({low}-{high}), a range a-b, a list a,b, a step */n or a-b/n"
                          f"{_NAMES.get(name, '')}, or *")


def _never_fires_hint(expression: str) -> str:
    try:
        expanded = croniter.expand(expression)[0]
    except CroniterError:  # pragma: no cover - checked before
        return ""
    days, months = expanded[2], expanded[3]
    int_days = [d for d in days if isinstance(d, int)]
    int_months = [m for m in months if isinstance(m, int)]
    if days != ["*"] and months != ["*"] and int_days and int_months:
        if min(int_days) > max(_MONTH_DAYS[m] for m in int_months):
            day_text = ", ".join(map(str, int_days))
            month_text = ", ".join(map(str, int_months))
            if len(int_months) == 1:
                return f" (month {month_text} has no day {day_text})"
            return f" (months {month_text} have no day {day_text})"
    if len(expanded) == 7 and expanded[6] != ["*"]:
        return " (its year field lies wholly in the past)"
    return ""


def check_cron(cron: object, day_or: bool, reference: _dt.datetime) -> str:
    """Return ``cron`` stripped if usable, else raise a ``ScheduleError`` naming the field.

    ``reference`` is a naive wall-clock time: the cron string must match at least one
    time after it, within :data:`HORIZON_YEARS` years.
    """
    if not isinstance(cron, str):
        raise ScheduleError(f"cron must be a string such as '0 9 * * 1-5', got "
                            f"{type(cron).__name__} {cron!r}")
    expression = cron.strip()
    if not expression:
        raise ScheduleError("invalid cron string '': it is empty; write five fields, "
                            "e.g. '0 9 * * 1-5' (09:00 on weekdays)")
    if expression.startswith("@"):
        alias = expression.lower()
        if alias not in ALIASES:
            close = difflib.get_close_matches(alias, ALIASES, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise _fail(cron, f"unknown alias {expression!r}; {hint}known aliases: "
                              + ", ".join(ALIASES))
        fields = ALIASES[alias].split()
    else:
        fields = expression.split()
        if len(fields) not in (5, 6, 7):
            raise _fail(cron, f"it has {len(fields)} field{'s' if len(fields) != 1 else ''}"
                              f"; expected 5: minute hour day-of-month month day-of-week "
                              f"(a 6th field, seconds, and a 7th, year, may follow)")
        for index in range(len(fields)):
            _check_field(cron, fields, index)
        complaint = _croniter_says(expression)
        if complaint is not None:
            raise _fail(cron, f"croniter says: {complaint}")
    try:
        croniter(expression, reference, day_or=day_or,
                 max_years_between_matches=HORIZON_YEARS).get_next(_dt.datetime)
    except CroniterBadDateError:
        raise _fail(cron, f"it never fires: no date in the {HORIZON_YEARS} years after "
                          f"{reference:%Y-%m-%d} matches it"
                          f"{_never_fires_hint(expression)}") from None
    except CroniterError as exc:  # pragma: no cover - defensive
        raise _fail(cron, f"croniter says: {exc}") from None
    return expression
