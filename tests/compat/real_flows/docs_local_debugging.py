# Source: PrefectHQ/prefect 1.4.1, docs/core/advanced_tutorials/local-debugging.md.
# Idioms: Flow(name="tuples", tasks=[gotcha]) with a task that fails on an assert;
#   `failed_state = state.result[gotcha]` then looking at `failed_state.result`;
#   `flow.get_tasks(name="gotcha")[0]` and `flow.replace(broken, fixed)`; type hints on
#   a task (`-> int`); `flow.run(task_states={long_task: Success("Mocked success",
#   result=42)})` to skip a slow task; `from prefect.engine.state import Success`.
# Made deterministic: no sleep(3) in the slow task.
from prefect import Flow, task
from prefect.engine.state import Success


@task
def gotcha():
    tup = ('a', ['b'])
    try:
        tup[1] += ['c']
    except TypeError:
        assert len(tup[1]) == 1


@task
def fixed():
    tup = ('a', ('b',))
    try:
        tup[1] += ('c',)
    except TypeError:
        assert len(tup[1]) == 1


@task
def i_will_take_forever() -> int:
    return 42


@task
def failure(a_number: int):
    return a_number / 0


def build():
    flow = Flow(name="tuples", tasks=[gotcha])
    with flow:
        a_great_number = i_will_take_forever()
        failure(a_great_number)

    def replace_and_rerun(flow):
        broken = flow.get_tasks(name="gotcha")[0]
        flow.replace(broken, fixed)
        return flow.run()

    def mock_the_slow_task(flow):
        long_task = flow.get_tasks(name="i_will_take_forever")[0]
        task_states = {long_task: Success("Mocked success", result=42)}
        return flow.run(task_states=task_states)

    return flow, [{}, replace_and_rerun, mock_the_slow_task]
