# Source: cityofaustin/atd-prefect, flows/test/template.py ("Flow Template" of Austin
#   Transportation's data team).
# Idioms: `flow.chain(shell_task, python_task, docker_with_api, email_task)` inside a
#   `with Flow(...)` block -- a chain of task instances never called; a module-level
#   failure handler built by a factory (`slack_notifier(only_states=[Failed])`) given
#   to several tasks' state_handlers; Schedule(clocks=[CronClock("*/5 * * * *")]);
#   `prefect.context.get("logger")` inside a task; flow.run(run_on_schedule=False), as
#   the template's comment recommends.
# Made offline: ShellTask/EmailTask/docker are small Task subclasses that return what
#   they would have done; slack_notifier is a local factory recording the states it is
#   told about (Failed only); the docker task fails twice and is retried.
from datetime import timedelta

import prefect
from prefect import Flow, Task, task
from prefect.engine.state import Failed
from prefect.schedules import Schedule
from prefect.schedules.clocks import CronClock

OBSERVED = []


def slack_notifier(only_states):
    def handler(obj, old_state, new_state):
        if any(isinstance(new_state, s) for s in only_states):
            OBSERVED.append([obj.name, type(new_state).__name__, str(new_state.message)])
        return new_state
    return handler


handler = slack_notifier(only_states=[Failed])


class ShellTask(Task):
    def __init__(self, command=None, env=None, stream_output=False, **kwargs):
        self.command, self.env, self.stream_output = command, env, stream_output
        super().__init__(**kwargs)

    def run(self):
        return self.command.format(**self.env)


environment_variables = {"MESSAGE": "hello from the key-value store"}

shell_task = ShellTask(
    name="shell_task",
    command='echo "MESSAGE: {MESSAGE}"',
    env=environment_variables,
    stream_output=True,
    state_handlers=[handler]
)

python_task = ShellTask(
    name="python_task",
    command='python3 ./flows/test/scripts/example.py',
    env=environment_variables,
    stream_output=True,
    state_handlers=[handler]
)

ATTEMPTS = []


@task(
    name="docker_with_api",
    max_retries=3,
    retry_delay=timedelta(seconds=0),
    state_handlers=[handler]
)
def docker_with_api():
    ATTEMPTS.append(1)
    if len(ATTEMPTS) < 3:
        raise ConnectionError("docker daemon not answering")
    response = "container said hi"
    logger = prefect.context.get("logger")
    logger.info(response)
    return response


class EmailTask(Task):
    def __init__(self, subject=None, msg=None, email_to=None, **kwargs):
        self.subject, self.msg, self.email_to = subject, msg, email_to
        super().__init__(**kwargs)

    def run(self):
        return f"To: {self.email_to} / {self.subject}"


email_task = EmailTask(
    name="email_task",
    subject="Test from ATD",
    msg="Hello this is a test from atd!",
    email_to="someone@example.com",
)


def build():
    with Flow(
        "template_staging",
        schedule=Schedule(clocks=[CronClock("*/5 * * * *")])
    ) as flow:
        flow.chain(shell_task, python_task, docker_with_api, email_task)
    return flow, {"run_on_schedule": False}
