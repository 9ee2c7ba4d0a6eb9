# Source: PrefectHQ/prefect 1.4.1, examples/old/task_looping.py ("fibonacci"), also
#   docs/core/advanced_tutorials/task-looping.md.
# Idioms: `from prefect.engine.signals import LOOP`; `prefect.context.get(
#   "task_loop_result", {})` as the loop payload; LOOP(message=..., result=dict(...));
#   a plain `return` ends the loop; max_retries/retry_delay on a looping task;
#   flow.run(M=100) with a parameter as a keyword argument.
# Made deterministic and offline: the Fibonacci web API is an in-memory function;
#   retry_delay is zero.
from datetime import timedelta

import prefect
from prefect import Flow, Parameter, task
from prefect.engine.signals import LOOP


def fibonacci_api(nth):
    a, b = 1, 1
    for _ in range(nth - 1):
        a, b = b, a + b
    return a


@task(max_retries=5, retry_delay=timedelta(seconds=0))
def compute_large_fibonacci(M):
    # we extract the accumulated task loop result from context
    loop_payload = prefect.context.get("task_loop_result", {})

    n = loop_payload.get("n", 1)
    fib = loop_payload.get("fib", 1)

    next_fib = fibonacci_api(n)

    if next_fib > M:
        return fib  # return statements end the loop

    raise LOOP(message=f"Fib {n}={next_fib}", result=dict(n=n + 1, fib=next_fib))


def build():
    with Flow("fibonacci") as flow:
        M = Parameter("M")
        compute_large_fibonacci(M)
    return flow, [{"M": 100}, {"M": 1000}]
