# Source: anna-geller/pacc-berlin, flows/04_async/practical.py (Prefect 2).
# Idioms: an `async def` flow with `log_prints=True` awaiting `async def` tasks
#   (each with `log_prints=True`) one by one in a for loop; `asyncio.run(flow())`;
#   `-> list` / `-> None` hints.
import asyncio

from prefect import task, flow


@task(log_prints=True)
async def extract() -> list:
    return list(range(1, 6))


@task(log_prints=True)
async def transform(x: int) -> int:
    return x * 2


@task(log_prints=True)
async def load(x: int) -> None:
    print(f"final result {x}")


@flow(log_prints=True)
async def async_etl():
    nrs = await extract()
    total = 0
    for n in nrs:
        final = await transform(n)
        await load(final)
        total += final
    return total


def main():
    return asyncio.run(async_etl())
