# Source: mortenoh/prefect-examples, flows/023_task_run_names.py (Prefect 3).
# Idioms: `@task(task_run_name="fetch-{source}-page-{page}")` (a template);
#   `@task(task_run_name=callable)` where the callable reads
#   `prefect.runtime.task_run.parameters`; log_prints flow. Made observable: each task
#   records `task_run.name` as it runs.
from prefect import flow, task
from prefect.runtime import task_run

OBSERVED = []


def generate_task_name() -> str:
    params = task_run.parameters
    region = params.get("region", "unknown")
    batch_id = params.get("batch_id", 0)
    return f"process-{region}-batch-{batch_id}"


@task(task_run_name="fetch-{source}-page-{page}")
def fetch_data(source: str, page: int) -> dict:
    OBSERVED.append(task_run.name)
    result = {"source": source, "page": page, "records": page * 10}
    print(f"Fetched {result['records']} records from {source} page {page}")
    return result


@task(task_run_name=generate_task_name)
def process_batch(region: str, batch_id: int) -> str:
    OBSERVED.append(task_run.name)
    msg = f"Processed batch {batch_id} for region {region}"
    print(msg)
    return msg


@flow(name="023_task_run_names", log_prints=True)
def task_run_names_flow() -> None:
    fetch_data("api", 1)
    fetch_data("api", 2)
    fetch_data("database", 1)
    process_batch("us-east", 101)
    process_batch("eu-west", 202)


def main():
    return task_run_names_flow(return_state=True)
