# Source: mortenoh/prefect-examples, flows/007_state_handlers.py (Prefect 3 examples
#   mirroring Airflow DAGs).
# Idioms: `from prefect import allow_failure`; `@task(on_failure=[hook])` with a hook
#   `(task, task_run, state)` printing `task_run.name` and `state.name`;
#   `@flow(name=..., log_prints=True, on_completion=[hook])` printing from the hook;
#   a plain task call with `wait_for=[allow_failure(failing_future)]`. The flow hook
#   printed `flow_run.name` and the task hook `task_run.name`, which Prefect suffixes
#   with a random part: they print the flow's and task's names and whether the run's
#   name starts with them.
from prefect import allow_failure, flow, task


def on_task_failure(task, task_run, state):
    print(f"HOOK  Task {task.name!r} failed with state: {state.name}"
          f" (run name starts with it: {task_run.name.startswith(task.name)})")


def on_flow_completion(flow, flow_run, state):
    print(f"HOOK  Flow {flow.name!r} completed with state: {state.name}")


@task
def succeed_task() -> str:
    msg = "Success!"
    print(msg)
    return msg


@task(on_failure=[on_task_failure])
def fail_task():
    raise ValueError("Intentional failure for demonstration")


@task
def always_run_task() -> str:
    msg = "I run no matter what."
    print(msg)
    return msg


@flow(name="007_state_handlers", log_prints=True, on_completion=[on_flow_completion])
def state_handlers_flow() -> None:
    succeed_task()
    failing_future = fail_task.submit()
    always_run_task(wait_for=[allow_failure(failing_future)])


def main():
    return state_handlers_flow(return_state=True)
