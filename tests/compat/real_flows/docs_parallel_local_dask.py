# Source: PrefectHQ/prefect 1.4.1, docs/core/idioms/parallel.md.
# Idioms: `from prefect.executors import LocalDaskExecutor`;
#   flow.run(parameters={"stop": 5}, executor=LocalDaskExecutor()); Task subclasses
#   instantiated three times and wired with `stop.set_downstream(number_1, key="stop",
#   flow=flow)`; `sum_numbers.bind(numbers=[number_1, number_2, number_3], flow=flow)`
#   (a list of tasks bound imperatively); the functional twin where a task name is
#   rebound to its own result (`sum_numbers = sum_numbers(numbers=[...])`).
# Made deterministic: randrange(stop) is stop - 1.
from prefect import task, Flow, Parameter, Task
from prefect.executors import LocalDaskExecutor


def randrange(stop):
    return stop - 1


class RandomNum(Task):
    def run(self, stop):
        number = randrange(stop)
        print(f"Your number is {number}")
        return number


class Sum(Task):
    def run(self, numbers):
        print(sum(numbers))
        return sum(numbers)


@task
def random_num(stop):
    number = randrange(stop)
    print(f"Your number is {number}")
    return number


@task
def sum_numbers(numbers):
    print(sum(numbers))
    return sum(numbers)


def build():
    flow = Flow("parallel-execution")

    stop = Parameter("stop")

    number_1 = RandomNum()
    number_2 = RandomNum()
    number_3 = RandomNum()

    stop.set_downstream(number_1, key="stop", flow=flow)
    stop.set_downstream(number_2, key="stop", flow=flow)
    stop.set_downstream(number_3, key="stop", flow=flow)

    sum_cls = Sum()

    sum_cls.bind(numbers=[number_1, number_2, number_3], flow=flow)

    with flow:
        n1 = random_num(stop)
        n2 = random_num(stop)
        n3 = random_num(stop)
        total = sum_numbers(numbers=[n1, n2, n3])
    return flow, {"parameters": {"stop": 5}, "executor": LocalDaskExecutor()}
