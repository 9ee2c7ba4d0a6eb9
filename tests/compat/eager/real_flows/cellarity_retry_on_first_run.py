# Source: kevingrismore/cellarity-demo, flows/6_deploy.py (a Prefect engineer's
#   customer demo, Prefect 3).
# Idioms: `from prefect import get_run_logger as _logger` (aliased) called in every
#   task; `from prefect.runtime import task_run` and `task_run.get_run_count()` to fail
#   only the first attempt; `@task(retries=1)`; `@flow(retries=1,
#   retry_delay_seconds=...)` whose body always raises, so the whole body (and its
#   tasks) runs twice; the deployment part (`flow.from_source(...).deploy`) left out.
from prefect import flow, task, get_run_logger as _logger
from prefect.runtime import task_run

OBSERVED = []


@flow(retries=1, retry_delay_seconds=0)
def my_pipeline():
    data = extract()
    transformed_data = transform(data)
    load(transformed_data)
    raise Exception("Pipeline failed")


@task
def extract():
    _logger().info("Extracting data")
    return [1, 2, 3]


@task
def transform(data):
    _logger().info("Transforming data")
    return [str(d) for d in data]


@task(retries=1)
def load(transformed_data):
    _logger().info("Loading data")
    OBSERVED.append(task_run.get_run_count())
    if task_run.get_run_count() == 1:
        for d in transformed_data:
            if d == "2":
                raise Exception("Failed to load data")


def main():
    return my_pipeline(return_state=True)
