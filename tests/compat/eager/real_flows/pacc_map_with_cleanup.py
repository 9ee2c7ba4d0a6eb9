# Source: anna-geller/pacc-berlin, flows/09_failure/08_map_with_cleanup_task.py
#   (Prefect Associate Certification Course material, Prefect 2).
# Idioms: `.map()` over a task's returned list; a second `.map()` over the first map's
#   futures (one of them failed, so its child never runs); a clean-up task submitted
#   with `wait_for=[allow_failure(c)]` where `c` is a whole list of futures; the flow
#   returns nothing.
from prefect import flow, task, get_run_logger, allow_failure

OBSERVED = []


@task
def extract():
    return [1, 2, 3]


@task
def add_one(x):
    if x == 2:
        raise Exception("Something is not right")
    return x + 1


@task
def add_two(x):
    OBSERVED.append(x + 2)
    return x + 2


@task
def cleanup_task():
    get_run_logger().info("Cleaning up e.g. removing temp Ray cluster")


@flow
def map_with_cleanup_task():
    a = extract()
    b = add_one.map(a)
    c = add_two.map(b)
    cleanup_task.submit(wait_for=[allow_failure(c)])


def main():
    state = map_with_cleanup_task(return_state=True)
    OBSERVED.sort()
    return state
