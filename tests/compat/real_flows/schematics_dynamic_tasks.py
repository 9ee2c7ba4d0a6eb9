# Source: znicholasbrown/project-schematics, flows/DynamicTasks.py ("Dynamic Tasks").
# Idioms: a Python for-loop creating task copies named with task_args=dict(name=
#   f"Task-{i}"); upstream_tasks given *strings* (f"Task-{k}") instead of tasks -- the
#   user meant earlier tasks by name, Prefect turns each string into a constant task.
# Made deterministic: k is i // 2 instead of uniform(0, j); 6 tasks instead of 50;
#   GitHub storage and register() are left out.
from prefect import Flow, task


@task
def dynamic_task(i):
    print(f"{i} Task")
    return i


def build():
    with Flow("Dynamic Tasks") as flow:
        j = 0
        for i in range(6):
            k = i // 2
            dynamic_task(i, task_args=dict(name=f"Task-{i}"), upstream_tasks=[f"Task-{k}"])
            j += 1
    return flow, {}
