# Source: PrefectHQ/prefect 1.4.1, examples/old/etl.py.
# Idioms: the three-task functional ETL (extract -> transform -> load) where load only
#   prints and returns None; flow.run() with no arguments.
from prefect import Flow, task


@task
def extract():
    return [1, 2, 3]


@task
def transform(x):
    return [i * 10 for i in x]


@task
def load(y):
    print("Received y: {}".format(y))


def build():
    with Flow("ETL") as flow:
        e = extract()
        t = transform(e)
        load(t)
    return flow, {}
