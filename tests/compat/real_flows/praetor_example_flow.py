# Source: pombredanne/praetor, examples/example_flow.py.
# Idioms: only `import prefect` -- prefect.Task, @prefect.task, prefect.Flow,
#   prefect.schedules.CronSchedule and prefect.engine.executors.LocalDaskExecutor all
#   reached as attributes; a Task subclass whose __init__ passes *args/**kwargs on;
#   `prefect.context["scheduled_start_time"].strftime(...)` and `self.logger.warning`
#   in run(); a retry decided by `prefect.context.get("task_run_count") == 1`;
#   Flow("example_flow", schedule=schedule) built first and entered later with
#   `with flow:`; flow.run(executor=LocalDaskExecutor()).
# Made deterministic: no sleeps, retry_delay 0, the start-time string is checked for its
#   shape rather than recorded, run_on_schedule=False (the cron is every minute).
import re

import prefect
from datetime import timedelta


class Task1(prefect.Task):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)

    def run(self):
        run = prefect.context["scheduled_start_time"].strftime("%Y-%m-%d %H:%M:%S")
        self.logger.warning(f"CURRENT RUN: {run}")
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", run)
        return 5


@prefect.task
def task2(x):
    return x


@prefect.task(max_retries=3, retry_delay=timedelta(seconds=0))
def task3(x):
    if prefect.context.get("task_run_count") == 1:
        raise ValueError("fake error")
    return x


@prefect.task
def task4(x, y):
    return x


def build():
    schedule = prefect.schedules.CronSchedule("* * * * *")
    flow = prefect.Flow("example_flow", schedule=schedule)

    with flow:
        x = Task1()
        task2(x)
        task4(x, task3(x))
    return flow, {"executor": prefect.engine.executors.LocalDaskExecutor(),
                  "run_on_schedule": False}
