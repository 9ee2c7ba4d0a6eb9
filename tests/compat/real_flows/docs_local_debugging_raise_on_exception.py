# Source: PrefectHQ/prefect 1.4.1, docs/core/advanced_tutorials/local-debugging.md
#   ("Raising Exceptions in Realtime").
# Idioms: `from prefect.utilities.debug import raise_on_exception`; running a flow
#   inside `with raise_on_exception():` so the task's ZeroDivisionError escapes
#   flow.run; a constant argument (div(0)).
from prefect import Flow, task
from prefect.utilities.debug import raise_on_exception


@task
def div(x):
    return 1 / x


def run_raising(f):
    with raise_on_exception():
        return f.run()


def build():
    with Flow("My Flow") as f:
        div(0)
    return f, [{}, run_raising]
