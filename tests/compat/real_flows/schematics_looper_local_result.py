# Source: znicholasbrown/project-schematics, flows/Looper.py.
# Idioms: LOOP with a plain int payload (`prefect.context.get("task_loop_result", 0)`)
#   and LOOP(result=n + 1); a LocalResult whose location is a lambda taking **kwargs
#   and reading `prefect.context.get('task_loop_count')`; @task() with parentheses;
#   a downstream task logging the final value through prefect.context.get("logger").
# Made deterministic: the result directory is temporary; checkpointing is on, as the
#   result's location only matters then; after() shows the location with <tmp>.
import prefect
from prefect import Flow, task
from prefect.engine.signals import LOOP
from prefect.engine.results import LocalResult

PREFECT_CONFIG = {"flows.checkpointing": True}
REFS = {}


@task()
def log_output(result):
    logger = prefect.context.get("logger")
    logger.info(result)
    return result


def build(tmp):
    REFS["dir"] = str(tmp)

    @task(
        result=LocalResult(
            dir=str(tmp),
            location=lambda **kwargs: f"{prefect.context.get('task_loop_count')}.prefect",
        )
    )
    def loop_test():
        n = prefect.context.get("task_loop_result", 0)

        print(n)

        if n > 5:
            return n

        raise LOOP(result=n + 1)

    with Flow("Postgres -> BigQuery") as flow:
        REFS["x"] = loop_test()
        log_output(REFS["x"])
    return flow, {}


def after(flow, state):
    return state.result[REFS["x"]]._result.location.replace(REFS["dir"], "<tmp>")
