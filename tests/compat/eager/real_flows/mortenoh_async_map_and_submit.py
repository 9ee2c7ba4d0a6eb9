# Source: mortenoh/prefect-examples, flows/036_async_map_and_submit.py (Prefect 3).
# Idioms: an `async def` flow calling `.map()` and `.submit()` of `async def` tasks
#   (not awaited) and collecting with `[f.result() for f in futures]`; `await` of an
#   async task called plainly; `zip(..., strict=True)`; prints without log_prints on
#   the tasks but with it on the flow. Sleeps shortened to a millisecond.
import asyncio

from prefect import flow, task


@task
async def async_transform(item: str) -> str:
    await asyncio.sleep(0.001)
    result = f"transformed:{item.upper()}"
    print(f"Transformed: {item} -> {result}")
    return result


@task
async def async_validate(item: str) -> bool:
    await asyncio.sleep(0.001)
    is_valid = not item.endswith("GAMMA")
    print(f"Validated: {item} -> {is_valid}")
    return is_valid


@task
async def async_summarize(results: list[str]) -> str:
    msg = f"Summary: {len(results)} items processed - {', '.join(results)}"
    print(msg)
    return msg


@flow(name="036_async_map_and_submit", log_prints=True)
async def async_map_and_submit_flow() -> str:
    items = ["alpha", "beta", "gamma", "delta"]
    transform_futures = async_transform.map(items)
    transformed = [f.result() for f in transform_futures]
    validate_futures = [async_validate.submit(item) for item in transformed]
    validations = [f.result() for f in validate_futures]
    valid_items = [item for item, valid in zip(transformed, validations, strict=True) if valid]
    return await async_summarize(valid_items)


def main():
    return asyncio.run(async_map_and_submit_flow())
