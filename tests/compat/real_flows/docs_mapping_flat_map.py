# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/mapping.md ("Flat-mapping",
#   "Iterated mapping", "Reduce").
# Idioms: `from prefect import Flow, task, flatten`; a mapped task returning lists
#   mapped again with flatten(b); keyword mapping (B.map(x=a), C.map(y=flatten(b)));
#   the same task mapped over its own mapped output, then reduced.
from prefect import Flow, task, flatten


@task
def A():
    return [1, 2, 3]


@task
def B(x):
    return list(range(x))


@task
def C(y):
    return y + 100


@task
def add_ten(x):
    return x + 10


@task
def sum_numbers(y):
    return sum(y)


def build():
    with Flow('flat map') as f:
        a = A()  # [1, 2, 3]
        b = B.map(x=a)  # [[0], [0, 1], [0, 1, 2]]
        C.map(y=flatten(b))  # [100, 100, 101, 100, 101, 102]
        mapped_result = add_ten.map([1, 2, 3])
        mapped_result_2 = add_ten.map(mapped_result)
        sum_numbers(mapped_result_2)
    return f, {}
