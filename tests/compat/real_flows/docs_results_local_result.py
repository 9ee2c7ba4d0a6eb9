# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/results.md ("How to specify a
#   Result", LocalResult with templated locations; "Interacting with Results").
# Idioms: `from prefect.engine.results import LocalResult`; LocalResult(dir=...,
#   location="initial_data.prefect") and location="{flow_name}/{task_name}.prefect"
#   templates; reading `state.result[t]._result.value` and `._result.location` after
#   the run and unpickling the file with cloudpickle; checkpointing switched on as the
#   doc's users did (PREFECT__FLOWS__CHECKPOINTING=true).
# Made deterministic: the directory is a temporary one (shown as <tmp> in locations)
#   and the doc's {date:%A} is replaced by {flow_name}.
import os

import cloudpickle

from prefect import task, Flow
from prefect.engine.results import LocalResult

PREFECT_CONFIG = {"flows.checkpointing": True}
REFS = {}


def build(tmp):
    REFS["dir"] = str(tmp)

    @task(result=LocalResult(dir=str(tmp), location="initial_data.prefect"))
    def root_task():
        return [1, 2, 3]

    @task(result=LocalResult(dir=str(tmp), location="{flow_name}/{task_name}.prefect"))
    def downstream_task(x):
        return [i * 10 for i in x]

    with Flow("local-results") as flow:
        REFS["root"] = root_task()
        REFS["down"] = downstream_task(REFS["root"])
    return flow, {}


def after(flow, state):
    facts = {}
    for key in ("root", "down"):
        result = state.result[REFS[key]]._result
        with open(os.path.join(REFS["dir"], result.location), "rb") as f:
            content = cloudpickle.loads(f.read())
        facts[key] = {"value": result.value,
                      "location": result.location.replace(REFS["dir"], "<tmp>"),
                      "file_holds": content}
    return facts
