# Source: kevingrismore/cellarity-demo, flows/5_caching.py (Prefect 3).
# Idioms: `cache_key_fn=lambda *args, **kwargs: "static-key1"` (a lambda taking
#   anything); `from prefect.transactions import transaction` and `with transaction():`
#   around two cached tasks, so a failure of the second rolls back the first's cache
#   entry; a `fail: bool = True` parameter; a second run with `fail=False`.
from prefect import task, flow
from prefect.transactions import transaction

OBSERVED = []


@task(cache_key_fn=lambda *args, **kwargs: "static-key1")
def load_data():
    OBSERVED.append("load_data ran")
    return "some-data"


@task(cache_key_fn=lambda *args, **kwargs: "static-key2")
def process_data(data, fail):
    OBSERVED.append(f"process_data ran (fail={fail})")
    if fail:
        raise RuntimeError("Error! Abort!")

    return len(data)


@flow
def multi_task_cache(fail: bool = True):
    with transaction():
        data = load_data()
        return process_data(data=data, fail=fail)


def main():
    return [multi_task_cache(return_state=True), multi_task_cache(fail=False, return_state=True),
            multi_task_cache(fail=False, return_state=True)]
