# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/templating.md and
#   docs/core/idioms/task-run-names.md.
# Idioms: task_run_name="{val}" on a mapped task (one child fails with "Nope!");
#   task_run_name given a callable taking (val, **kwargs); the same on a Task subclass
#   (Compute(task_run_name="{val}")) wired with set_upstream(..., key="val",
#   mapped=True, flow=flow).
# Made observable: each run records the name it got from
#   prefect.context["task_run_name"] (sorted after the run).
import prefect
from prefect import task, Flow, Task

OBSERVED = []


def generate_task_run_name(val: str, **kwargs):
    val = val.replace(" ", "-")
    if len(val) > 10:
        val = val[:10]
    return val


@task
def get_values():
    return ["value", "test", "demo"]


@task(task_run_name="{val}")
def compute(val):
    OBSERVED.append(["compute", prefect.context.get("task_run_name")])
    if val == "demo":
        raise ValueError("Nope!")


@task(task_run_name=generate_task_run_name)
def compute_long(val: str):
    OBSERVED.append(["compute_long", prefect.context.get("task_run_name")])
    return len(val)


class Compute(Task):
    def run(self, val):
        OBSERVED.append(["Compute", prefect.context.get("task_run_name")])
        return val.upper()


def build():
    with Flow("task_run_names") as flow:
        vals = get_values()
        compute.map(vals)
        compute_long(val="hello this is a kind of long sentence")
    compute_cls = Compute(task_run_name="{val}")
    compute_cls.set_upstream(vals, flow=flow, key="val", mapped=True)
    return flow, {}


def after(flow, state):
    OBSERVED.sort()  # the three tasks may run in any order
