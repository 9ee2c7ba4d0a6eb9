# Source: PrefectHQ/prefect 1.4.1, examples/old/flow_state_handler_viz.py
#   ("random-mapping-with-viz").
# Idioms: a flow-level state handler (Flow(..., state_handlers=[visualize])) that looks
#   at `isinstance(new_state.result, dict)` (the task states, once the run has them);
#   IntervalSchedule with naive start_date and end_date; mapping over an upstream that
#   passes no data, with per-child retries.
# Made deterministic: the handler records what it saw instead of drawing the flow with
#   graphviz; fixed naive dates instead of datetime.utcnow(); a per-child failure table
#   instead of random(); run_on_schedule=False; after() lists the schedule's times.
from datetime import datetime, timedelta

import prefect
from prefect import Flow, task
from prefect.schedules import IntervalSchedule

OBSERVED = []
FAILS = {2: 1, 5: 99}


def visualize(flow, old_state, new_state):
    """
    Flow state handler that stores the current flow
    visualization to a known file location, for live viewing.
    """
    if isinstance(new_state.result, dict):
        seen = sorted(type(s).__name__ for s in new_state.result.values())
        OBSERVED.append([type(old_state).__name__, type(new_state).__name__, seen])
    else:
        OBSERVED.append([type(old_state).__name__, type(new_state).__name__, None])
    return new_state


@task
def generate_random_list():
    return list(range(7))


@task(max_retries=3, retry_delay=timedelta(seconds=0))
def randomly_fail():
    child = prefect.context.get("map_index")
    if prefect.context.get("task_run_count") <= FAILS.get(child, 0):
        raise ValueError("x is too large")


def build():
    start = datetime(2020, 6, 1, 8, 0)
    schedule = IntervalSchedule(
        start_date=start,
        interval=timedelta(minutes=1),
        end_date=start + timedelta(minutes=10),
    )
    with Flow(
        "random-mapping-with-viz", schedule=schedule, state_handlers=[visualize]
    ) as f:
        randomly_fail.map(upstream_tasks=[generate_random_list])
    return f, {"run_on_schedule": False}


def after(flow, state):
    times = flow.schedule.next(20, after=datetime(2020, 6, 1, 8, 5, 30))
    return [d.isoformat() for d in times]
