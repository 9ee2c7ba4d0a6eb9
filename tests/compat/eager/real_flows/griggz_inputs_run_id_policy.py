# Source: griggz/griggz-prefect-collective, src/sandbox/flows/_quicks/caching.py
#   (Prefect 3).
# Idioms: `cache_policy=INPUTS + RUN_ID` (a composed cache policy, with RUN_ID from
#   prefect.cache_policies) and `cache_expiration=timedelta(days=1)`; the same call
#   twice in one flow run (the second is Cached); a second flow run runs it again;
#   prints in a log_prints flow.
from datetime import timedelta
from prefect import flow, task
from prefect.cache_policies import INPUTS, RUN_ID


@task(cache_policy=INPUTS + RUN_ID, cache_expiration=timedelta(days=1))
def hello_task(name_input):
    print("Saying hello")
    return "hello " + name_input


@flow(log_prints=True)
def hello_flow(name_input):
    first = hello_task(name_input, return_state=True)
    second = hello_task(name_input, return_state=True)
    return [first.name, first.result(), second.name, second.result()]


def main():
    return [hello_flow("Marvin"), hello_flow("Marvin")]
