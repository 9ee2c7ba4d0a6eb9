# Source: PrefectHQ/prefect 1.4.1, docs/core/advanced_tutorials/custom-logs.md.
# Idioms: `from prefect.utilities.logging import get_logger`; a logging.StreamHandler
#   subclass attached to the logger of a task named "Task B" (get_logger("Task B"))
#   at module level, before the run; tasks named with spaces; an uncalled task as an
#   argument (task_b(task_a)); logger.debug and logger.info from
#   prefect.context.get("logger") inside the task.
# Made offline: the handler appends record.msg to OBSERVED instead of POSTing it to a
#   local web server; one of the two debug lines is an info line, to see which levels
#   reach the handler by default.
import logging

import prefect
from prefect import task, Flow
from prefect.utilities.logging import get_logger

OBSERVED = []


class MyHandler(logging.StreamHandler):
    def emit(self, record):
        OBSERVED.append([record.levelname, record.msg])


@task(name="Task A")
def task_a():
    return 3


@task(name="Task B")
def task_b(x):
    logger = prefect.context.get("logger")
    logger.debug("Beginning to run Task B with input {}".format(x))
    y = 3 * x + 1
    logger.info("Returning the value {}".format(y))
    return y


# now attach our custom handler to Task B's logger
task_logger = get_logger("Task B")
task_logger.addHandler(MyHandler())


def build():
    with Flow("logging-example") as flow:
        task_b(task_a)
    return flow, {}
