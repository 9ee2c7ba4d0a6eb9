# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/flows.md ("Terminal State
#   Handler").
# Idioms: Flow(name, terminal_state_handler=fn); the handler walks
#   reference_task_states, sets `state.message` on the flow's state and returns it; a
#   Task subclass whose run raises a bare Exception; Flow(..., tasks=[...]) -- here the
#   task is added with flow.add_task after construction, as the doc's snippet leaves it.
from typing import Optional, Set

from prefect import Flow, Task
from prefect.engine.state import State

OBSERVED = []


def custom_terminal_state_handler(
    flow: Flow,
    state: State,
    reference_task_states: Set[State],
) -> Optional[State]:
    failed = False
    # iterate through reference task states looking for failures
    for task_state in reference_task_states:
        if task_state.is_failed():
            failed = True
    OBSERVED.append([type(state).__name__, sorted(type(s).__name__ for s in reference_task_states)])
    # update the terminal state of the Flow and return
    if failed:
        state.message = "Some important tasks have failed"
    return state


class FailingTask(Task):
    def run(self):
        raise Exception


class WorkingTask(Task):
    def run(self):
        return "ok"


def build():
    flow = Flow(
        "my flow with custom terminal state handler",
        terminal_state_handler=custom_terminal_state_handler,
    )
    flow.add_task(FailingTask())
    flow.add_task(WorkingTask())
    return flow, {}
