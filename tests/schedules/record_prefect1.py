"""Record what Prefect Core 1.4.1's schedules do for every case in ``cases.py``.

Run with the Prefect 1 virtualenv (never with ferroflow's interpreter):

    /work/p1venv/bin/python tests/schedules/record_prefect1.py           # rewrite the JSON
    /work/p1venv/bin/python tests/schedules/record_prefect1.py --check   # is it up to date?
    /work/p1venv/bin/python tests/schedules/record_prefect1.py -k cron/  # print some

Writes ``prefect1_schedules.json`` next to this file: per case, the events
``schedule.next(n, after=after, return_events=True)`` returned, as ``[start time in
ISO 8601 with offset, parameter_defaults, labels]``, or the exception's class name.

The Prefect 1 virtualenv has pendulum 3, whose ``pendulum.tz`` no longer defines the
``_Timezone`` class that an ``assert isinstance(...)`` in Prefect's ``CronClock.events``
names; the recorder aliases it to ``pendulum.tz.Timezone`` (the class pendulum 3 uses)
before running anything. Nothing else of Prefect is touched. croniter, pendulum and
pytz versions are written into the JSON.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import pathlib
import sys
import types
import warnings

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE / "prefect1_schedules.json"


def _load_cases():
    spec = importlib.util.spec_from_file_location("ferroflow_schedule_cases", HERE / "cases.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def prefect_namespace() -> types.SimpleNamespace:
    import pendulum
    import pendulum.tz

    if not hasattr(pendulum.tz, "_Timezone"):
        pendulum.tz._Timezone = pendulum.tz.Timezone
    from prefect.schedules import CronSchedule, IntervalSchedule, Schedule, adjustments, filters
    from prefect.schedules.clocks import CronClock, DatesClock, IntervalClock

    return types.SimpleNamespace(
        pendulum=pendulum, datetime=datetime.datetime, timedelta=datetime.timedelta, time=datetime.time,
        Schedule=Schedule, IntervalClock=IntervalClock, CronClock=CronClock,
        DatesClock=DatesClock, IntervalSchedule=IntervalSchedule, CronSchedule=CronSchedule,
        filters=filters, adjustments=adjustments)


def record_all(only: str | None = None) -> dict:
    cases = _load_cases()
    ns = prefect_namespace()
    out = {}
    for name in sorted(cases.CASES):
        if only and only not in name:
            continue
        first = cases.run_case(ns, name)
        second = cases.run_case(ns, name)
        if first != second:
            raise SystemExit(f"{name}: not deterministic: {first} != {second}")
        out[name] = first
    return out


def _dump(document: dict) -> str:
    """JSON with one event per line, so that a re-recording diffs readably."""
    lines = ["{", f' "versions": {json.dumps(document["versions"], sort_keys=True)},',
             ' "cases": {']
    names = sorted(document["cases"])
    for i, name in enumerate(names):
        result = document["cases"][name]
        comma = "," if i < len(names) - 1 else ""
        if "events" not in result:
            lines.append(f"  {json.dumps(name)}: {json.dumps(result, sort_keys=True)}{comma}")
            continue
        events = [json.dumps(e, sort_keys=True) for e in result["events"]]
        if not events:
            lines.append(f'  {json.dumps(name)}: {{"events": []}}{comma}')
            continue
        lines.append(f'  {json.dumps(name)}: {{"events": [')
        lines.extend(f"   {e}{',' if j < len(events) - 1 else ''}" for j, e in enumerate(events))
        lines.append(f"  ]}}{comma}")
    lines += [" }", "}", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the JSON")
    parser.add_argument("-k", help="only cases whose name contains this; print them")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.k:
        print(json.dumps(record_all(args.k), indent=1))
        return
    versions = {p: importlib.metadata.version(p)
                for p in ("prefect", "pendulum", "croniter", "pytz")}
    document = {"versions": versions, "cases": record_all()}
    text = _dump(document)
    if args.check:
        if not FIXTURE.exists() or FIXTURE.read_text() != text:
            raise SystemExit(f"{FIXTURE.name} is out of date; re-run without --check")
        print(f"{FIXTURE.name} is up to date ({len(document['cases'])} cases)")
        return
    FIXTURE.write_text(text)
    print(f"wrote {FIXTURE.name}: {len(document['cases'])} cases")


if __name__ == "__main__":
    main()
