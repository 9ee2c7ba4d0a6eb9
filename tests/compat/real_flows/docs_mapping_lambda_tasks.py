# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/mapping.md ("Prefect approach")
#   and docs/core/concepts/tasks.md (unmapped, mapped chains).
# Idioms: tasks made from lambdas (`task(lambda x: x + 1)`), a module-level list
#   constant mapped over; `state.result[reduced_result].result == 9`;
#   add.map(x=[1, 2, 3], y=unmapped(1)) then add.map(x=z1, y=unmapped(100)).
from prefect import Flow, task, unmapped

numbers = [1, 2, 3]
map_fn = task(lambda x: x + 1)
reduce_fn = task(lambda x: sum(x))


@task
def add(x, y):
    return x + y


REFS = {}


def build():
    with Flow('Map Reduce') as flow:
        mapped_result = map_fn.map(numbers)
        REFS["reduced"] = reduce_fn(mapped_result)
        z1 = add.map(x=[1, 2, 3], y=unmapped(1))
        add.map(x=z1, y=unmapped(100))
    return flow, {}


def after(flow, state):
    return state.result[REFS["reduced"]].result == 9
