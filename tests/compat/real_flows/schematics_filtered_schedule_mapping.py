# Source: znicholasbrown/project-schematics, flows/FilteredSchedule.py ("Multi-level
#   Parallel Mapping", a Prefect engineer's test flows).
# Idioms: Task subclasses using self.logger and self.name; `Root()(upstream_tasks=
#   [version])`; `Node(name="Node 1_1").map(upstream_tasks=[root])` -- mapping a fresh
#   Task instance with no data, only an upstream; a mapped task whose upstream_tasks
#   are two mapped tasks; Schedule(clocks=[IntervalClock(timedelta(hours=12))],
#   filters=[is_day_of_week(day_of_week=2)]) with no start_date;
#   LocalDaskExecutor(scheduler="threads", num_workers=6) (the original set it on a
#   LocalEnvironment; here it is given to flow.run).
# Made deterministic: random lengths are fixed, the random failure (which could never
#   happen: random() >= 1) is gone, no sleeps, run_on_schedule=False; after() lists the
#   schedule's next times after a fixed date.
from datetime import datetime, timedelta, timezone

import prefect
from prefect import Flow, Task
from prefect.executors import LocalDaskExecutor
from prefect.schedules import Schedule
from prefect.schedules.clocks import IntervalClock
from prefect.schedules.filters import is_day_of_week


class Version(Task):
    def run(self):
        self.logger.info(f"Running on Prefect v{prefect.__version__}")
        return


class Root(Task):
    def run(self):
        self.logger.info("Root running...")
        return list(range(3))


class Node(Task):
    def run(self):
        self.logger.info(f"{self.name} running...")
        return list(range(2))


def build():
    schedule = Schedule(
        clocks=[IntervalClock(timedelta(hours=12))], filters=[is_day_of_week(day_of_week=2)]
    )
    with Flow("Multi-level Parallel Mapping", schedule=schedule) as flow:
        version = Version()

        root = Root()(upstream_tasks=[version])
        node1_1 = Node(name="Node 1_1").map(upstream_tasks=[root])
        node1_2 = Node(name="Node 1_2").map(upstream_tasks=[root])
        node2_1 = Node(name="Node 2_1").map(upstream_tasks=[node1_1, node1_2])
        node3_1 = Node(name="Node 3_1").map(upstream_tasks=[node2_1])
        node3_2 = Node(name="Node 3_2").map(upstream_tasks=[node2_1])
        Node(name="Node 4_1").map(upstream_tasks=[node3_1, node3_2])
    return flow, {"executor": LocalDaskExecutor(scheduler="threads", num_workers=6),
                  "run_on_schedule": False}


def after(flow, state):
    start = datetime(2021, 1, 4, 1, 0, tzinfo=timezone.utc)
    return [d.isoformat() for d in flow.schedule.next(3, after=start)]
