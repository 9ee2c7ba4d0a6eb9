# Source: anna-geller/pacc-berlin,
#   flows/01_data_state_futures/state_dependencies_with_cleanup_task.py (Prefect 2).
# Idioms: `@flow(log_prints=True, name="...")` with a display name containing spaces;
#   prints in tasks captured by the flow's log_prints; `wait_for=[one, two, three]`;
#   `wait_for=[allow_failure(four), allow_failure(five)]`; futures neither returned nor
#   resolved. The original's `random` failure is made to always fail.
from prefect import task, flow, allow_failure


@task
def task_1():
    print("task 1 succeeded")


@task
def task_2():
    print("task 2 succeeded")


@task
def task_3():
    print("task 3 succeeded")


@task
def task_4():
    print("This task often fails")
    raise ValueError("Non-deterministic error has occured.")


@task
def task_5():
    print("task 5 succeeded")


@task
def clean_up_task():
    print("Cleaning up")


@flow(log_prints=True, name="Cleanup task may not get executed")
def main_flow():
    one = task_1.submit()
    two = task_2.submit()
    three = task_3.submit()
    four = task_4.submit(wait_for=[one, two, three])
    five = task_5.submit()
    clean_up_task.submit(wait_for=[allow_failure(four), allow_failure(five)])


def main():
    return {"name": main_flow.name, "state": main_flow(return_state=True)}
