# Source: PrefectHQ/prefect 1.4.1, docs/core/advanced_tutorials/calculator.md.
# Idioms: operators on Parameters directly (`Parameter('x') + 1`, `Parameter('x') +
#   Parameter('y')`); a run() helper that takes `list(flow.terminal_tasks())[0]` and
#   reads its result; switch(condition=Parameter('op'), cases={...}) over four operator
#   tasks rejoined by merge(*operations.values()); a parse_input task indexed with
#   inputs['x'] feeding the same switch; several runs of each flow.
# The doc warns that this "will raise some warnings"; they are not compared.
from prefect import task, Flow, Parameter
from prefect.tasks.control_flow import switch, merge


def run(flow, **parameters):
    state = flow.run(**parameters)
    terminal_task = list(flow.terminal_tasks())[0]
    return state.result[terminal_task].result


@task
def parse_input(expression):
    x, op, y = expression.split(' ')
    return dict(x=float(x), op=op, y=float(y))


FLOWS = {}


def build():
    with Flow('Add one') as add_one:
        Parameter('x') + 1
    with Flow('Add x and y') as add_xy:
        Parameter('x') + Parameter('y')
    with Flow('Arithmetic') as arithmetic:
        x, y = Parameter('x'), Parameter('y')
        operations = {
            '+': x + y,
            '-': x - y,
            '*': x * y,
            '/': x / y
        }
        switch(condition=Parameter('op'), cases=operations)
        merge(*operations.values())
    with Flow('Arithmetic') as flow:
        inputs = parse_input(Parameter('expression'))

        # once we have our inputs, everything else is the same:
        x, y = inputs['x'], inputs['y']
        operations = {
            '+': x + y,
            '-': x - y,
            '*': x * y,
            '/': x / y
        }
        switch(condition=inputs['op'], cases=operations)
        merge(*operations.values())
    FLOWS.update(add_one=add_one, add_xy=add_xy, arithmetic=arithmetic)
    return flow, [{"expression": "1 + 2"}, {"expression": "1 / 2"}]


def after(flow, state):
    return {
        "add_one": [run(FLOWS["add_one"], x=1), run(FLOWS["add_one"], x=-100)],
        "add_xy": [run(FLOWS["add_xy"], x=40, y=2)],
        "arithmetic": [run(FLOWS["arithmetic"], x=1, op=op, y=2) for op in "+-*/"],
        "expression": run(flow, expression="1 * 2"),
    }
