# Source: PrefectHQ/prefect 1.4.1, examples/old/parameterized_flow.py ("Check Even/Odd").
# Idioms: a required Parameter; ifelse(condition, true_task, false_task) from
#   prefect.tasks.control_flow with both branches called before ifelse; f.run(value=2)
#   then f.run(value=1) on the same flow object.
from prefect import Flow, Parameter, task
from prefect.tasks.control_flow import ifelse


@task
def check_if_even(value):
    return value % 2 == 0


@task
def print_odd(value):
    print("{} is odd!".format(value))
    return "odd"


@task
def print_even(value):
    print("{} is even!".format(value))
    return "even"


def build():
    with Flow("Check Even/Odd") as f:
        value = Parameter("value")
        is_even = check_if_even(value)

        even = print_even(value)
        odd = print_odd(value)

        ifelse(is_even, even, odd)
    return f, [{"value": 2}, {"value": 1}]
