# Source: bertrandlalo/prefect_jobs ("iguazu"), iguazu/helpers/states.py (SKIPRESULT,
#   a PrefectStateSignal subclass with `_state_cls = SkippedResult`, a Success
#   subclass), iguazu/cache_validators.py (ParametrizedValidator combining all_inputs
#   and all_parameters from prefect.engine.cache_validators) and iguazu/tasks/
#   handlers.py (garbage_collect_handler: acts only when `not old_state.is_finished()
#   and new_state.is_finished()`).
# Idioms: a custom signal class raised in a task to end it in a custom state class;
#   a callable object as cache_validator; cache_for on a Task subclass; two runs with
#   the same inputs and parameters, then a third with a new parameter.
# Made deterministic: the psutil memory check and the logging are left out; the
#   handler records the transitions it acts on.
import datetime
from typing import Any, Dict

from prefect import Flow, Parameter, Task, task, unmapped
from prefect.engine.cache_validators import all_inputs, all_parameters
from prefect.engine.signals import PrefectStateSignal
from prefect.engine.state import Cached, Success

OBSERVED = []


class SkippedResult(Success):
    """Skipped state with results"""
    color = '#cab2d6'


class SKIPRESULT(PrefectStateSignal):
    _state_cls = SkippedResult


class ParametrizedValidator:

    def __init__(self, use_inputs=True, use_parameters=True, force=False):
        self.use_inputs = use_inputs
        self.use_parameters = use_parameters
        self.force = force

    def __call__(self, state: Cached, inputs: Dict[str, Any], parameters: Dict[str, Any]):
        if self.force:
            return False
        if self.use_inputs and self.use_parameters:
            result = all_inputs(state, inputs, parameters) and all_parameters(state, inputs, parameters)
        elif self.use_inputs:
            result = all_inputs(state, inputs, parameters)
        elif self.use_parameters:
            result = all_parameters(state, inputs, parameters)
        else:
            result = False
        return result


def garbage_collect_handler(task, old_state, new_state):
    # only trigger this when we pass from a non finished to a finished state
    if not old_state.is_finished() and new_state.is_finished():
        OBSERVED.append(["gc", task.name, type(new_state).__name__])
    return new_state


CALLS = []


class Preprocess(Task):
    def run(self, file_id, standard):
        CALLS.append(file_id)
        if file_id.endswith("-done"):
            raise SKIPRESULT("Output already exists")
        return f"{file_id} in {standard}"


@task(state_handlers=[garbage_collect_handler])
def list_files(dataset):
    return [f"{dataset}-a", f"{dataset}-done"]


def build():
    preprocess = Preprocess(
        cache_for=datetime.timedelta(hours=1),
        cache_validator=ParametrizedValidator(use_inputs=True, use_parameters=True),
        state_handlers=[garbage_collect_handler],
    )
    with Flow("galvanic") as flow:
        dataset = Parameter("dataset", default="vr")
        standard = Parameter("standard", default="bio")
        files = list_files(dataset)
        preprocess.map(files, standard=unmapped(standard))
    return flow, [{}, {}, {"standard": "raw"}]


def after(flow, state):
    return list(CALLS)
