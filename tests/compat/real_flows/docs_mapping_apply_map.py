# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/mapping.md ("Complex mapped
#   pipelines").
# Idioms: `from prefect import Flow, task, case, apply_map`; a plain function (not a
#   task) building is_even -> case(True)/case(False) -> merge, mapped with
#   apply_map(inc_or_negate, range(4)) over a range constant.
from prefect import Flow, task, case, apply_map
from prefect.tasks.control_flow import merge


@task
def inc(x):
    return x + 1


@task
def negate(x):
    return -x


@task
def is_even(x):
    return x % 2 == 0


def inc_or_negate(x):
    cond = is_even(x)
    # If x is even, increment it
    with case(cond, True):
        res1 = inc(x)
    # If x is odd, negate it
    with case(cond, False):
        res2 = negate(x)
    return merge(res1, res2)


RESULT = []


def build():
    with Flow("apply-map example") as flow:
        RESULT.append(apply_map(inc_or_negate, range(4)))
    return flow, {}


def after(flow, state):
    return state.result[RESULT[0]].result
