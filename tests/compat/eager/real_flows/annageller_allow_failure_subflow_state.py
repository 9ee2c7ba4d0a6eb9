# Source: anna-geller/prefect-deployment-patterns,
#   data_and_state_dependencies/allow_failure/example_6_subflow_state.py (Prefect 2).
# Idioms: a subflow that raises, called with `return_state=True` (the parent goes
#   on); `allow_failure(state)` passed positionally to `.submit()` of a task that takes
#   no parameters (the source's docstring records the ParameterBindError this gives);
#   `get_run_logger()` in the task. Compared: the flow's final state type and name, the
#   exception class of its result and the first line of its message (the rest shows
#   the repr of the argument, a state with its storage path).
from prefect import task, flow, get_run_logger, allow_failure


@flow
def fails():
    raise ValueError("Fail task!")


@task
def clean_up_task():
    logger = get_run_logger()
    logger.info("cleaning up")


@flow
def failure():
    f = fails(return_state=True)
    clean_up_task.submit(allow_failure(f))


def main():
    state = failure(return_state=True)
    return [state.type.name, state.name, type(state.result(raise_on_failure=False)).__name__,
            (state.message or "").splitlines()[0]]
