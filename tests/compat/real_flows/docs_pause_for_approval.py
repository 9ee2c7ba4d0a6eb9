# Source: PrefectHQ/prefect 1.4.1, docs/core/idioms/pause-for-approval.md.
# Idioms: `from prefect.triggers import manual_only`; a deploy task with
#   trigger=manual_only behind upstream_tasks=[test(res)]; flow.run() asking for
#   approval at the terminal (the doc: "the manual only trigger will prompt to resume
#   the task in the command line").
# Made deterministic: the person at the terminal answers "y" (stdin is a StringIO for
#   the duration of the run); the doc's flow.register()/run_agent() are left out.
import io
import sys

from prefect import task, Flow
from prefect.triggers import manual_only


@task
def build_task():
    print("build task")
    return True


@task
def test(build_result):
    print("test task")
    return build_result == True


@task(trigger=manual_only)
def deploy():
    """With the manual_only trigger this task will only run after it has been approved"""
    print("deploy task")
    return "deployed"


def approve_at_the_prompt(flow):
    saved, sys.stdin = sys.stdin, io.StringIO("y\n")
    try:
        return flow.run()
    finally:
        sys.stdin = saved


def build():
    with Flow("code_deploy") as flow:
        res = build_task()
        deploy(upstream_tasks=[test(res)])
    return flow, approve_at_the_prompt
