# Source: anna-geller/pacc-berlin,
#   flows/01_data_state_futures/02_call_a_task_fn_from_another_task.py and
#   flows/11_parent_child/parent_child_failing.py (Prefect 2).
# Idioms: `other_task.fn()` inside a task (the plain function, no task run); subflows
#   with `log_prints=True` and `datetime.date` parameters (the default of one is
#   computed at import, made fixed here); a child flow that raises, called with
#   `return_state=True` so the parent goes on to a clean-up subflow. pandas replaced
#   by a list of dicts; the random failure always happens.
from datetime import date
from prefect import flow, task


@task
def special_data():
    return 42


@task
def extract_data():
    return special_data.fn()


@flow(log_prints=True)
def extract(start_date: date, end_date: date) -> list:
    print(f"Running ingestion from {start_date} to {end_date}")
    return [{"Users": "Marvin"}, {"Users": "LiveEO"}, {"Users": extract_data()}]


@flow(log_prints=True)
def transform_load(df):
    print(f"Got data: {df}")
    print("This step may fail...")
    raise ValueError("Non-deterministic error has occured.")


@flow(log_prints=True)
def cleanup():
    print("Cleanup process")


@flow(log_prints=True)
def parent(start_date: date = date(2022, 12, 1), end_date: date = date(2023, 1, 1)):
    df = extract(start_date, end_date)
    child = transform_load(df, return_state=True)
    cleanup()
    return child


def main():
    return [parent(return_state=True), parent("2024-02-01", end_date="2024-03-01", return_state=True)]
