"""What a UI asks its server for one big flow run, side by side: Prefect 3's server (what a
user would pick instead) and ferroflow's (not a test).

Prefect runs in a virtualenv of its own (it is not a dependency of ferroflow)::

    python -m venv /tmp/prefect3 && /tmp/prefect3/bin/pip install 'prefect>=3.8,<3.9'
    python benches/compare_prefect_ui.py --prefect-python /tmp/prefect3/bin/python -n 10000

For each server: a flow whose task is mapped over ``n`` items is run against it
(Prefect: ``prefect server start`` on SQLite in a fresh ``PREFECT_HOME``, the flow run
with ``PREFECT_API_URL`` pointing at it, then waited for until the server counts every
task run, since Prefect 3 records task runs from events after the flow returns;
ferroflow: :func:`ui_pages.seed` records it with the engine into SQLite). Then the
requests a run's page makes are timed from the client (Prefect sends no
``Server-Timing``; ferroflow's own figure is printed too): median and 95th percentile
of ``--repeat`` requests after three warm-up ones, and the answer's size.

* Prefect: ``GET /api/flow_runs/{id}/graph-v2`` (the run page's graph: every task run),
  ``POST /api/task_runs/filter`` (200 task runs of the flow run, as its task-run list
  pages), ``POST /api/task_runs/count``.
* ferroflow: ``GET /runs/{id}`` (the whole run page, HTML), ``GET /api/v1/runs/{id}/tasks``
  (the task list with counts by state), the first page of 200 children
  (``.../children?limit=200``), and the run page's children page if the UI has it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ui_pages  # (benches/, above)

from tests.support.servers import free_port  # (ui_pages put the repository first on the path)

PREFECT_FLOW = """
import sys
from prefect import flow, task

@task
def work(x):
    return x + 1

@flow(name="ui-bench-big")
def big(n: int):
    return sum(f.result() for f in work.map(range(n)))

if __name__ == "__main__":
    big(int(sys.argv[1]))
"""


def timed(client: httpx.Client, method: str, path: str, repeat: int, body: dict | None = None) -> dict:
    """Client-side wall time (ms) of ``repeat`` requests after three warm-up ones, the
    server's own (``Server-Timing``) when it sends one, and the answer's size."""
    wall: list[float] = []
    server: list[float] = []
    size = 0
    for i in range(3 + repeat):
        started = time.perf_counter()
        answer = client.request(method, path, json=body)
        took = (time.perf_counter() - started) * 1000
        if answer.status_code == 404:
            return {"path": path, "missing": True}
        answer.raise_for_status()
        if i >= 3:
            wall.append(took)
            if "server-timing" in answer.headers:
                server.append(float(answer.headers["server-timing"].split("dur=")[1].split(",")[0]))
            size = len(answer.content)
    wall.sort()
    return {"path": path, "median_ms": round(statistics.median(wall), 2),
            "p95_ms": round(wall[min(len(wall) - 1, round(len(wall) * 0.95) - 1)], 2),
            "server_ms": round(statistics.median(server), 2) if server else None, "kb": round(size / 1024, 1)}


def prefect(python: str, n: int, repeat: int, workdir: Path, settle: float = 60.0) -> dict:
    """Prefect 3's server and a flow run of ``n`` task runs; its figures."""
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(workdir / "prefect"), "PREFECT_API_URL": api,
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"}
    prefect_bin = str(Path(python).parent / "prefect")
    with open(workdir / "prefect-server.log", "wb") as log:
        server = subprocess.Popen([prefect_bin, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                                  env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        with httpx.Client(base_url=api, timeout=300) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"Prefect's server did not start: see {workdir / 'prefect-server.log'}")
                time.sleep(0.5)
            source = workdir / "big_prefect.py"
            source.write_text(PREFECT_FLOW)
            started = time.perf_counter()
            subprocess.run([python, str(source), str(n)], env=env, check=True, capture_output=True)
            ran = time.perf_counter() - started
            (run,) = client.post("/flow_runs/filter", json={"limit": 1}).json()
            # Task runs land from events after the flow returns: wait for all of them, or
            # until none came for `settle` seconds (the default server's in-memory queue
            # drops events when it is full: the figures then say how many landed).
            count, last_change = 0, time.monotonic()
            while count < n and time.monotonic() - last_change < settle:
                time.sleep(2)
                now_count = client.post("/task_runs/count", json={}).json()
                if now_count != count:
                    count, last_change = now_count, time.monotonic()
            recorded = time.perf_counter() - started
            filters = {"flow_runs": {"id": {"any_": [run["id"]]}}}
            graph = f"/flow_runs/{run['id']}/graph-v2"
            return {"contender": f"Prefect {_version(python)}", "n": n, "flow_run_s": round(ran, 1),
                    "task_runs_recorded": count,
                    "dropped_event_warnings": (workdir / "prefect-server.log").read_text(errors="replace")
                    .count("dropping message"), "recorded_s": round(recorded - settle * (count < n), 1),
                    "requests": [
                        {"what": "run graph (every task run)", **timed(client, "GET", graph, repeat)},
                        {"what": "200 task runs of the run", **timed(client, "POST", "/task_runs/filter", repeat,
                                                                     {**filters, "limit": 200})},
                        {"what": "count of the run's task runs", **timed(client, "POST", "/task_runs/count", repeat,
                                                                         filters)}]}
    finally:
        os.killpg(server.pid, 9)
        server.wait()


def _version(python: str) -> str:
    return subprocess.run([python, "-c", "import prefect; print(prefect.__version__)"], capture_output=True,
                          text=True).stdout.strip()


def ferroflow(n: int, repeat: int, workdir: Path) -> dict:
    """ferroflow's server and a recorded run of ``n`` children; its figures."""
    url = f"sqlite:///{workdir / 'ferroflow.db'}"
    started = time.perf_counter()
    seeded = ui_pages.seed(url, n, 0, workdir / "work", every=10_007)
    recorded = time.perf_counter() - started
    run, task = seeded.run_id, seeded.task_id
    children = f"/api/v1/runs/{run}/tasks/work/children?limit=200"
    with ui_pages.serve(url, workdir) as base, httpx.Client(base_url=base, timeout=120) as client:
        requests = [{"what": "run page, whole HTML", **timed(client, "GET", f"/runs/{run}", repeat)},
                    {"what": "task list with counts by state (API)",
                     **timed(client, "GET", f"/api/v1/runs/{run}/tasks", repeat)},
                    {"what": "200 children (API)", **timed(client, "GET", children, repeat)},
                    {"what": "children page (HTML)", **timed(client, "GET", f"/runs/{run}/tasks/{task}", repeat)}]
    return {"contender": "ferroflow", "n": n, "task_runs_recorded": n, "recorded_s": round(recorded, 1),
            "requests": requests}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefect-python", default="/tmp/prefect3/bin/python",
                        help="the Python of a virtualenv with prefect 3 (skipped when missing)")
    parser.add_argument("-n", type=int, default=10_000, help="task runs of the flow run")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="ui-compare-") as tmp:
        results.append(ferroflow(args.n, args.repeat, Path(tmp)))
        if Path(args.prefect_python).exists():
            results.append(prefect(args.prefect_python, args.n, args.repeat, Path(tmp)))
        else:
            print(f"no Python at {args.prefect_python}: Prefect skipped")
    print("| contender | request | median ms (client) | p95 ms | server ms | KB |")
    print("|---|---|---:|---:|---:|---:|")
    for result in results:
        for r in result["requests"]:
            if r.get("missing"):
                print(f"| {result['contender']} | {r['what']} | missing | | | |")
            else:
                print(f"| {result['contender']} | {r['what']} | {r['median_ms']:.2f} | {r['p95_ms']:.2f} | "
                      f"{'' if r['server_ms'] is None else format(r['server_ms'], '.2f')} | {r['kb']:,.1f} |")
    print(json.dumps([{k: v for k, v in r.items() if k != "requests"} for r in results]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
