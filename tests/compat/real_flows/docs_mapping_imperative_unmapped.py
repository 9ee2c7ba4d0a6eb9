# Source: PrefectHQ/prefect 1.4.1, docs/core/idioms/mapping.md (functional and
#   imperative "unmapped-values").
# Idioms: Parameters with no default given at run time; `numbers.set_upstream(total,
#   key="total", flow=flow)`; `output_value.set_upstream(numbers, key="n",
#   mapped=True, flow=flow)` and `mapped=False` for the unmapped argument; the
#   functional twin with .map(numbers, multiple=unmapped(multiple)).
# Made deterministic: random.sample is a fixed slice.
from prefect import Flow, Parameter, Task, task, unmapped


def sample(population, total):
    return list(population)[3:3 + total]


class GetNumbers(Task):
    def run(self, total):
        return sample(range(100), total)


class OutputValue(Task):
    def run(self, n, multiple):
        print(n * multiple)
        return n * multiple


@task
def get_numbers(total):
    return sample(range(100), total)


@task
def output_value(n, multiple):
    print(n * multiple)
    return n * multiple


def build():
    flow = Flow("unmapped-values")

    total = Parameter("total")
    multiple = Parameter("multiple")

    numbers = GetNumbers()
    numbers.set_upstream(total, key="total", flow=flow)

    output_value_cls = OutputValue()
    output_value_cls.set_upstream(numbers, key="n", mapped=True, flow=flow)
    output_value_cls.set_upstream(multiple, key="multiple", mapped=False, flow=flow)

    with flow:
        numbers_fn = get_numbers(total)
        output_value.map(numbers_fn, multiple=unmapped(multiple))
    return flow, {"parameters": {"total": 3, "multiple": 10}}
