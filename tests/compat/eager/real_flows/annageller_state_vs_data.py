# Source: anna-geller/prefect-deployment-patterns,
#   data_and_state_dependencies/return_state_vs_data_from_task_and_subflow.py (Prefect 2).
# Idioms: `task(..., return_state=True)` then `state.result()`; the same for a subflow
#   with a default parameter; logging a State object with `%s`
#   (`logger.info("State: %s.", state)`, so its str is compared); type hints on tasks.
from prefect import flow, task, get_run_logger


@task
def add_one(x: int) -> int:
    return x + 1


@flow
def subflow_returning_data(emoji: str = "rocket") -> str:
    return f"Subflows are {emoji}!"


@flow
def basic_flow():
    logger = get_run_logger()
    state = add_one(41, return_state=True)
    data = state.result()
    also_data = add_one(41)
    logger.info("State: %s.", state)
    logger.info("Data: %s. Also data: %s", data, also_data)
    state_of_a_subflow = subflow_returning_data("cool", return_state=True)
    subflow_data = state_of_a_subflow.result()
    also_subflow_data = subflow_returning_data("blue")
    logger.info("Subflow state: %s.", state_of_a_subflow)
    logger.info("Subflow data: %s. Also subflow data: %s", subflow_data, also_subflow_data)
    return [data, also_data, subflow_data, also_subflow_data]


def main():
    return basic_flow(return_state=True)
