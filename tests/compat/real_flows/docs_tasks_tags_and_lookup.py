# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/tasks.md ("Tags", "Name",
#   "Slug") and docs/core/concepts/flows.md ("Getting tasks").
# Idioms: `from prefect import tags` as a context manager around Task creation
#   (`assert t.tags == {'red', 'blue'}`); Task(name="My Task") and a decorated task
#   named "My Other Task"; Task(slug="my-task"); flow.get_tasks(name=...),
#   get_tasks(tags=[...]), get_tasks(name=..., tags=[...]) and get_tasks(slug=...).
from prefect import Flow, Task, task, tags


@task(name="My Other Task")
def my_task():
    return "other"


FACTS = {}


def build():
    with tags('red', 'blue'):
        t = Task()
    named = Task(name="My Task")
    slugged = Task(slug="my-task")
    with Flow("tags and names") as flow:
        with tags("blue"):
            other = my_task()
    flow.add_task(t)
    flow.add_task(named)
    flow.add_task(slugged)
    FACTS.update(
        tags=sorted(t.tags),
        copy_tags=sorted(other.tags),
        by_name=[x.name for x in flow.get_tasks(name="My Task")],
        by_tag=sorted(x.name for x in flow.get_tasks(tags=['red'])),
        by_name_and_tag=[x.name for x in flow.get_tasks(name="My Other Task", tags=["blue"])],
        by_slug=[x.slug for x in flow.get_tasks(slug="my-task")],
    )
    return flow, {}


def after(flow, state):
    return FACTS
