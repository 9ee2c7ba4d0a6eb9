# Source: PrefectHQ/prefect 1.4.1, docs/core/advanced_tutorials/task-guide.md
#   ("Mapping": the Map Reduce example, imperative API).
# Idioms: flow.set_dependencies(add_one, keyword_tasks={"x": [1, 2, 3, 4]}, mapped=True)
#   -- a plain list given as a keyword task and mapped over; a reduce task named "sum"
#   set up with keyword_tasks={"y": add_one}; `prefect.context["logger"]` inside a task.
import prefect
from prefect import Flow, task

OBSERVED = []


@task
def add_one(x):
    """Operates one number at a time"""
    return x + 1


@task(name="sum")
def sum_numbers(y):
    """Operates on an iterable of numbers"""
    result = sum(y)
    logger = prefect.context["logger"]
    logger.info("The sum is {}".format(result))
    OBSERVED.append("The sum is {}".format(result))
    return result


def build():
    flow = Flow("Map Reduce")
    flow.set_dependencies(add_one, keyword_tasks={"x": [1, 2, 3, 4]}, mapped=True)
    flow.set_dependencies(sum_numbers, keyword_tasks={"y": add_one})
    return flow, {}
