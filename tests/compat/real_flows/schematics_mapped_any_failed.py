# Source: znicholasbrown/project-schematics, flows/FailedSignalDFE.py ("Raise error on
#   Odd").
# Idioms: `trigger=prefect.triggers.any_failed` reached through `import prefect`; a
#   mapped task failing on odd items feeding a mapped task with that trigger (each child
#   looks at its own upstream child); IntervalSchedule(interval=...) with no
#   start_date; a Parameter without default given per run.
# Made deterministic: the original drove runs through FlowRunner(...).initialize_run;
#   here flow.run(param=p, run_on_schedule=False) runs the flow for two values.
import prefect
from prefect import Flow, task, Parameter
from prefect.schedules import IntervalSchedule
from datetime import timedelta


@task
def return_list(val):
    return list(range(0, val))


@task
def parse_value(val):
    if val % 2 != 0:
        raise ValueError("Value is not even!")

    return val


@task(trigger=prefect.triggers.any_failed)
def catch_error(val):
    print(f"Do something with this value error: {val}")
    return f"handled {val!r}"


def build():
    schedule = IntervalSchedule(interval=timedelta(minutes=1))
    with Flow("Raise error on Odd", schedule=schedule) as flow:
        my_param = Parameter("param")
        my_list = return_list(val=my_param)

        def_list = parse_value.map(my_list)

        catch_error.map(def_list)
    return flow, [{"param": 4, "run_on_schedule": False}, {"param": 1, "run_on_schedule": False}]
