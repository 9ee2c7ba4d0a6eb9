# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/mapping.md ("Filter map output").
# Idioms: `from prefect import task, Flow, context` and `context.get("logger")`;
#   FilterTask(filter_func=...) from prefect.tasks.control_flow.filter over a mapped
#   task whose children fail, SKIP and return None; mapping over the filtered list.
from prefect import task, Flow, context
from prefect.tasks.control_flow.filter import FilterTask
from prefect.engine.signals import SKIP

OBSERVED = []

filter_results = FilterTask(
    filter_func=lambda x: not isinstance(x, (BaseException, SKIP, type(None)))
)


@task
def unstable_task(arg):
    if arg == 1:
        raise RuntimeError("Fail this task execution")
    if arg == 2:
        raise SKIP("Skip this task execution")
    if arg == 3:
        return None

    return arg


@task
def add_one(arg):
    return arg + 1


@task
def log_args(args):
    logger = context.get("logger")
    logger.info(args)
    OBSERVED.append(args)


def build():
    with Flow('filter') as flow:
        raw_out = unstable_task.map([0, 1, 2, 3, 4])
        filtered = filter_results(raw_out)
        inc_out = add_one.map(filtered)
        log_args(inc_out)
    return flow, {}
