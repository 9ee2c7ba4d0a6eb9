# Source: PrefectHQ/prefect 1.4.1, examples/conditional.py ("Example: Conditional Tasks").
# Idioms: `from prefect import task, Flow, case` (case from the top-level package),
#   merge from prefect.tasks.control_flow, two `with case(cond, True/False)` blocks
#   rejoined by merge, a log_stdout task after the merge.
# Made deterministic: random() is replaced by a fixed sequence (one run per branch).
from prefect import task, Flow, case
from prefect.tasks.control_flow import merge

DRAWS = [0.25, 0.75]


def random():
    return DRAWS.pop(0)


@task
def check_condition():
    return random() < 0.5


@task
def action_if_true():
    return "I am true!"


@task
def action_if_false():
    return "I am false!"


@task(log_stdout=True)
def another_action(val):
    print(val)
    return val


def build():
    with Flow("Example: Conditional Tasks") as flow:
        cond = check_condition()

        with case(cond, True):
            val_if_true = action_if_true()

        with case(cond, False):
            val_if_false = action_if_false()

        val = merge(val_if_true, val_if_false)

        another_action(val)
    return flow, [{}, {}]
