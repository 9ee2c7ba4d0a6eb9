# Source: PrefectHQ/prefect 1.4.1, docs/core/idioms/conditional.md (the imperative
#   versions of "Running a task based on a condition" and "Merging branches").
# Idioms: `with case(check_condition, True):` outside any `with Flow` block, adding
#   tasks with flow.add_task inside it; `AnotherAction().bind(val=val, flow=flow)`;
#   `merge(val1, val2, flow=flow)`.
# Made deterministic: the condition is a fixed sequence of draws (one per run).
from prefect import Task, Flow, case
from prefect.tasks.control_flow import merge

DRAWS = [0.2, 0.8]


class CheckCondition(Task):
    def run(self):
        return DRAWS.pop(0) < 0.5


class ActionIfTrue(Task):
    def run(self):
        return "I am true!"


class ActionIfFalse(Task):
    def run(self):
        return "I am false!"


class AnotherAction(Task):
    def run(self, val):
        print(val)
        return val


def build():
    flow = Flow("conditional-branches")

    check_condition = CheckCondition()
    flow.add_task(check_condition)

    with case(check_condition, True):
        val1 = ActionIfTrue()
        flow.add_task(val1)

    with case(check_condition, False):
        val2 = ActionIfFalse()
        flow.add_task(val2)

    val = merge(val1, val2, flow=flow)
    AnotherAction().bind(val=val, flow=flow)

    return flow, [{}, {}]
