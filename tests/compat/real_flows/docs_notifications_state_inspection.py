# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/notifications.md ("State
#   Handlers": my_state_handler on a Flow and on a Task; "state-inspection-handler").
# Idioms: a FAIL signal given custom attributes (`fail_signal.flag = True`,
#   `fail_signal.value = a`) read back by a state handler from `new_state.result`;
#   the same handler signature on a Flow (Flow(name=..., tasks=[Task()],
#   state_handlers=[...])) and on a Task; handlers that print and return new_state.
# Made observable: the handlers also append what they print to OBSERVED, grouped by
#   object after the run (the two tasks may run in either order).
from prefect import Task, Flow, task
from prefect.engine import signals

OBSERVED = []


def my_state_handler(obj, old_state, new_state):
    msg = "Calling my custom state handler on {0}: {1} to {2}"
    OBSERVED.append([type(obj).__name__, msg.format(type(obj).__name__, type(old_state).__name__,
                                                    type(new_state).__name__)])
    return new_state


def alert_on_special_failure(task, old_state, new_state):
    if new_state.is_failed():
        if getattr(new_state.result, "flag", False) is True:
            OBSERVED.append([task.name, "Special failure mode!  Send all the alerts!"])
            OBSERVED.append([task.name, "a == b == {}".format(new_state.result.value)])

    return new_state


@task(state_handlers=[alert_on_special_failure])
def mission_critical_task(a, b):
    if a == b:
        fail_signal = signals.FAIL("a equaled b!")
        fail_signal.flag = True
        fail_signal.value = a
        raise fail_signal
    else:
        return 1 / (b - a)


def build():
    with Flow(name="state-inspection-handler", tasks=[Task(state_handlers=[my_state_handler])],
              state_handlers=[my_state_handler]) as flow:
        mission_critical_task(1, 1)
    return flow, {}


def after(flow, state):
    OBSERVED.sort(key=lambda entry: entry[0])
