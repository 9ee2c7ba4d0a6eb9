"""The demo flow: extract a list, transform every element in a mapped task, load the
sum. Run it with ``ferroflow run examples/etl.py --param n=1000``."""

from datetime import timedelta

from ferroflow import Flow, Parameter, task, triggers, unmapped


@task(max_retries=2, retry_delay=timedelta(seconds=1))
def extract(n):
    return list(range(n))


@task
def transform(x, k):
    return x * k


@task(trigger=triggers.all_finished)
def load(xs):
    total = sum(xs)
    print(f"loaded {len(xs)} values, total {total}")
    return total


with Flow("etl") as flow:
    n = Parameter("n", default=10)
    load(transform.map(extract(n), k=unmapped(3)))

if __name__ == "__main__":
    state = flow.run(n=1_000)
    print(state)
