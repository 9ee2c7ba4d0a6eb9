# Source: PrefectHQ/prefect 1.4.1, examples/old/airflow_tutorial_dag.py ("tutorial", a
#   rewrite of Airflow's tutorial DAG).
# Idioms: task library ShellTask and JinjaTemplate instances created at module level
#   with max_retries/retry_delay, then called inside the flow with upstream_tasks=[t1]
#   (a task instance, not a call); `prefect.context.get("scheduled_start_time",
#   datetime.utcnow())` in a task; a template rendered from context and keyword
#   arguments; flow.run(parameters={"my_param": ...}).
# Made deterministic: the shell commands print fixed words (no `date`, no `sleep 5`),
#   retry_delay is zero, add_7 returns the number of days it added, and the template no
#   longer prints the wall-clock start time.
from datetime import datetime, timedelta

import prefect
from prefect import Flow, Parameter, task
from prefect.tasks.shell import ShellTask
from prefect.tasks.templates.jinja2 import JinjaTemplate

retry_delay = timedelta(seconds=0)

t1 = ShellTask(name="print_date", command="echo print_date", max_retries=1, retry_delay=retry_delay)
t2 = ShellTask(name="sleep", command="echo slept", max_retries=3, retry_delay=retry_delay)


@task(max_retries=1, retry_delay=retry_delay)
def add_7():
    date = prefect.context.get("scheduled_start_time", datetime.utcnow())
    return (date + timedelta(days=7) - date).days


command = """
    {% for i in range(3) %}
        echo "{{ scheduled_start_time_7 }}"
        echo "{{ my_param }}"
    {% endfor %}
"""
templated_command = JinjaTemplate(template=command, max_retries=1, retry_delay=retry_delay)


def build():
    with Flow("tutorial") as flow:
        my_param = Parameter("my_param")
        t2(upstream_tasks=[t1])
        templated_command(scheduled_start_time_7=add_7, my_param=my_param, upstream_tasks=[t1])
    return flow, {"parameters": {"my_param": "Parameter I passed in"}}
