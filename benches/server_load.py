"""Load on one ferroflow server: many processes at once, each running a mapped flow
that records through the server, plus log lines; then every record is counted in the
database, and the server's log is searched for "database is locked".

Prints the record counts, the wall time, and the latency of the record requests
(``POST /api/v1/records``, measured by each client around each request) at p50, p90
and p99, per database. ``--check`` exits non-zero when a record is missing or the
database was locked (the test suite runs it that way, smaller).

    python benches/server_load.py                                # 16 x 10^4 children, 10^5 log lines, both databases
    python benches/server_load.py --processes 4 -n 2000 --logs 8000 --databases sqlite --check
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.databases import database  # noqa: E402  (the repository root, above)
from tests.support.servers import Server, child_env  # noqa: E402

WORKER = """
import json, sys, time
from ferroflow import Flow, task, context
import ferroflow.client.http as http

N, LOGS = int(sys.argv[1]), int(sys.argv[2])
latencies = []
post_raw = http.Client.post_raw

def timed(self, path, body):
    t0 = time.perf_counter()
    try:
        return post_raw(self, path, body)
    finally:
        latencies.append(time.perf_counter() - t0)

http.Client.post_raw = timed
EVERY = max(1, N // LOGS) if LOGS else 0

@task
def work(x):
    if EVERY and x % EVERY == 0 and x // EVERY < LOGS:
        context.logger.info("item %d done", x)
    return x

@task
def total(xs):
    return len(xs)

with Flow("load") as flow:
    total(work.map(list(range(N))))
state = flow.run()
assert state.is_successful(), state
from ferroflow.store.config import get_run_store
get_run_store().close()
print(json.dumps({"run_id": state.flow_run_id, "latencies": latencies}))
"""


def run_load(database_url: str, processes: int, n: int, logs: int, workdir: Path) -> dict:
    server = Server(database_url, workdir / "server.log").start()
    try:
        env = child_env({"FERROFLOW_API_URL": server.url, "FERROFLOW_HOME": str(workdir / "home")})
        per_process_logs = logs // processes
        t0 = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(n), str(per_process_logs)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(processes)]
        outs = [p.communicate(timeout=1800) for p in procs]
        wall = time.perf_counter() - t0
        for p, (_, err) in zip(procs, outs, strict=True):
            if p.returncode:
                raise SystemExit(f"a load process failed:\n{err[-3000:]}")
        results = [json.loads(out.strip().splitlines()[-1]) for out, _ in outs]
        server_log = server.log_path.read_text(errors="replace")
    finally:
        server.stop()
    from ferroflow.store.sql import SQLRunStore

    children = log_lines = 0
    with SQLRunStore(database_url) as store:
        for result in results:
            run_id = result["run_id"]
            assert store.get_run(run_id).state == "Success"
            work = {t.name: t for t in store.task_states(run_id)}["work"]
            children += work.counts.get("Success", 0)
            log_lines += sum(1 for line in store.logs(run_id) if line.message.startswith("item "))
    latencies = sorted(x for r in results for x in r["latencies"])
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {"children": children, "expected_children": processes * n, "log_lines": log_lines,
            "expected_log_lines": per_process_logs * processes, "requests": len(latencies), "wall_s": wall,
            "p50_ms": q[49] * 1e3, "p90_ms": q[89] * 1e3, "p99_ms": q[98] * 1e3,
            "locked": server_log.count("database is locked")}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=16)
    parser.add_argument("-n", type=int, default=10_000, help="mapped children per process")
    parser.add_argument("--logs", type=int, default=100_000, help="log lines in all")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--check", action="store_true", help="exit 1 unless every record arrived, never locked")
    args = parser.parse_args(argv)
    ok = True
    print(f"{'database':<12}{'processes':>10}{'children':>12}{'log lines':>11}{'requests':>10}{'wall s':>8}"
          f"{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'locked':>8}")
    for kind in args.databases.split(","):
        with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as url:
            r = run_load(url, args.processes, args.n, args.logs, Path(tmp))
        print(f"{kind:<12}{args.processes:>10}{r['children']:>12,}{r['log_lines']:>11,}{r['requests']:>10,}"
              f"{r['wall_s']:>8.1f}{r['p50_ms']:>9.1f}{r['p90_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['locked']:>8}")
        ok &= r["children"] == r["expected_children"] and r["log_lines"] == r["expected_log_lines"] \
            and not r["locked"]
    if args.check and not ok:
        print("FAILED: records missing or the database was locked", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
