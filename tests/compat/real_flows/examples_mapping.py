# Source: PrefectHQ/prefect 1.4.1, examples/mapping.py ("Example: Mapping").
# Idioms: Parameter with a default; a task that returns a range() mapped over; a map
#   of a map; unmapped(2) as a constant second argument; a reduce into a task with
#   log_stdout=True; flow.run() and flow.run(parameters={"n": 5}).
from prefect import Flow, Parameter, task, unmapped


@task
def get_numbers(n):
    return range(1, n + 1)


@task
def inc(x):
    return x + 1


@task
def add(x, y):
    return x + y


@task(log_stdout=True)
def compute_sum(nums):
    total = sum(nums)
    print(f"total = {total}")
    return total


def build():
    with Flow("Example: Mapping") as flow:
        n = Parameter("n", default=3)
        nums = get_numbers(n)
        nums_2 = inc.map(nums)
        nums_3 = add.map(nums_2, unmapped(2))
        compute_sum(nums_3)
    return flow, [{}, {"parameters": {"n": 5}}]
