# Source: whimsicallyson/example-flows, flows/random-flow.py ("random list").
# Idioms: `from prefect.triggers import some_successful` called with a fraction
#   (some_successful(at_least=0.5)); a mapped task created inside upstream_tasks
#   (`mostly_ok(upstream_tasks=[check_even.map(arr)])`) so the trigger counts the
#   mapped children; flow.set_reference_tasks([ok]) after the `with` block.
# Made deterministic: the random length and numbers are fixed, one run with 2 of 4 odd
#   numbers (the threshold holds) and one with 3 of 4 (it does not); GitHub storage is
#   left out.
from prefect import task, Flow
from prefect.triggers import some_successful

ARRAYS = [[2, 3, 4, 5], [1, 3, 4, 5]]


@task
def choose_array_length():
    return 4


@task
def create_array_of_randoms(length):
    return ARRAYS.pop(0)[:length]


@task
def check_even(num):
    if num % 2 != 0:
        raise ValueError("number is odd!")


@task(trigger=some_successful(at_least=0.5))
def mostly_ok():
    return True


def build():
    with Flow("random list") as flow:
        n = choose_array_length()
        arr = create_array_of_randoms(n)
        ok = mostly_ok(upstream_tasks=[check_even.map(arr)])

    flow.set_reference_tasks([ok])
    return flow, [{}, {}]
