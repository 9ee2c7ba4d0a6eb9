# Source: anna-geller/prefect-deployment-patterns,
#   final_state_determination/return_multiple_states.py (Prefect 2).
# Idioms: a flow returning a tuple mixing two futures (one failed) and a subflow's
#   plain value (`return x, y, z`); the final state is decided by the returned
#   futures; `print` in a task without log_prints; the original `print(state)` of the
#   plain call (here: what the plain call raises).
from prefect import flow, task


@task
def always_fails_task():
    raise ValueError("I fail successfully")


@task
def always_succeeds_task():
    print("I'm fail safe!")
    return "success"


@flow
def always_succeeds_flow():
    return 42


@flow
def always_fails_flow():
    x = always_fails_task.submit()
    y = always_succeeds_task.submit()
    z = always_succeeds_flow()
    return x, y, z


def main():
    out = {"state": always_fails_flow(return_state=True)}
    try:
        out["plain"] = always_fails_flow()
    except Exception as exc:
        out["plain_raised"] = exc
    return out
