# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/execution.md ("Signals":
#   retry_if_negative) and docs/core/concepts/notifications.md (the `on_failure`
#   keyword of tasks and flows).
# Idioms: `raise signals.RETRY()` from a task that has no max_retries; a task with
#   on_failure=callback(task, state) and a Flow with on_failure=callback(flow, state);
#   a mapped task whose children retry or fail on their own.
# Made deterministic: a negative input becomes positive on its second attempt (the
#   original's input never changes); the callbacks record what they get. (Prefect
#   refuses retry_delay without max_retries, so the task has neither: the RETRY
#   signal's retry is due at once.)
import prefect
from prefect import task, Flow
from prefect.engine import signals

OBSERVED = []


def on_task_failure(task, state):
    OBSERVED.append(["task on_failure", task.name, type(state).__name__, str(state.message)])


def on_flow_failure(flow, state):
    OBSERVED.append(["flow on_failure", flow.name, type(state).__name__, state.message])


@task(on_failure=on_task_failure)
def retry_if_negative(x):
    if x < 0 and prefect.context.get("task_run_count") == 1:
        raise signals.RETRY()
    elif x < 0:
        raise ValueError(f"{x} is still negative")
    else:
        return x


def build():
    with Flow("retry signal", on_failure=on_flow_failure) as flow:
        retry_if_negative.map([3, -1, 5])
    return flow, {}


def after(flow, state):
    OBSERVED.sort()
