# Source: znicholasbrown/project-schematics, flows/CacheTesting.py.
# Idioms: `from prefect import Flow, task, context`; cache_for=timedelta(minutes=0.5);
#   a custom trigger function that returns its `upstream_states` argument itself (a
#   truthy, non-bool value) instead of True; two runs of the flow in one process.
# Made deterministic: the ipdb breakpoint in the trigger records the argument's type
#   and size instead.
from prefect import Flow, task, context
from datetime import timedelta

OBSERVED = []
CALLS = []


@task(cache_for=timedelta(minutes=0.5))
def fetch_data():
    CALLS.append("fetch_data")
    return ["hello!"]


def trigger_fn(upstream_states) -> bool:
    OBSERVED.append([type(upstream_states).__name__, len(upstream_states)])
    return upstream_states


@task(trigger=trigger_fn)
def insert_data(data):
    print(data)
    return data


def build():
    with Flow("Some Flow") as flow:
        data = fetch_data()

        insert_data(data)
    return flow, [{}, {}]


def after(flow, state):
    return list(CALLS)
