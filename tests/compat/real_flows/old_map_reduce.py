# Source: PrefectHQ/prefect 1.4.1, examples/old/map_reduce.py ("Map / Reduce").
# Idioms: the same task mapped twice (two copies of map_task, slugs map_task-1 and
#   map_task-2), mapped -> mapped -> reduce, and the original's check
#   `state.result[reduction].result == 12` after the run; a flow name with an emoji.
from prefect import Flow, task


@task
def numbers_task():
    return [1, 2, 3]


@task
def map_task(x):
    return x + 1


@task
def reduce_task(x):
    return sum(x)


REDUCTION = []


def build():
    with Flow("Map / Reduce \N{NERD FACE}") as flow:
        numbers = numbers_task()
        first_map = map_task.map(numbers)
        second_map = map_task.map(first_map)
        REDUCTION.append(reduce_task(second_map))
    return flow, {}


def after(flow, state):
    return state.result[REDUCTION[0]].result == 12
