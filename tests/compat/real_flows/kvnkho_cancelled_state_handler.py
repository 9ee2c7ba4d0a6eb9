# Source: kvnkho/demos, prefect/git_storage3.py.
# Idioms: one state handler, typed `(flow: Flow, old_state: State, new_state: State)
#   -> State`, attached both to a mapped task (@task(state_handlers=[...])) and to the
#   flow (Flow("sleep", state_handlers=[...])); `isinstance(new_state, Cancelled)` with
#   Cancelled from prefect.engine.state; `prefect.context.logger.info(...)` (the
#   logger as a context attribute); mapping over a literal list.
# Made deterministic and observable: no sleep(10); the handler also records every
#   transition it sees (the run is never cancelled, so its Cancelled branch stays
#   quiet); GitHub storage, KubernetesRun and register() are left out.
from prefect import Flow, task
from prefect.engine.state import State, Cancelled
import prefect

OBSERVED = []


def post_to_slack_handler_fq(flow: Flow, old_state: State, new_state: State) -> State:
    OBSERVED.append([type(flow).__name__, type(old_state).__name__, type(new_state).__name__])
    if isinstance(new_state, Cancelled):
        prefect.context.logger.info("HIT THE CANCELLED STATE HANDLER")
    return new_state


@task(state_handlers=[post_to_slack_handler_fq])
def abc(x):
    return 1


def build():
    with Flow("sleep", state_handlers=[post_to_slack_handler_fq]) as flow:
        abc.map([1, 2, 3])
    return flow, {}


def after(flow, state):
    OBSERVED.sort()
    return None
