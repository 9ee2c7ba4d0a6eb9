"""Schedule cases run on both Prefect 1.4.1 and ferroflow (differential tests).

Each case is ``@case("group/name")`` on ``def _(ns) -> (schedule, after, n)``. It builds
its schedule only through the namespace ``ns`` (``ns.pendulum``, ``ns.datetime``, ``ns.timedelta``,
``ns.time``, ``ns.Schedule``, ``ns.IntervalClock``, ``ns.CronClock``, ``ns.DatesClock``,
``ns.IntervalSchedule``, ``ns.CronSchedule``, ``ns.filters``, ``ns.adjustments``), so the
same code runs on both libraries. Imports neither library.

``record_prefect1.py`` records Prefect's ``schedule.next(n, after=after,
return_events=True)`` for every case in ``prefect1_schedules.json``;
``test_prefect1_schedules.py`` compares ferroflow with the recording.
"""

from __future__ import annotations

import types
from collections.abc import Callable

CASES: dict[str, Callable] = {}

NY = "America/New_York"
SYDNEY = "Australia/Sydney"
LONDON = "Europe/London"
LORD_HOWE = "Australia/Lord_Howe"  # 30-minute DST shift


def case(name: str):
    def register(fn):
        assert name not in CASES, name
        CASES[name] = fn
        return fn
    return register


def record(events) -> list:
    """JSON form of the events ``next(..., return_events=True)`` returned."""
    return [[e.start_time.isoformat(), dict(sorted(e.parameter_defaults.items())),
             e.labels] for e in events]


def run_case(ns: types.SimpleNamespace, name: str) -> dict:
    try:
        schedule, after, n = CASES[name](ns)
        return {"events": record(schedule.next(n, after=after, return_events=True))}
    except Exception as exc:  # recorded, not hidden
        return {"error": type(exc).__name__}


# --- cron across daylight saving time --------------------------------------------------

def _cron(ns, cron, tz, after, n, **kw):
    start = ns.pendulum.datetime(2024, 1, 1, tz=tz)
    clock = ns.CronClock(cron, start_date=start, **kw)
    return ns.Schedule(clocks=[clock]), ns.pendulum.datetime(*after, tz=tz), n


for _cron_text in ("30 2 * * *", "30 1 * * *", "0 9 * * *", "0 2 * * *", "0 3 * * *"):
    for _label, _after in (("spring", (2024, 3, 8)), ("autumn", (2024, 11, 1))):
        @case(f"cron/new-york/{_cron_text.replace(' ', '_')}/{_label}")
        def _(ns, _c=_cron_text, _a=_after):
            return _cron(ns, _c, NY, _a, 5)

for _cron_text in ("0 * * * *", "30 * * * *", "*/15 * * * *", "0 */2 * * *"):
    for _label, _after in (("spring", (2024, 3, 9, 22)), ("autumn", (2024, 11, 2, 22))):
        @case(f"cron/new-york/{_cron_text.replace(' ', '_')}/{_label}")
        def _(ns, _c=_cron_text, _a=_after):
            return _cron(ns, _c, NY, _a, 30)


@case("cron/sydney/30_2/autumn")
def _(ns):
    return _cron(ns, "30 2 * * *", SYDNEY, (2024, 4, 5), 4)


@case("cron/sydney/30_2/spring")
def _(ns):
    return _cron(ns, "30 2 * * *", SYDNEY, (2024, 10, 4), 4)


@case("cron/sydney/hourly/spring")
def _(ns):
    return _cron(ns, "0 * * * *", SYDNEY, (2024, 10, 6), 6)


@case("cron/london/30_1/spring")
def _(ns):
    return _cron(ns, "30 1 * * *", LONDON, (2024, 3, 30), 3)


@case("cron/london/30_1/autumn")
def _(ns):
    return _cron(ns, "30 1 * * *", LONDON, (2024, 10, 26), 3)


@case("cron/lord-howe/half-hourly/spring")
def _(ns):
    return _cron(ns, "*/30 * * * *", LORD_HOWE, (2024, 10, 6, 1), 5)


@case("cron/lord-howe/half-hourly/autumn")
def _(ns):
    return _cron(ns, "*/30 * * * *", LORD_HOWE, (2024, 4, 7, 1), 5)


# --- cron: other semantics -------------------------------------------------------------

@case("cron/utc/no-start-date")
def _(ns):
    clock = ns.CronClock("15 */6 * * *")
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 2, 28, 20, tz="UTC"), 6


@case("cron/day-or-true")
def _(ns):
    clock = ns.CronClock("0 9 8-14 * 5", start_date=ns.pendulum.datetime(2024, 1, 1, tz="UTC"))
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 3, 1, tz="UTC"), 8


@case("cron/day-or-false")
def _(ns):
    clock = ns.CronClock("0 9 8-14 * 5", start_date=ns.pendulum.datetime(2024, 1, 1, tz="UTC"),
                         day_or=False)
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 3, 1, tz="UTC"), 4


@case("cron/start-date-inclusive")
def _(ns):
    start = ns.pendulum.datetime(2024, 5, 1, 9, tz=NY)
    clock = ns.CronClock("0 9 * * *", start_date=start)
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 1, 1, tz=NY), 2


@case("cron/start-date-microsecond")
def _(ns):
    start = ns.pendulum.datetime(2020, 1, 1, 0, 0, 0, 1, tz="UTC")
    clock = ns.CronClock("0 0 * * *", start_date=start)
    return ns.Schedule([clock]), ns.pendulum.datetime(2019, 1, 1, tz="UTC"), 2


@case("cron/after-is-a-match")
def _(ns):
    clock = ns.CronClock("0 * * * *", start_date=ns.pendulum.datetime(2024, 1, 1, tz="UTC"))
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 6, 1, 12, tz="UTC"), 2


@case("cron/after-in-other-zone")
def _(ns):
    clock = ns.CronClock("0 9 * * *", start_date=ns.pendulum.datetime(2024, 1, 1, tz=NY))
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 6, 1, 13, 30, tz="UTC"), 2


@case("cron/end-date-inclusive")
def _(ns):
    clock = ns.CronClock("0 0 * * *", start_date=ns.pendulum.datetime(2024, 1, 1, tz="UTC"),
                         end_date=ns.pendulum.datetime(2024, 1, 3, tz="UTC"))
    return ns.Schedule([clock]), ns.pendulum.datetime(2023, 12, 1, tz="UTC"), 10


@case("cron/alias-hourly")
def _(ns):
    clock = ns.CronClock("@hourly", start_date=ns.pendulum.datetime(2024, 1, 1, tz="UTC"))
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 1, 1, 0, 30, tz="UTC"), 3


@case("cron/names-and-seconds")
def _(ns):
    clock = ns.CronClock("0 12 * jan,feb mon-fri 30",
                         start_date=ns.pendulum.datetime(2024, 1, 1, tz="UTC"))
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 1, 5, tz="UTC"), 3


@case("cron/leap-day")
def _(ns):
    clock = ns.CronClock("0 0 29 2 *", start_date=ns.pendulum.datetime(2024, 1, 1, tz="UTC"))
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 3, 1, tz="UTC"), 2


@case("cron/last-day-of-month")
def _(ns):
    clock = ns.CronClock("0 0 L * *", start_date=ns.pendulum.datetime(2024, 1, 1, tz="UTC"))
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 1, 15, tz="UTC"), 3


# --- interval clocks -------------------------------------------------------------------

def _interval(ns, delta, tz, start, after, n):
    clock = ns.IntervalClock(ns.timedelta(**delta),
                             start_date=ns.pendulum.datetime(*start, tz=tz))
    return ns.Schedule([clock]), ns.pendulum.datetime(*after, tz=tz), n


for _label, _after in (("spring", (2024, 3, 9, 22)), ("autumn", (2024, 11, 2, 22))):
    @case(f"interval/new-york/hourly/{_label}")
    def _(ns, _a=_after):
        return _interval(ns, {"hours": 1}, NY, (2024, 1, 1), _a, 8)

    @case(f"interval/new-york/90-minutes/{_label}")
    def _(ns, _a=_after):
        return _interval(ns, {"minutes": 90}, NY, (2024, 1, 1), _a, 6)

    @case(f"interval/new-york/12-hours/{_label}")
    def _(ns, _a=_after):
        return _interval(ns, {"hours": 12}, NY, (2024, 1, 1), _a, 6)

for _label, _after in (("spring", (2024, 3, 8)), ("autumn", (2024, 11, 1))):
    for _hm in ((9, 0), (2, 30), (1, 30)):
        @case(f"interval/new-york/daily-{_hm[0]:02d}{_hm[1]:02d}/{_label}")
        def _(ns, _a=_after, _hm=_hm):
            return _interval(ns, {"days": 1}, NY, (2024, 1, 1, *_hm), _a, 5)

    @case(f"interval/new-york/25-hours/{_label}")
    def _(ns, _a=_after):
        return _interval(ns, {"hours": 25}, NY, (2024, 3, 1), _a, 5)

    @case(f"interval/new-york/weekly/{_label}")
    def _(ns, _a=_after):
        return _interval(ns, {"weeks": 1}, NY, (2024, 1, 5, 9), _a, 3)


@case("interval/default-start")
def _(ns):
    clock = ns.IntervalClock(ns.timedelta(minutes=7))
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 6, 1, 12, tz="UTC"), 3


@case("interval/after-before-start")
def _(ns):
    clock = ns.IntervalClock(ns.timedelta(hours=6),
                             start_date=ns.pendulum.datetime(2024, 6, 1, 3, tz="UTC"))
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 1, 1, tz="UTC"), 3


@case("interval/after-on-an-event")
def _(ns):
    clock = ns.IntervalClock(ns.timedelta(hours=6),
                             start_date=ns.pendulum.datetime(2024, 6, 1, 3, tz="UTC"))
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 6, 1, 9, tz="UTC"), 2


@case("interval/end-date")
def _(ns):
    clock = ns.IntervalClock(ns.timedelta(days=1),
                             start_date=ns.pendulum.datetime(2024, 6, 1, tz="UTC"),
                             end_date=ns.pendulum.datetime(2024, 6, 3, tz="UTC"))
    return ns.Schedule([clock]), ns.pendulum.datetime(2024, 5, 1, tz="UTC"), 10


@case("interval/shortcut")
def _(ns):
    schedule = ns.IntervalSchedule(start_date=ns.pendulum.datetime(2024, 6, 1, tz="UTC"),
                                   interval=ns.timedelta(minutes=30))
    return schedule, ns.pendulum.datetime(2024, 6, 1, 0, 10, tz="UTC"), 3


@case("interval/far-after")
def _(ns):
    clock = ns.IntervalClock(ns.timedelta(seconds=7),
                             start_date=ns.pendulum.datetime(2000, 1, 1, tz="UTC"))
    return ns.Schedule([clock]), ns.pendulum.datetime(2030, 1, 1, tz="UTC"), 3


# --- dates clocks ----------------------------------------------------------------------

@case("dates/basic")
def _(ns):
    d = ns.pendulum.datetime
    clock = ns.DatesClock([d(2024, 3, 1, tz="UTC"), d(2024, 1, 1, tz="UTC"),
                           d(2024, 2, 1, tz="UTC")], parameter_defaults={"x": 1})
    return ns.Schedule([clock]), d(2024, 1, 1, tz="UTC"), 5


# --- schedules: merging, filters, adjustments ------------------------------------------

@case("schedule/two-clocks-merged")
def _(ns):
    start = ns.pendulum.datetime(2024, 1, 1, tz="UTC")
    return ns.Schedule([ns.IntervalClock(ns.timedelta(hours=3), start_date=start),
                        ns.IntervalClock(ns.timedelta(hours=2), start_date=start)]), \
        ns.pendulum.datetime(2024, 1, 1, 0, 30, tz="UTC"), 6


@case("schedule/same-time-different-parameters")
def _(ns):
    start = ns.pendulum.datetime(2024, 1, 1, tz="UTC")
    return ns.Schedule([
        ns.IntervalClock(ns.timedelta(hours=12), start_date=start, parameter_defaults={"p": 1}),
        ns.IntervalClock(ns.timedelta(hours=12), start_date=start, parameter_defaults={"p": 2}),
        ns.CronClock("0 0 * * *", start_date=start, parameter_defaults={"p": 1}),
    ]), ns.pendulum.datetime(2024, 1, 1, 6, tz="UTC"), 5


@case("schedule/labels")
def _(ns):
    start = ns.pendulum.datetime(2024, 1, 1, tz="UTC")
    return ns.Schedule([
        ns.IntervalClock(ns.timedelta(hours=12), start_date=start, labels=["a"]),
        ns.IntervalClock(ns.timedelta(hours=24), start_date=start, labels=["a"]),
        ns.IntervalClock(ns.timedelta(hours=24), start_date=start, labels=["b"]),
    ]), ns.pendulum.datetime(2024, 1, 1, 6, tz="UTC"), 4


def _hourly(ns, **kw):
    start = ns.pendulum.datetime(2024, 1, 1, tz=NY)
    return ns.Schedule([ns.IntervalClock(ns.timedelta(hours=1), start_date=start)], **kw)


@case("filters/weekday-9-and-17")
def _(ns):
    schedule = _hourly(ns, filters=[ns.filters.is_weekday],
                       or_filters=[ns.filters.between_times(ns.time(9), ns.time(9)),
                                   ns.filters.between_times(ns.time(17), ns.time(17))])
    return schedule, ns.pendulum.datetime(2024, 3, 8, tz=NY), 6


@case("filters/not-weekend")
def _(ns):
    schedule = _hourly(ns, filters=[ns.filters.at_time(ns.time(12))],
                       not_filters=[ns.filters.is_weekend])
    return schedule, ns.pendulum.datetime(2024, 3, 8, tz=NY), 4


@case("filters/between-times-wraps-midnight")
def _(ns):
    schedule = _hourly(ns, filters=[ns.filters.between_times(ns.time(22), ns.time(1))])
    return schedule, ns.pendulum.datetime(2024, 3, 8, tz=NY), 6


@case("filters/on-date")
def _(ns):
    schedule = _hourly(ns, filters=[ns.filters.on_date(3, 9), ns.filters.at_time(ns.time(8))])
    return schedule, ns.pendulum.datetime(2024, 3, 1, tz=NY), 1


@case("filters/between-dates-same-month-wrap")
def _(ns):
    start = ns.pendulum.datetime(2024, 1, 1, tz="UTC")
    clock = ns.IntervalClock(ns.timedelta(days=1), start_date=start)
    schedule = ns.Schedule([clock], filters=[ns.filters.between_dates(3, 20, 3, 10)])
    return schedule, ns.pendulum.datetime(2024, 3, 5, tz="UTC"), 8


@case("filters/between-dates-wraps-year")
def _(ns):
    start = ns.pendulum.datetime(2024, 1, 1, tz="UTC")
    clock = ns.IntervalClock(ns.timedelta(days=1), start_date=start)
    schedule = ns.Schedule([clock], filters=[ns.filters.between_dates(12, 30, 1, 2)])
    return schedule, ns.pendulum.datetime(2024, 6, 1, tz="UTC"), 5


@case("filters/between-datetimes")
def _(ns):
    d = ns.pendulum.datetime
    schedule = _hourly(ns, filters=[ns.filters.between_datetimes(d(2024, 3, 8, 3, tz=NY),
                                                                 d(2024, 3, 8, 5, tz=NY))])
    return schedule, d(2024, 3, 8, tz=NY), 5


@case("filters/on-datetime")
def _(ns):
    d = ns.pendulum.datetime
    schedule = _hourly(ns, filters=[ns.filters.on_datetime(d(2024, 3, 8, 9, tz="UTC"))])
    return schedule, d(2024, 3, 8, tz=NY), 1


@case("filters/month-start-and-end")
def _(ns):
    start = ns.pendulum.datetime(2024, 1, 1, 6, tz="UTC")
    clock = ns.IntervalClock(ns.timedelta(days=1), start_date=start)
    schedule = ns.Schedule([clock], or_filters=[ns.filters.is_month_start,
                                                ns.filters.is_month_end])
    return schedule, ns.pendulum.datetime(2024, 1, 15, tz="UTC"), 6


for _dow in range(7):
    @case(f"filters/is-day-of-week-{_dow}")
    def _(ns, _d=_dow):
        start = ns.pendulum.datetime(2024, 1, 1, 6, tz="UTC")
        clock = ns.IntervalClock(ns.timedelta(days=1), start_date=start)
        schedule = ns.Schedule([clock], filters=[ns.filters.is_day_of_week(_d)])
        return schedule, ns.pendulum.datetime(2024, 1, 1, tz="UTC"), 2


@case("filters/never-matches")
def _(ns):
    schedule = _hourly(ns, filters=[ns.filters.on_date(2, 29), ns.filters.on_date(3, 1)])
    return schedule, ns.pendulum.datetime(2024, 1, 1, tz="UTC"), 3


@case("adjustments/next-weekday")
def _(ns):
    start = ns.pendulum.datetime(2024, 1, 1, 9, tz=NY)
    clock = ns.IntervalClock(ns.timedelta(days=1), start_date=start)
    schedule = ns.Schedule([clock], adjustments=[ns.adjustments.next_weekday])
    return schedule, ns.pendulum.datetime(2024, 3, 7, tz=NY), 5


@case("adjustments/add-across-dst")
def _(ns):
    start = ns.pendulum.datetime(2024, 1, 1, 9, tz=NY)
    clock = ns.IntervalClock(ns.timedelta(days=1), start_date=start)
    schedule = ns.Schedule([clock], adjustments=[ns.adjustments.add(ns.timedelta(days=1,
                                                                                 hours=1))])
    return schedule, ns.pendulum.datetime(2024, 3, 7, tz=NY), 4


@case("adjustments/filter-then-adjust")
def _(ns):
    start = ns.pendulum.datetime(2024, 1, 1, 9, tz="UTC")
    clock = ns.IntervalClock(ns.timedelta(days=1), start_date=start)
    schedule = ns.Schedule([clock], filters=[ns.filters.is_weekend],
                           adjustments=[ns.adjustments.add(ns.timedelta(minutes=-30)),
                                        ns.adjustments.next_weekday])
    return schedule, ns.pendulum.datetime(2024, 3, 7, tz="UTC"), 4


@case("shortcut/cron-schedule")
def _(ns):
    schedule = ns.CronSchedule("0 9 * * 1-5",
                               start_date=ns.pendulum.datetime(2024, 1, 1, tz="Europe/Paris"))
    return schedule, ns.pendulum.datetime(2024, 3, 29, tz="Europe/Paris"), 4


# --- naive datetimes (standard-library ones): Prefect 1 takes them as UTC -------------

@case("naive/interval-start-and-end")
def _(ns):
    clock = ns.IntervalClock(ns.timedelta(hours=1), start_date=ns.datetime(2024, 1, 1, 9),
                             end_date=ns.datetime(2024, 1, 1, 13))
    return ns.Schedule(clocks=[clock]), ns.pendulum.datetime(2024, 1, 1, 10, 30, tz="UTC"), 5


@case("naive/cron-start-and-after")
def _(ns):
    clock = ns.CronClock("0 9 * * *", start_date=ns.datetime(2024, 1, 1, 9))
    return ns.Schedule(clocks=[clock]), ns.datetime(2024, 1, 1, 10, 30), 2


@case("naive/after-with-an-aware-clock")
def _(ns):
    clock = ns.CronClock("0 9 * * *", start_date=ns.pendulum.datetime(2024, 1, 1, tz="Europe/Paris"))
    return ns.Schedule(clocks=[clock]), ns.datetime(2024, 1, 1, 10, 30), 2


@case("naive/interval-schedule")
def _(ns):
    schedule = ns.IntervalSchedule(start_date=ns.datetime(2024, 1, 1, 9), interval=ns.timedelta(days=1),
                                   end_date=ns.datetime(2024, 1, 3))
    return schedule, ns.datetime(2023, 1, 1), 5


@case("naive/cron-schedule")
def _(ns):
    schedule = ns.CronSchedule("30 6 * * *", start_date=ns.datetime(2024, 1, 1))
    return schedule, ns.datetime(2024, 2, 1), 2


@case("naive/dates-clock")
def _(ns):
    clock = ns.DatesClock([ns.datetime(2030, 1, 1, 9)])
    return ns.Schedule(clocks=[clock]), ns.pendulum.datetime(2029, 1, 1, tz="UTC"), 1


@case("naive/between-datetimes-filter")
def _(ns):
    clock = ns.IntervalClock(ns.timedelta(hours=1), start_date=ns.pendulum.datetime(2024, 1, 1, tz="UTC"))
    between = ns.filters.between_datetimes(ns.datetime(2024, 1, 1, 9), ns.datetime(2024, 1, 1, 11))
    return ns.Schedule(clocks=[clock], filters=[between]), ns.pendulum.datetime(2024, 1, 1, tz="UTC"), 3
