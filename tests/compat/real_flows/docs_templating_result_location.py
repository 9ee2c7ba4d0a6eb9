# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/templating.md ("Formatting
#   functions" for result locations).
# Idioms: LocalResult(location=format_location) with a callable that takes the
#   templating keywords it needs plus **kwargs -- a flow Parameter (result_basepath)
#   and task_name; `flow.add_task(result_basepath)` to register a Parameter no task
#   uses; checkpointing on.
# Made deterministic: the LocalResult gets a temporary dir= and the parameter a relative
#   sub-directory (the doc used "~" expanded to the home directory); the temporary
#   directory shows as <tmp> in the location.
import os

from prefect import task, Flow, Parameter
from prefect.engine.results import LocalResult

PREFECT_CONFIG = {"flows.checkpointing": True}
REFS = {}


def format_location(result_basepath, task_name, **kwargs):
    return f"{os.path.expanduser(result_basepath)}/{task_name}.prefect"


def build(tmp):
    REFS["dir"] = str(tmp)

    @task(result=LocalResult(dir=str(tmp), location=format_location))
    def my_task():
        return [1, 2, 3, 4]

    result_basepath = Parameter("result_basepath", default="~")
    with Flow("local-result-parametrized") as flow:
        REFS["task"] = my_task()
    # Ensure the parameter is registered to the flow even though no task uses it
    flow.add_task(result_basepath)
    return flow, {"parameters": {"result_basepath": "nested"}}


def after(flow, state):
    location = state.result[REFS["task"]]._result.location
    return {"location": location.replace(REFS["dir"], "<tmp>"),
            "exists": os.path.exists(os.path.join(REFS["dir"], location))}
