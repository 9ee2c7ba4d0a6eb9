# Source: dataforgoodfr/13_odis, prefect_flow/flow.py (a volunteer data project's
#   Prefect 3.6 pipeline).
# Idioms: an `async def` flow; `task.with_options(name=f"Extract {name}")` renaming a
#   task per data source and `.submit(...)` of the renamed async task;
#   `await asyncio.gather(*futures, return_exceptions=True)` over the submitted
#   futures; an async task doing its own `asyncio.gather(..., return_exceptions=True)`
#   and raising RuntimeError when an extractor failed; `get_run_logger()` in flow and
#   task; `log_prints=True` tasks. HTTP extractors, dbt and artifacts are replaced by
#   local functions returning fixed data.
import asyncio

from prefect import flow, task
from prefect.logging import get_run_logger

SOURCES = {"insee": ["a.csv"], "cities": ["b.csv", "c.csv"], "broken": ["!"]}


async def _extract_one(name, path):
    await asyncio.sleep(0.001)
    if path == "!":
        raise ConnectionError(f"{name}: no such endpoint")
    return f"data/{name}/{path}"


@task(log_prints=True)
async def prefect_extract(name, paths):
    logger_prefect = get_run_logger()
    logger_prefect.info(f"[extract] preparing extractor for {name}")
    results = await asyncio.gather(*[_extract_one(name, p) for p in paths], return_exceptions=True)
    errors = [res for res in results if isinstance(res, Exception)]
    if errors:
        for err in errors:
            print(f"[extract] error: {err}")
        raise RuntimeError(f"{len(errors)} extraction errors occurred")
    return {"ds_name": name, "artifact_path": results[0]}


@task(log_prints=True)
async def prefect_load(name, artifact_path):
    if artifact_path is None:
        return f"Skipped load for {name}"
    return f"Loaded {name}"


@flow
async def full_pipeline(max_concurrency: int = 4):
    get_run_logger().info("START FLOW")
    extract_tasks = [
        prefect_extract.with_options(name=f"Extract {name}").submit(name, paths)
        for name, paths in SOURCES.items()
    ]
    try:
        artifacts = await asyncio.gather(*extract_tasks, return_exceptions=True)
    except TypeError as exc:
        print(f"gather refused futures: {exc}")
        artifacts = [f.result(raise_on_failure=False) for f in extract_tasks]
    cleaned = []
    for name, result in zip(SOURCES, artifacts):
        if isinstance(result, Exception):
            cleaned.append({"ds_name": name, "artifact_path": None, "error": str(result)})
        else:
            cleaned.append(result)
    load_futures = [
        prefect_load.with_options(name=f"Load {name}").submit(name, artifact["artifact_path"])
        for name, artifact in zip(SOURCES, cleaned)
    ]
    loaded = [f.result() for f in load_futures]
    return {"cleaned": cleaned, "loaded": loaded,
            "names": sorted({prefect_extract.with_options(name="x").name, prefect_extract.name})}


def main():
    return asyncio.run(full_pipeline(return_state=True))
