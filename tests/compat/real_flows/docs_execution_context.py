# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/execution.md ("Context").
# Idioms: attribute access to a context key inside a task (`prefect.context.key`);
#   signals.FAIL() with no message; running the same flow outside and inside
#   `with prefect.context(key='abc'):`; `prefect.context.get("logger")` and
#   `prefect.context.today` (a date string) in a task.
import re

import prefect
from prefect import task, Flow
from prefect.engine import signals


@task
def try_unlock():
    if prefect.context.key == 'abc':
        return True
    else:
        raise signals.FAIL()


@task
def report_start_day():
    logger = prefect.context.get("logger")
    logger.info(prefect.context.today)
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", prefect.context.today))


def run_with_key(flow):
    with prefect.context(key='abc'):
        return flow.run()  # this run is successful


def build():
    with Flow('Using Context') as flow:
        try_unlock()
        report_start_day()
    return flow, [{}, run_with_key]
