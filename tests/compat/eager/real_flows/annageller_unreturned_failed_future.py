# Source: anna-geller/prefect-deployment-patterns,
#   data_and_state_dependencies/failure/02_mark_flow_run_as_failed_if_any_task_failed.py
#   (Prefect 2).
# Idioms: two `.submit()` calls whose futures are neither returned nor resolved, one
#   of them failing; `get_run_logger()` in the succeeding task. (Prefect 2 marked such a
#   flow Failed, as the file name says; what Prefect 3 does is what is compared.)
from prefect import flow, task, get_run_logger


@task
def always_fails_task():
    raise ValueError("I fail")


@task
def always_succeeds_task():
    result = "I'm fail safe! But flow run gets marked as Failed because other task is not as fail-safe"
    logger = get_run_logger()
    logger.info(result)
    return result


@flow
def mark_flow_run_as_failed_if_any_task_failed():
    always_fails_task.submit()
    always_succeeds_task.submit()


def main():
    return mark_flow_run_as_failed_if_any_task_failed(return_state=True)
