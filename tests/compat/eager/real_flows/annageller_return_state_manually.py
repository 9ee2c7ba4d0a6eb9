# Source: anna-geller/prefect-deployment-patterns,
#   final_state_determination/return_state_manually.py (Prefect 2; states imported from
#   prefect.orion.schemas.states there, prefect.states in Prefect 3).
# Idioms: `task.submit().result(raise_on_failure=False)` (the exception as a value);
#   `future.result()` compared in an `if`; returning `Completed(message=...)` or
#   `Failed(message=...)` from the flow; the plain call of a flow returning Failed.
from prefect import task, flow
from prefect.states import Completed, Failed


@task
def always_fails_task():
    raise ValueError("I fail successfully")


@task
def always_succeeds_task(word):
    print("I'm fail safe!")
    return word


@flow
def return_state_manually(word: str = "success"):
    x = always_fails_task.submit().result(raise_on_failure=False)
    y = always_succeeds_task.submit(word)
    if y.result() == "success" and isinstance(x, ValueError):
        return Completed(message="I am happy with this result")
    else:
        return Failed(message="How did this happen!?")


def main():
    out = {"happy": return_state_manually(return_state=True),
           "unhappy": return_state_manually("meh", return_state=True)}
    try:
        out["plain_unhappy"] = return_state_manually("meh")
    except Exception as exc:
        out["plain_unhappy_raised"] = exc
    return out
