# Source: PrefectHQ/prefect 1.4.1, examples/old/retries_with_mapping.py ("random-mapping").
# Idioms: .map(upstream_tasks=[generate_random_list]) -- mapping over an upstream that
#   passes no data (a list given only as upstream_tasks), a task object passed
#   uncalled in upstream_tasks, max_retries=3 with retry_delay=timedelta(seconds=0),
#   each mapped child retrying on its own.
# Made deterministic: random() is replaced by a per-child attempt table (child 1 fails
#   once, child 4 twice, child 6 on every attempt).
from datetime import timedelta

import prefect
from prefect import Flow, task

FAILS = {1: 1, 4: 2, 6: 99}


@task
def generate_random_list():
    return list(range(8))


@task(max_retries=3, retry_delay=timedelta(seconds=0))
def randomly_fail():
    child = prefect.context.get("map_index")
    if prefect.context.get("task_run_count") <= FAILS.get(child, 0):
        raise ValueError("x is too large")


def build():
    with Flow("random-mapping") as f:
        randomly_fail.map(upstream_tasks=[generate_random_list])
    return f, {}
