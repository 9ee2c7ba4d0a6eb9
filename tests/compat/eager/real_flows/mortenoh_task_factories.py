# Source: mortenoh/prefect-examples, flows/044_task_factories.py (Prefect 3).
# Idioms: tasks made by a factory (`@task(name=f"extract_{source}")` on a nested
#   function closing over `source`); `task(fn, retries=..., retry_delay_seconds=...)`
#   called as a function; a list of task results passed to a task. Made observable:
#   the retry-wrapped function fails once, and each task records
#   `prefect.runtime.task_run.task_name`.
from prefect import flow, task
from prefect.runtime import task_run

OBSERVED = []
_calls = {"n": 0}


def make_extractor(source: str):
    @task(name=f"extract_{source}")
    def extract() -> dict:
        OBSERVED.append(task_run.task_name)
        data = {"source": source, "records": [f"{source}_record_{i}" for i in range(3)]}
        print(f"Extracted {len(data['records'])} records from {source}")
        return data

    return extract


def retry_task(fn, retries: int = 3):
    wrapped = task(fn, retries=retries, retry_delay_seconds=0)
    return wrapped


extract_api = make_extractor("api")
extract_database = make_extractor("database")
extract_file = make_extractor("file")


def combine(extracts: list[dict]) -> str:
    _calls["n"] += 1
    OBSERVED.append(task_run.task_name)
    if _calls["n"] == 1:
        raise ConnectionError("first attempt fails")
    total = sum(len(e.get("records", [])) for e in extracts)
    sources = [e["source"] for e in extracts]
    summary = f"Combined {total} records from {', '.join(sources)}"
    print(summary)
    return summary


combine_extracts = retry_task(combine)


@flow(name="044_task_factories", log_prints=True)
def task_factories_flow() -> str:
    api_data = extract_api()
    db_data = extract_database()
    file_data = extract_file()
    return combine_extracts([api_data, db_data, file_data])


def main():
    return [extract_api.name, combine_extracts.name, task_factories_flow(return_state=True)]
