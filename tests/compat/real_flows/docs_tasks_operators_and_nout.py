# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/tasks.md ("Operators",
#   "Collections", "Indexing", "Multiple Return Values"), docs/core/concepts/flows.md.
# Idioms: the +, -, < operators between task results (auto-created Add, Sub,
#   LessThan tasks); a list of two task results passed to a task (a List task);
#   indexing a task's dict result (x['a'], a GetItem task); @task(nout=2) unpacked in
#   the flow; a Task subclass called with a positional argument (PlusOneTask()(10)).
# Made deterministic: random.randint(0, 100) is a constant (the two calls may run in
#   either order). Left out: the doc's
#   `-> Tuple[int, int]` annotation, which Prefect 1.4.1 on Python 3.11 refuses to
#   unpack (TypeError "Task is not iterable").
from prefect import Flow, Task, task

@task
def a_number():
    return 17


@task
def get_sum(x):
    return sum(x)


@task
def fn():
    return {'a': 1, 'b': 2}


@task(nout=2)
def inc_and_dec(x):
    return x + 1, x - 1


@task(nout=2)
def double_and_triple(x):
    return x * 2, x * 3


class PlusOneTask(Task):
    def run(self, x):
        return x + 1


def build():
    with Flow('Using Operators') as flow:
        a = a_number()
        b = a_number()
        add = a + b
        sub = a - b
        lt = a < b
        s = get_sum([a, b])
        x = fn()
        y = x['a']
        inc, dec = inc_and_dec(1)
        double, triple = double_and_triple(inc)
        plus_one = PlusOneTask()
        result = plus_one(10)
    return flow, {}
