# Source: PrefectHQ/prefect 1.4.1, examples/old/state_handler_logging.py ("log-task-duration").
# Idioms: a task state handler that sets a custom attribute on the new State
#   (`new_state.timestamp = ...`), reads it back from the old state with hasattr(),
#   logs through `task.logger`, and returns new_state; Flow(name, tasks=[sleeper]) with
#   an uncalled decorated task.
# Made deterministic: pendulum.now() is a fake clock that advances two seconds per
#   call; no sleep. OBSERVED keeps what the handler logged.
from prefect import Flow, task

OBSERVED = []
_TICKS = iter(range(0, 1000, 2))


def now():
    return next(_TICKS)


def timestamper(task, old_state, new_state):
    """
    Task state handler that timestamps new states
    and logs the duration between state changes using
    the task's logger.
    """
    new_state.timestamp = now()
    if hasattr(old_state, "timestamp"):
        duration = new_state.timestamp - old_state.timestamp
        message = "{} seconds passed in between state transitions".format(duration)
        task.logger.info(message)
        OBSERVED.append([type(old_state).__name__, type(new_state).__name__, message])
    else:
        OBSERVED.append([type(old_state).__name__, type(new_state).__name__, "no timestamp yet"])
    return new_state


@task(state_handlers=[timestamper])
def sleeper():
    return "slept"


def build():
    f = Flow("log-task-duration", tasks=[sleeper])
    return f, {}
