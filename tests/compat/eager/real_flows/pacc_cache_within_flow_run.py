# Source: anna-geller/pacc-berlin,
#   flows/02_retries_and_caching/cache_it_only_same_flow_run.py (Prefect 2).
# Idioms: a custom `cache_key_fn(context, parameters)` reading
#   `context.task_run.flow_run_id` and calling `task_input_hash(context, parameters)`;
#   `cache_expiration=timedelta(minutes=1)`; `from prefect.context import
#   get_run_context` and `get_run_context().flow_run.id` printed in a log_prints flow;
#   the cached task called five times in a loop; the flow run twice (a new run misses).
from datetime import timedelta
from prefect.tasks import task_input_hash
from prefect import task, flow
from prefect.context import get_run_context

OBSERVED = []


def cache_within_flow_run(context, parameters):
    id_ = context.task_run.flow_run_id
    key = f"{id_}-{task_input_hash(context, parameters)}"
    OBSERVED.append(key.startswith(str(id_)))
    return key


@task(cache_key_fn=cache_within_flow_run, cache_expiration=timedelta(minutes=1), log_prints=True)
def expensive_computation() -> int:
    print("running an expensive operation")
    return 42


@flow(log_prints=True)
def cache_it():
    print(get_run_context().flow_run.id)
    return [expensive_computation(return_state=True).name for _ in range(5)]


def main():
    return [cache_it(), cache_it()]
