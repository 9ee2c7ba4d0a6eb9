# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/notifications.md ("Sending a
#   simple notification", callback_factory) and docs/core/concepts/states.md
#   (notify_on_retry).
# Idioms: `from prefect.utilities.notifications import callback_factory`;
#   callback_factory(send_post, lambda s: s.is_retrying()); `from prefect.engine import
#   state` and `isinstance(new_state, state.Retrying)` in a handler;
#   `new_state.start_time` of a Retrying state; Task(state_handlers=[...]) subclasses.
# Made offline: requests.post appends to OBSERVED; the task fails once, retry_delay 0.
import datetime

from prefect import Task, Flow
from prefect.engine import state
from prefect.utilities.notifications import callback_factory

OBSERVED = []


def send_post(task, new_state):
    msg = "Task {0} failed and is retrying at {1}".format(
        task.name, "a time" if new_state.start_time is not None else None)
    OBSERVED.append(["post", msg])


post_to_slack = callback_factory(send_post, lambda s: s.is_retrying())


def notify_on_retry(task, old_state, new_state):
    if isinstance(new_state, state.Retrying):
        OBSERVED.append(["notify", task.name, new_state.message])
    return new_state


class Flaky(Task):
    calls = 0

    def run(self):
        Flaky.calls += 1
        if Flaky.calls == 1:
            raise ConnectionError("the API hung up")
        return "answered"


def build():
    t = Flaky(name="flaky", max_retries=1, retry_delay=datetime.timedelta(0),
              state_handlers=[post_to_slack, notify_on_retry])
    flow = Flow(name="state-handler-demo", tasks=[t])
    return flow, {}
