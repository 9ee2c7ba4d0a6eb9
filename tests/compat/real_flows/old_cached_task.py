# Source: PrefectHQ/prefect 1.4.1, examples/old/cached_task.py ("cached-task").
# Idioms: @task(cache_for=timedelta(minutes=1, seconds=30)); an uncalled task passed as
#   another task's argument (`print_number(return_random_number)`); an IntervalSchedule
#   on the flow (Flow(..., schedule=schedule)); two runs in one process, the second
#   served from the cache.
# Made deterministic: random.random() is a counter; the schedule's start is a fixed naive
#   datetime (the original used datetime.utcnow()); the runs use run_on_schedule=False
#   instead of waiting for the clock; after() lists the schedule's next three times.
import datetime

from prefect import Flow, task
from prefect.schedules import IntervalSchedule

_DRAWS = iter([0.8246312081499598, 0.36999574748592756, 0.5])


@task(cache_for=datetime.timedelta(minutes=1, seconds=30))
def return_random_number():
    return next(_DRAWS)


@task
def print_number(num):
    print("=" * 50)
    print("Value: {}".format(num))
    print("=" * 50)
    return num


def build():
    schedule = IntervalSchedule(
        start_date=datetime.datetime(2021, 3, 1, 12, 0), interval=datetime.timedelta(minutes=1)
    )
    with Flow("cached-task", schedule=schedule) as flow:
        print_number(return_random_number)
    return flow, [{"run_on_schedule": False}, {"run_on_schedule": False}]


def after(flow, state):
    after = datetime.datetime(2021, 3, 1, 12, 0, 30)
    return [d.isoformat() for d in flow.schedule.next(3, after=after)]
