# Source: hydrologie/sefm, sefm/pipeline.py ("dask-example").
# Idioms: two tasks mapped over range(100) constants, a third mapped over both results
#   (add.map(x=incs, y=decs)), a reduce task named "sum" (@task(name="sum")); the
#   executor imported from the old path `prefect.engine.executors` and passed to
#   flow.run(executor=...).
# Made deterministic and local: no random sleeps; the original DaskExecutor(address=
#   "tcp://localhost:8786") needs a running scheduler, so this uses the same module's
#   LocalDaskExecutor; 10 items instead of 100.
from prefect import task, Flow
from prefect.engine.executors import LocalDaskExecutor


@task
def inc(x):
    return x + 1


@task
def dec(x):
    return x - 1


@task
def add(x, y):
    return x + y


@task(name="sum")
def list_sum(arr):
    return sum(arr)


def build():
    with Flow("dask-example") as flow:
        incs = inc.map(x=range(10))
        decs = dec.map(x=range(10))
        adds = add.map(x=incs, y=decs)
        list_sum(adds)
    executor = LocalDaskExecutor()
    return flow, {"executor": executor}
