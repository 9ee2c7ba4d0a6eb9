# Source: anna-geller/pacc-berlin, flows/04_async/practical_task_runner_mapping.py
#   (Prefect 2).
# Idioms: `.map()` over a *future* of a list (`extract.submit()` passed as the mapped
#   iterable); `.map()` over the resulting list of futures; tasks with
#   `log_prints=True` printing; the flow returns the last map's futures.
from prefect import task, flow


@task(log_prints=True)
def extract() -> list:
    return list(range(1, 6))


@task(log_prints=True)
def transform(x: int) -> int:
    return x * 2


@task(log_prints=True)
def load(x: int) -> int:
    print(f"final result {x}")
    return x


@flow(log_prints=True)
def async_etl_map():
    nrs = extract.submit()
    final = transform.map(nrs)
    return load.map(final)


def main():
    return async_etl_map(return_state=True)
