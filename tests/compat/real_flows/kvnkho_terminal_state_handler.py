# Source: kvnkho/demos, prefect/terminal_state_handler.py (a Prefect community engineer's
#   demo).
# Idioms: a terminal_state_handler that walks `state.result.items()` (the flow state's
#   result as a {task: state} dict) when `state.is_failed()`, tells a TriggerFailed
#   task (`isinstance(task_state, TriggerFailed)` from prefect.engine.state) from one
#   that raised, and prints `task.name` and `task_state.result!r`; typing.Set/Optional
#   annotations on the handler.
# Made observable: the handler's prints go to OBSERVED (sorted: the order of
#   state.result is not defined).
from prefect import task, Flow
from prefect.engine.state import State, TriggerFailed
from typing import Set, Optional

OBSERVED = []


def custom_terminal_state_handler(
    flow: Flow,
    state: State,
    reference_task_states: Set[State],
) -> Optional[State]:
    if state.is_failed():
        for task, task_state in state.result.items():
            if not task_state.is_failed():
                continue
            if isinstance(task_state, TriggerFailed):
                OBSERVED.append(f"Task {task.name} failed because an upstream failed")
                continue
            OBSERVED.append(f"Task {task.name} failed with exception {task_state.result!r}")
    return state


@task
def abc(x):
    return x


@task
def bcd(x):
    raise ValueError("Foo!")


@task
def cde(x):
    return x


def build():
    with Flow(
        "terminal_handler", terminal_state_handler=custom_terminal_state_handler
    ) as flow:
        a = abc(1)
        b = bcd(a)
        cde(b)
    return flow, {}


def after(flow, state):
    OBSERVED.sort()
