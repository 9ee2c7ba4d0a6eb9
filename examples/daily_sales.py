"""A realistic daily flow: pull yesterday's sales of every store from a flaky API,
summarise each store, and write one report per day.

What it shows:

* **retries**: the API fails now and then; `fetch_sales` retries connection errors
  with exponential backoff and jitter;
* **caching**: a store's sales of a day do not change, so they are cached for six
  hours in the result store (a re-run the same morning does not call the API again);
* **checkpointed results**: every task run's value is written to `$SALES_RESULTS`
  (default `./sales-results`), so a run killed half-way can be resumed with
  `ferroflow run examples/daily_sales.py --resume RUN_ID`; the report has a target,
  so a day whose report exists is not computed again;
* **a notifier**: with `SALES_WEBHOOK_URL` set (and the `ferroflow-webhook` plugin
  installed), every finished run is POSTed there as JSON;
* **a schedule**: every day at 06:00, Berlin time.

Run it once:         ferroflow run examples/daily_sales.py --param day=2026-11-28
Run it on schedule:  python examples/daily_sales.py --on-schedule
"""

from __future__ import annotations

import datetime
import json
import os
import random
import sys
import zlib
from pathlib import Path

import pendulum

from ferroflow import Flow, Parameter, context, get_logger, task, unmapped
from ferroflow.cache_validators import all_inputs
from ferroflow.results import Result
from ferroflow.retries import exponential_backoff
from ferroflow.schedules import CronSchedule

STORES = [f"store-{n:03d}" for n in range(1, 41)]
RESULTS = Path(os.environ.get("SALES_RESULTS", "sales-results")).resolve()


class SalesAPIError(ConnectionError):
    """The (simulated) sales API timed out."""


@task
def which_day(day):
    """The day to report: the `day` parameter, else the day before the scheduled run."""
    return day or context.yesterday


@task(
    max_retries=4,
    retry_delay=exponential_backoff(base=0.05, factor=2, max_delay=1, jitter=0.5),
    retry_on=SalesAPIError,
    cache_for=datetime.timedelta(hours=6),
    cache_validator=all_inputs,
    task_run_name="fetch-{store}-{day}",
)
def fetch_sales(store, day):
    """One store's orders of one day, from a simulated API that fails the first call
    for about one store in four."""
    if zlib.crc32(f"{store}/{day}".encode()) % 4 == 0 and context.task_run_count == 1:
        raise SalesAPIError(f"sales API timed out for {store}")
    rng = random.Random(f"{store}/{day}")
    return [{"sku": f"sku-{rng.randrange(50)}", "amount": round(rng.uniform(1, 100), 2)}
            for _ in range(rng.randrange(20, 60))]


@task
def summarise(store, orders):
    return {"store": store, "orders": len(orders), "revenue": round(sum(o["amount"] for o in orders), 2)}


@task(target="reports/{day}.json", result=Result(base=RESULTS.as_uri(), serializer="json"))
def report(summaries, day):
    total = round(sum(s["revenue"] for s in summaries), 2)
    best = max(summaries, key=lambda s: s["revenue"])
    get_logger().info("%s: %d stores, revenue %.2f, best %s", day, len(summaries), total, best["store"])
    return {"day": day, "stores": len(summaries), "revenue": total, "best_store": best["store"]}


def notifiers() -> list:
    """A webhook notifier for finished runs when SALES_WEBHOOK_URL is set."""
    url = os.environ.get("SALES_WEBHOOK_URL")
    if not url:
        return []
    from ferroflow.notifications import as_state_handler, get_notifier

    return [as_state_handler(get_notifier("webhook", url=url, only_states=["Finished"], timeout=5))]


with Flow(
    "daily-sales",
    result=Result(base=RESULTS.as_uri(), location="{flow_name}/{task_slug}/{today}/{map_index}.pkl"),
    schedule=CronSchedule("0 6 * * *", start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Berlin")),
    state_handlers=notifiers(),
) as flow:
    day = which_day(Parameter("day", default=None))
    orders = fetch_sales.map(STORES, day=unmapped(day))
    summaries = summarise.map(STORES, orders)
    daily = report(summaries, day)


if __name__ == "__main__":
    if "--on-schedule" in sys.argv:
        flow.run()  # every day at 06:00 Berlin time, until Ctrl-C
    else:
        state = flow.run(run_on_schedule=False)
        print(state)
        print(json.dumps(state.result[daily].result, indent=2))
