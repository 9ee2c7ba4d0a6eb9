# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/execution.md ("Triggers"),
#   docs/core/concepts/flows.md ("Reference Tasks") and docs/core/advanced_tutorials/
#   task-guide.md (a TriggerFailed task's "corresponding result is the exception that
#   was caught": `isinstance(state.result, Exception)`).
# Idioms: `from prefect.triggers import all_successful, all_failed`; tasks named with
#   spaces ("Task A"); a task passed uncalled in upstream_tasks=[task_a];
#   flow.set_reference_tasks([success]); a second flow of plain Task() instances wired
#   with flow.add_edge and `flow.reference_tasks() == {c}`; `isinstance(state.result,
#   Exception)` for the failed tasks after the run.
# Made deterministic: task_a fails in the first run and succeeds in the second instead of
#   drawing random().
from prefect.triggers import all_successful, all_failed
from prefect import task, Flow, Task

DRAWS = [0.9, 0.1]


@task(name="Task A")
def task_a():
    if DRAWS.pop(0) > 0.5:
        raise ValueError("Non-deterministic error has occurred.")


@task(name="Task B", trigger=all_successful)
def task_b():
    return "B ran"


@task(name="Task C", trigger=all_failed)
def task_c():
    return "C ran"


FACTS = {}
REFS = {}


def build():
    with Flow("Trigger example") as flow:
        success = task_b(upstream_tasks=[task_a])
        fail = task_c(upstream_tasks=[task_a])
    flow.set_reference_tasks([success])
    REFS.update(success=success, fail=fail)

    with Flow('Reference Task Flow') as ref_flow:
        a, b, c = Task(), Task(), Task()
        ref_flow.add_edge(a, b)
        ref_flow.add_edge(b, c)
    FACTS["terminal_is_reference"] = ref_flow.reference_tasks() == {c}
    return flow, [{}, {}]


def after(flow, state):
    failed = {flow.slugs[t]: isinstance(s.result, Exception)
              for t, s in state.result.items() if s.is_failed()}
    return dict(FACTS, failed_results_are_exceptions=failed)
