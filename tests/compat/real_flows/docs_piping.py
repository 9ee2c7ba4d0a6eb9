# Source: PrefectHQ/prefect 1.4.1, docs/core/idioms/piping.md.
# Idioms: `task_a().pipe(task_b, b=2, c=5)` -- Task.pipe feeding a result as the first
#   argument of the next task; a chain of .pipe calls; @task() with empty parentheses;
#   a task taking **kwargs forwarded to a plain function.
from prefect import task, Flow


@task()
def task_a():
    return 10


@task()
def task_b(a, b, c):
    return a + b * c


def func_b(a, b, c):
    return a + b * c


@task()
def task_c(a, **kwargs):
    return func_b(a=a, **kwargs)


@task()
def task_1(arg, keyword):
    return arg + keyword


def build():
    with Flow("my flow") as flow:
        task_a().pipe(task_b, b=2, c=5)
        task_a().pipe(task_c, b=1, c=1)
        task_1(0, keyword=1).pipe(task_1, keyword=2).pipe(task_1, keyword=3)
    return flow, {}
