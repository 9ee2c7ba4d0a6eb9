# Source: PrefectHQ/prefect 1.4.1, docs/core/advanced_tutorials/task-looping.md
#   ("mapped-fibonacci").
# Idioms: a looping task (LOOP with a dict payload read back from
#   prefect.context.get("task_loop_result", {})) mapped over a Parameter's list, each
#   child looping on its own; `flow_state.result[fib_nums].result` as the list of
#   the children's results.
# Made offline: the Fibonacci web API is an in-memory function.
from datetime import timedelta

import prefect
from prefect import task, Flow, Parameter
from prefect.engine.signals import LOOP


def fibonacci_api(nth):
    a, b = 1, 1
    for _ in range(nth - 1):
        a, b = b, a + b
    return a


@task(max_retries=5, retry_delay=timedelta(seconds=0))
def compute_large_fibonacci(M):
    loop_payload = prefect.context.get("task_loop_result", {})

    n = loop_payload.get("n", 1)
    fib = loop_payload.get("fib", 1)

    next_fib = fibonacci_api(n)

    if next_fib > M:
        return fib  # return statements end the loop

    raise LOOP(message=f"Fib {n}={next_fib}", result=dict(n=n + 1, fib=next_fib))


def build():
    with Flow("mapped-fibonacci") as mapped_flow:
        ms = Parameter("ms")
        compute_large_fibonacci.map(ms)
    return mapped_flow, {"ms": [10, 100, 1000, 1500]}
