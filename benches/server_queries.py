"""The server's read queries on a big database (not a test): 10^5 runs and one finished
run of 10^6 mapped children, on SQLite and on PostgreSQL.

    .venv/bin/python benches/server_queries.py                       # both databases
    .venv/bin/python benches/server_queries.py --db sqlite --runs 100000 --children 1000000 --repeat 50
    .venv/bin/python benches/server_queries.py --explain              # and the query plans

The database is filled directly in the run store's layout
(:mod:`ferroflow.testing.records`): 10^5 runs of 50 flows (random states, tags, one
second apart), and one run whose mapped task has 10^6 children, 10% of them failed with
a message and a traceback (10^5 ``task_runs`` rows), and 10^5 log lines. Each request
is then sent to the application in-process and timed by the server itself (the
``Server-Timing`` header: from the request reaching the application to the response
starting, JSON encoding included); the figures are medians and 90th percentiles of
``--repeat`` requests after two warm-up ones. PostgreSQL is the one at
``FERROFLOW_BENCH_PG`` (default ``postgresql://postgres@127.0.0.1:5432/test``), in a
schema of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from sqlalchemy import insert, text  # noqa: E402 - after the sys.path entry

from ferroflow import _core  # noqa: E402
from ferroflow.server.app import create_app  # noqa: E402
from ferroflow.store.database import make_engine  # noqa: E402
from ferroflow.store.migrations import migrate  # noqa: E402
from ferroflow.store.schema import flows, run_tags, runs  # noqa: E402
from ferroflow.testing.records import TaskRecord, write_run  # noqa: E402

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

PG_URL = os.environ.get("FERROFLOW_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
STATES = ["Success"] * 6 + ["Failed"] * 2 + ["Running", "Cancelled", "Crashed", "Paused"]
TAGS = ["nightly", "adhoc", "eu", "us", "backfill"]
T0 = 1_790_000_000.0


def fill(engine, n_runs: int, n_children: int, failed_fraction: float, analyze: bool = True, seed: int = 1) -> str:
    """Write the runs; return the id of the big one."""
    rng = random.Random(seed)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(flows), [{"name": f"flow-{i}", "created_at": T0, "updated_at": T0, "parameters": "{}"}
                                     for i in range(50)])
        batch: list = []
        tags: list = []
        for i in range(n_runs):
            state = rng.choice(STATES)
            chosen = rng.sample(TAGS, rng.randint(0, 2))
            batch.append({"run_id": uuid.UUID(int=rng.getrandbits(128)).hex, "flow_name": f"flow-{rng.randrange(50)}",
                          "parameters": json.dumps({"n": i}), "state": state, "started_at": T0 + i,
                          "ended_at": None if state == "Running" else T0 + i + 30, "tags": json.dumps(chosen),
                          "state_version": 0, "created_at": T0 + i})
            tags.append(chosen)
            if len(batch) == 20_000 or i == n_runs - 1:
                keys = conn.execute(insert(runs).returning(runs.c.id, sort_by_parameter_order=True), batch).scalars()
                rows = [{"run": key, "tag": tag} for key, chosen_ in zip(keys, tags, strict=True) for tag in chosen_]
                if rows:
                    conn.execute(insert(run_tags), rows)
                batch, tags = [], []
    codes = bytearray([_core.SUCCESS]) * n_children
    failed = rng.sample(range(n_children), int(n_children * failed_fraction))
    for i in failed:
        codes[i] = _core.FAILED
    details = {i: (f"Error during execution of task: ValueError({i})", None, 1,
                   f"Traceback (most recent call last):\n  File \"flow.py\", line 12, in work\n"
                   f"    raise ValueError(x)\nValueError: {i}\n") for i in failed}
    logs = [(1, rng.randrange(n_children), T0 + n_runs + i * 0.001, 20 if i % 10 else 40, "INFO" if i % 10 else
             "ERROR", "ferroflow.task.work", f"item {i} {'done' if i % 10 else 'failed: ValueError'}")
            for i in range(100_000)]
    big = uuid.uuid4().hex
    with engine.begin() as conn:
        write_run(conn, big, "flow-7", state="Failed", started_at=T0 + n_runs, ended_at=T0 + n_runs + 60,
                  parameters={"n": n_children}, log_rows=logs, tasks=[
                      TaskRecord(0, "numbers", "numbers", code=_core.SUCCESS),
                      TaskRecord(1, "work", "work", mapped=True, code=_core.MAPPED, children=bytes(codes),
                                 details=details, span=8192),
                      TaskRecord(2, "total", "total", code=_core.TRIGGER_FAILED)])
    if analyze:  # what PostgreSQL's autovacuum does soon after a bulk load; SQLite never does it unasked
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    print(f"  filled in {time.perf_counter() - started:.1f} s", flush=True)
    return big


def timed(client, path: str, repeat: int) -> tuple[float, float, int]:
    """Median and 90th percentile of the server's time (ms) answering ``path``, and the
    number of items in the answer."""
    times = []
    answer = None
    for i in range(repeat + 2):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
        if i >= 2:
            times.append(float(response.headers["server-timing"].split("dur=")[1]))
        answer = response.json()
    items = answer if isinstance(answer, list) else answer["items"]
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1], len(items)


def explain(engine, big: str) -> None:
    """Print the plans of the queries the first pages run."""
    from sqlalchemy import select

    from ferroflow.store import schema

    key = None
    with engine.connect() as conn:
        key = conn.execute(select(schema.runs.c.id).where(schema.runs.c.run_id == big)).scalar_one()
        prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
        queries = {
            "runs of a flow, newest first": select(schema.runs.c.id).where(schema.runs.c.flow_name == "flow-7")
            .order_by(schema.runs.c.started_at.desc(), schema.runs.c.id.desc()).limit(51),
            "failed children of one code": select(schema.task_runs.c.map_index).where(
                schema.task_runs.c.run == key, schema.task_runs.c.task_id == 1,
                schema.task_runs.c.code == _core.FAILED, schema.task_runs.c.map_index > -1)
            .order_by(schema.task_runs.c.map_index).limit(51),
            "rows of a window of children": select(schema.task_runs.c.map_index).where(
                schema.task_runs.c.run == key, schema.task_runs.c.task_id == 1,
                schema.task_runs.c.map_index >= 500_000, schema.task_runs.c.map_index < 500_128),
            "logs of a run": select(schema.logs.c.id).where(schema.logs.c.run == key)
            .order_by(schema.logs.c.id).limit(101),
        }
        for name, query in queries.items():
            sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
            plan = [" | ".join(str(c) for c in row) for row in conn.execute(text(prefix + sql))]
            print(f"  plan, {name}:")
            for line in plan:
                print(f"    {line}")


def bench(url: str, args: argparse.Namespace) -> list:
    engine = make_engine(url)
    migrate(engine)
    big = fill(engine, args.runs, args.children, args.failed, analyze=not args.no_analyze)
    if args.explain:
        explain(engine, big)
    client = TestClient(create_app(engine, auth=False))
    at_half = None
    page = client.get(f"/api/v1/runs/{big}/tasks/work/children", params={"state": "Success", "limit": 1}).json()
    assert page["items"]
    from ferroflow.store.queries import encode_cursor

    at_half = encode_cursor("children", args.children // 2)
    checks = [
        ("runs, first page (50), filtered by flow", "/api/v1/runs?flow=flow-7&limit=50"),
        ("runs, first page (50), no filter", "/api/v1/runs?limit=50"),
        ("runs, first page (50), state Failed", "/api/v1/runs?state=Failed&limit=50"),
        ("runs, first page (50), flow + 2 states + tag", "/api/v1/runs?flow=flow-7&state=Failed&state=Crashed"
                                                          "&tag=nightly&limit=50"),
        ("runs, a page 1,000 runs deep (flow)", None),
        ("the big run's task list", f"/api/v1/runs/{big}/tasks"),
        ("its failed children, first page (50, tracebacks)", f"/api/v1/runs/{big}/tasks/work/failed?limit=50"),
        ("its Success children, first page (50)", f"/api/v1/runs/{big}/tasks/work/children?state=Success&limit=50"),
        ("its Success children, page at index 500,000",
         f"/api/v1/runs/{big}/tasks/work/children?state=Success&limit=50&cursor={at_half}"),
        ("its children, any state, first page (50)", f"/api/v1/runs/{big}/tasks/work/children?limit=50"),
        ("its logs, first page (100)", f"/api/v1/runs/{big}/logs?limit=100"),
        ("its logs, level >= ERROR (100)", f"/api/v1/runs/{big}/logs?limit=100&min_level=ERROR"),
        ("its logs, text 'item 99999' (scan)", f"/api/v1/runs/{big}/logs?limit=100&text=item%2099999"),
    ]
    cursor = None
    for _ in range(20):
        page = client.get("/api/v1/runs", params={"flow": "flow-7", "limit": 50,
                                                  **({"cursor": cursor} if cursor else {})}).json()
        cursor = page["next_cursor"]
    results = []
    for name, path in checks:
        if path is None:
            path = f"/api/v1/runs?flow=flow-7&limit=50&cursor={cursor}"
        median, p90, n = timed(client, path, args.repeat)
        results.append((name, median, p90, n))
        print(f"  {name:<52} median {median:7.2f} ms  p90 {p90:7.2f} ms  ({n} items)", flush=True)
    client.close()
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--children", type=int, default=1_000_000)
    parser.add_argument("--failed", type=float, default=0.1, help="fraction of the children that failed")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--explain", action="store_true", help="print the plans of the main queries")
    parser.add_argument("--no-analyze", action="store_true",
                        help="do not ANALYZE after filling (the planners without statistics)")
    args = parser.parse_args()
    table = {}
    for kind in args.db.split(","):
        print(f"{kind}: {args.runs:,} runs, one of {args.children:,} children ({args.failed:.0%} failed)",
              flush=True)
        if kind == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                table[kind] = bench(str(Path(tmp) / "bench.db"), args)
        else:
            import psycopg

            schema = "ff_bench_" + uuid.uuid4().hex[:12]
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
                table[kind] = bench(f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}", args)
            finally:
                with psycopg.connect(PG_URL, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    kinds = list(table)
    print()
    print("| request | " + " | ".join(f"{k} median ms (p90)" for k in kinds) + " |")
    print("|---|" + "---:|" * len(kinds))
    for i, (name, *_rest) in enumerate(table[kinds[0]]):
        print(f"| {name} | " + " | ".join(f"{table[k][i][1]:.2f} ({table[k][i][2]:.2f})" for k in kinds) + " |")


if __name__ == "__main__":
    main()
