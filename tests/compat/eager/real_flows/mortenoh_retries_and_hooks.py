# Source: mortenoh/prefect-examples, flows/012_retries_and_hooks.py (Prefect 3).
# Idioms: `@task(retries=3, retry_delay_seconds=..., on_failure=[hook])` failing a
#   configurable number of times (a module-level attempt counter); a flow
#   `on_completion` hook; log_prints flow; a second run where the task fails for good
#   (so the task's on_failure hook fires once and the flow fails). Delays are 0 here.
from prefect import flow, task

_attempt_counter: dict[str, int] = {}


def my_task_failure_hook(task, task_run, state) -> None:
    print(f"HOOK - task '{task.name}' failed with state: {state.name}")


def my_flow_completion_hook(flow, flow_run, state) -> None:
    print(f"HOOK - flow '{flow.name}' completed with state: {state.name}")


@task(retries=3, retry_delay_seconds=0, on_failure=[my_task_failure_hook])
def flaky_task(fail_count: int = 2) -> str:
    key = "flaky_task"
    _attempt_counter[key] = _attempt_counter.get(key, 0) + 1
    attempt = _attempt_counter[key]
    if attempt <= fail_count:
        raise ValueError(f"Attempt {attempt}/{fail_count} - simulated failure")
    msg = f"flaky_task succeeded on attempt {attempt}"
    print(msg)
    return msg


@task
def reliable_task() -> str:
    msg = "reliable_task completed"
    print(msg)
    return msg


@flow(name="012_retries_and_hooks", log_prints=True, on_completion=[my_flow_completion_hook])
def retries_flow(fail_count: int = 2) -> str:
    _attempt_counter.clear()
    flaky = flaky_task(fail_count)
    reliable_task()
    return flaky


def main():
    return [retries_flow(return_state=True), retries_flow(10, return_state=True)]
