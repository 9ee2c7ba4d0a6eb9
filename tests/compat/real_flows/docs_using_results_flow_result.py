# Source: PrefectHQ/prefect 1.4.1, docs/core/advanced_tutorials/using-results.md.
# Idioms: a result given to the whole flow (Flow("my handled flow!",
#   result=LocalResult(...))) and one given on the decorator (@task(result=
#   PrefectResult())); `with Flow(...):` without `as`; add(1, y=2) then
#   add(x=first_result, y=100); reading `state.result[t]._result.value`,
#   `._result.location` (a PrefectResult's location is the JSON of the value) and
#   `._result.safe_value`; checkpointing on.
# Made deterministic: the LocalResult directory is temporary; after() reports whether the
#   generated location names a file, and whether it is absolute, not the name itself.
import os

from prefect import Flow, task
from prefect.engine.results import LocalResult, PrefectResult

PREFECT_CONFIG = {"flows.checkpointing": True}
REFS = {}


@task
def add(x, y=1):
    return x + y


@task(result=PrefectResult())
def add_prefect(x, y=1):
    return x + y


def build(tmp):
    REFS["dir"] = str(tmp)
    flow = Flow("my handled flow!", result=LocalResult(dir=str(tmp)))
    with flow:
        REFS["first"] = add(1, y=2)
        REFS["second"] = add(x=REFS["first"], y=100)
        REFS["third"] = add_prefect(1, y=2)
    return flow, {}


def after(flow, state):
    first = state.result[REFS["first"]]._result
    second = state.result[REFS["second"]]
    third = state.result[REFS["third"]]._result
    return {
        "first": [first.value, os.path.isabs(first.location),
                  os.path.isfile(os.path.join(REFS["dir"], first.location))],
        "second": second.result,
        "third": [third.value, third.location],
    }
