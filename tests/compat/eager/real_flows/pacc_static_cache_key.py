# Source: anna-geller/pacc-berlin, flows/02_retries_and_caching/static_cache_key.py
#   (Prefect 2).
# Idioms: `cache_key_fn` returning a constant string; `cache_expiration=timedelta(...)`;
#   `@flow(name="Static cache key flow", log_prints=True)`; three calls of the same
#   task, so only the first runs; a second flow run hits the same cache entry.
from datetime import timedelta
from prefect import flow, task

OBSERVED = []


def static_cache_key(context, parameters):
    return "static constant as a cache key"


@task(cache_key_fn=static_cache_key, cache_expiration=timedelta(seconds=20))
def cached_task():
    print("running an expensive operation")
    OBSERVED.append("ran")
    return 42


@flow(name="Static cache key flow", log_prints=True)
def static_main():
    return [cached_task(), cached_task(), cached_task(return_state=True).name]


def main():
    return [static_main(), static_main()]
