# Source: PrefectHQ/prefect 1.4.1, docs/core/advanced_tutorials/task-guide.md ("Use a
#   Task class for templating Tasks", "Calling Tasks creates copies", task_args).
# Idioms: a Task subclass whose __init__ takes its own keyword (y=None), stores it and
#   calls super().__init__(*args, **kwargs); run(x, y=None) falling back to self.y;
#   one instance called twice in a flow (two copies); task_args={"name": "new-name"};
#   a @task(name="Add") decorated function; `add_task.run(1, 2)` outside a flow;
#   membership checks `add_task in f.tasks` / `result in f.tasks`.
from prefect import Flow, Task, task


class AddTask(Task):
    def __init__(self, *args, y=None, **kwargs):
        self.y = y
        super().__init__(*args, **kwargs)

    def run(self, x, y=None):
        if y is None:
            y = self.y

        return x + y


@task(name="Add")
def add_fn(x, y):
    return x + y


add_task = AddTask(y=0)
FACTS = {}


def build():
    with Flow("add-with-default") as f:
        result_one = add_task(x=1)
        result_two = add_task(x=0, y=10)
        renamed = add_fn(result_one, result_two, task_args={"name": "new-name"})
    FACTS.update(
        template_in_flow=add_task in f.tasks,
        copies_in_flow=[result_one in f.tasks, result_two in f.tasks, renamed in f.tasks],
        renamed=renamed.name,
        run_outside_flow=[add_task.run(1, 2), add_fn.run(x=[1, 2], y=[3, 4])],
    )
    return f, {}


def after(flow, state):
    return FACTS
