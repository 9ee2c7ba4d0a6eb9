# Source: mortenoh/prefect-examples, flows/024_advanced_retries.py (Prefect 3).
# Idioms: `retry_delay_seconds=[...]` as a list (backoff; zeros here);
#   `retry_jitter_factor=0.5`; `retry_condition_fn(task, task_run, state)` calling
#   `state.result(raise_on_failure=False)` and retrying only ValueError; module-level
#   attempt counters cleared by the flow; the conditional task also called with
#   "value" and "type" (caught in the flow) to see the condition decide.
from prefect import flow, task

_attempt_counters: dict[str, int] = {}


def retry_on_value_error(task, task_run, state) -> bool:
    exc = state.result(raise_on_failure=False)
    if isinstance(exc, BaseException):
        return isinstance(exc, ValueError)
    return False


@task(retries=3, retry_delay_seconds=[0, 0, 0])
def backoff_task(fail_count: int = 2) -> str:
    key = "backoff_task"
    _attempt_counters[key] = _attempt_counters.get(key, 0) + 1
    attempt = _attempt_counters[key]
    if attempt <= fail_count:
        raise RuntimeError(f"Attempt {attempt}/{fail_count} - backoff failure")
    msg = f"backoff_task succeeded on attempt {attempt}"
    print(msg)
    return msg


@task(retries=2, retry_delay_seconds=0, retry_jitter_factor=0.5)
def jittery_task(fail_count: int = 1) -> str:
    key = "jittery_task"
    _attempt_counters[key] = _attempt_counters.get(key, 0) + 1
    attempt = _attempt_counters[key]
    if attempt <= fail_count:
        raise RuntimeError(f"Attempt {attempt}/{fail_count} - jittery failure")
    msg = f"jittery_task succeeded on attempt {attempt}"
    print(msg)
    return msg


@task(retries=2, retry_delay_seconds=0, retry_condition_fn=retry_on_value_error)
def conditional_retry_task(error_type: str) -> str:
    key = f"conditional_{error_type}"
    _attempt_counters[key] = _attempt_counters.get(key, 0) + 1
    if error_type == "value":
        raise ValueError("Simulated ValueError - will retry")
    if error_type == "type":
        raise TypeError("Simulated TypeError - will NOT retry")
    msg = f"conditional_retry_task completed (error_type={error_type!r})"
    print(msg)
    return msg


@flow(name="024_advanced_retries", log_prints=True)
def advanced_retries_flow() -> dict:
    _attempt_counters.clear()
    backoff_task()
    jittery_task()
    conditional_retry_task("none")
    for kind in ("value", "type"):
        try:
            conditional_retry_task(kind)
        except Exception as exc:
            print(f"{kind}: {type(exc).__name__}: {exc}")
    return dict(sorted(_attempt_counters.items()))


def main():
    return advanced_retries_flow(return_state=True)
