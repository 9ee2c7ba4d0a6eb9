# Source: PrefectHQ/prefect 1.4.1, examples/parameters.py ("Example: Parameters").
# Idioms: two Parameters with defaults combined with the + operator (an auto-created
#   Add task) and passed positionally beside the Parameters themselves; flow.run()
#   with the defaults, then flow.run(parameters={"x": 8, "y": 9}).
from prefect import Flow, Parameter, task


@task(log_stdout=True)
def print_total(x, y, total):
    print(f"{x} + {y} = {total}")
    return f"{x} + {y} = {total}"


def build():
    with Flow("Example: Parameters") as flow:
        x = Parameter("x", default=1)
        y = Parameter("y", default=2)
        print_total(x, y, x + y)
    return flow, [{}, {"parameters": {"x": 8, "y": 9}}]
