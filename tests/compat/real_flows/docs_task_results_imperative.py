# Source: PrefectHQ/prefect 1.4.1, docs/core/idioms/task-results.md (both the
#   functional and the imperative version).
# Idioms: Task subclasses wired with `get_value.set_downstream(add_value, key="v",
#   flow=flow)`; reading `state.result[task].result` for each task, including None for
#   a task that returns nothing; the functional version of the same flow beside it.
from prefect import Task, Flow, task


class GetValue(Task):
    def run(self):
        return 10


class AddValue(Task):
    def run(self, v):
        return v + 10


class PrintValue(Task):
    def run(self, v):
        print(v)


@task
def get_value_fn():
    return 10


@task
def add_value_fn(v):
    return v + 10


REFS = {}


def build():
    flow = Flow("task-results")

    get_value = GetValue()
    add_value = AddValue()
    print_value = PrintValue()

    get_value.set_downstream(add_value, key="v", flow=flow)
    add_value.set_downstream(print_value, key="v", flow=flow)
    with flow:
        v = get_value_fn()
        v_added = add_value_fn(v)
    REFS.update(get_value=get_value, add_value=add_value, print_value=print_value,
                v=v, v_added=v_added)
    return flow, {}


def after(flow, state):
    return {k: state.result[t].result for k, t in sorted(REFS.items())}
