# Source: PrefectHQ/prefect 1.4.1, docs/core/advanced_tutorials/task-guide.md ("Auto-
#   generation of Tasks") and docs/core/concepts/tasks.md ("Flow With Constant").
# Idioms: a dict with a nested list passed to a task (Prefect builds Dict and List tasks
#   for it); the same value wrapped in `Constant` from prefect.tasks.core.constants;
#   constants bound to a call kept in flow.constants (`len(flow.constants[output]) ==
#   2`); the number and names of flow.tasks; `Parameter`s added as they are, not copied.
from prefect import Flow, Parameter, task
from prefect.tasks.core.constants import Constant


@task
def do_nothing(arg):
    return arg


@task
def add(x, y):
    return x + y


FACTS = {}


def build():
    with Flow("constants") as flow:
        auto = do_nothing({"x": 1, "y": [9, 10]})
        wrapped = do_nothing(Constant({"x": 1, "y": [9, 10]}))
        output = add(1, 2)
        x = Parameter("x", default=1)
        y = Parameter("y", default=2)
        with_params = add(x=x, y=y)
    FACTS.update(
        task_names=sorted(t.name for t in flow.tasks),
        constants_of_output=len(flow.constants[output]),
        parameters_in_flow=[x in flow.tasks, y in flow.tasks],
        call_copies=[auto in flow.tasks, wrapped in flow.tasks, with_params in flow.tasks],
    )
    return flow, {}


def after(flow, state):
    return FACTS
