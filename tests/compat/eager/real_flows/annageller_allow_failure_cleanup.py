# Source: anna-geller/prefect-deployment-patterns,
#   data_and_state_dependencies/allow_failure/example_3.py (a Prefect DevRel engineer's
#   pattern collection, Prefect 2).
# Idioms: `from prefect import allow_failure`; `.submit()` of a task that fails;
#   `allow_failure(future)` as a task argument (the downstream body receives the
#   exception); `wait_for=[allow_failure(f), allow_failure(b)]` for a clean-up task;
#   `get_run_logger()` in a task; `future.result()` returned from the flow (the
#   exception object as a value); the plain call and its `isinstance` check.
from prefect import task, flow, get_run_logger, allow_failure

OBSERVED = []


@task
def fails():
    raise ValueError("Fail task!")


@task
def bar(y):
    OBSERVED.append(f"bar got {type(y).__name__}: {y}")
    return y


@task
def clean_up_task():
    logger = get_run_logger()
    logger.info("cleaning up")


@flow
def failure():
    f = fails.submit()
    b = bar.submit(allow_failure(f))
    clean_up_task.submit(wait_for=[allow_failure(f), allow_failure(b)])
    return b.result()


def main():
    result = failure()
    checks = [isinstance(result, ValueError), "Fail task!" in str(result)]
    return {"result": result, "checks": checks, "state": failure(return_state=True)}
