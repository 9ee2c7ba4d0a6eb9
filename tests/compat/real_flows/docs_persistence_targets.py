# Source: PrefectHQ/prefect 1.4.1, docs/core/idioms/targets.md and
#   docs/core/concepts/persistence.md ("Output Caching based on a file target").
# Idioms: @task(result=LocalResult(dir=...), target="{task_name}-{today}") with
#   checkpoint=True (see below); the same flow run twice, the second finding the target and not
#   running the task again; a Task subclass given result= and target= at init.
# Made deterministic: the directory is a temporary one; the task counts its calls; the
#   target is "{task_name}-{flow_name}" instead of "{task_name}-{today}" (the date would
#   be in the Cached state's message).
from prefect import task, Flow, Task
from prefect.engine.results import LocalResult

PREFECT_CONFIG = {"flows.checkpointing": True}
CALLS = []


class GetData(Task):
    def run(self):
        CALLS.append("GetData")
        return [1, 2, 3, 4, 5]


def build(tmp):
    @task(result=LocalResult(dir=str(tmp)), target="{task_name}-{flow_name}", checkpoint=True)
    def get_data():
        CALLS.append("get_data")
        return [1, 2, 3, 4, 5]

    @task
    def print_data(data):
        print(data)
        return sum(data)

    with Flow("using-targets") as flow:
        data = get_data()
        print_data(data)
        cls_data = GetData(result=LocalResult(dir=str(tmp)), target="{task_name}.txt")
        print_data(cls_data)
    return flow, [{}, {}]


def after(flow, state):
    return sorted(CALLS)  # the two roots may run in either order
