# Source: PrefectHQ/prefect 1.4.1, docs/core/concepts/persistence.md ("Output Caching")
#   and docs/core/concepts/execution.md.
# Idioms: only `import prefect`: `prefect.Task(cache_for=datetime.timedelta(hours=1))`
#   and `cache_validator=prefect.engine.cache_validators.all_parameters` reached as
#   attributes of the package; @prefect.task with the same options; a Parameter; runs
#   with the same parameter (served from the cache) and with a new one (run again).
# Made observable: the tasks count their calls.
import datetime

import prefect

CALLS = []


class Lookup(prefect.Task):
    def run(self):
        CALLS.append("lookup")
        return len(CALLS)


@prefect.task(cache_for=datetime.timedelta(hours=1),
              cache_validator=prefect.engine.cache_validators.all_parameters)
def price(symbol):
    CALLS.append(symbol)
    return {"ACME": 12.5, "INIT": 3.0}[symbol]


def build():
    task_1 = Lookup(cache_for=datetime.timedelta(hours=1))
    with prefect.Flow("cached prices") as flow:
        symbol = prefect.Parameter("symbol", default="ACME")
        price(symbol)
        task_1()
    return flow, [{}, {}, {"symbol": "INIT"}]


def after(flow, state):
    return list(CALLS)
