"""Runs of a one-task deployment through workers: how many a minute, and how late each
starts after its scheduled time.

For each database and launcher: a real server (its scheduler off: the runs are written
straight into the database, ``--rate`` a second, the first due a few seconds ahead),
``--workers`` worker processes of ``--concurrency`` each. The delay of a run is its
recorded start (when its flow process started it) minus its scheduled time; runs a
minute is the number of runs over the time from the first scheduled time to the last
end. Before the runs are due, the server's CPU use while idle (workers polling it) is
measured from ``/proc``.

Side by side in the same run, the same flow run the ways a user might without
ferroflow's workers (``--baseline N`` runs each):

* a plain Python loop calling ``flow.run()`` in one process (no isolation, no record);
* a process per run, two at a time, as cron or a shell loop would (``python -c`` that
  imports the flow and runs it, recorded in the embedded store).

    python benches/worker_runs.py                         # 10^4 runs, fork launcher, both databases
    python benches/worker_runs.py --runs 1000 --launchers process,fork --databases sqlite
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.databases import database  # noqa: E402  (the repository root, above)
from tests.support.servers import Server, child_env  # noqa: E402

FLOW = """
from ferroflow import Flow, Parameter, task

@task
def one(n):
    return n + 1

with Flow("one-task") as flow:
    one(Parameter("n", default=1))
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _insert_runs(url: str, deployment_id: int, n: int, first: float, rate: float) -> None:
    from sqlalchemy import insert

    from ferroflow.store.database import make_engine
    from ferroflow.store.schema import runs

    engine = make_engine(url)
    rows = [{"run_id": uuid.uuid4().hex, "flow_name": "one-task", "parameters": '{"n": 1}', "state": "Scheduled",
             "started_at": first + i / rate, "scheduled_time": first + i / rate, "deployment_id": deployment_id,
             "tags": "[]", "state_version": 0, "created_at": time.time(), "attempt": 1} for i in range(n)]
    with engine.begin() as conn:
        for start in range(0, n, 2000):
            conn.execute(insert(runs), rows[start:start + 2000])
    engine.dispose()


def _ended(url: str) -> tuple[int, list[tuple]]:
    from sqlalchemy import select

    from ferroflow.store.database import make_engine
    from ferroflow.store.schema import runs

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(runs.c.state, runs.c.scheduled_time, runs.c.started_at, runs.c.ended_at)).all()
    engine.dispose()
    done = [r for r in rows if r.ended_at is not None]
    return len(rows), done


def measure_workers(url: str, workdir: Path, runs: int, rate: float, workers: int, concurrency: int,
                    launcher: str) -> dict:
    from ferroflow.client.http import Client

    project = workdir / "project"
    project.mkdir(exist_ok=True)
    (project / "flows.py").write_text(FLOW)
    server = Server(url, workdir / f"server-{launcher}.log", args=("--no-scheduler",)).start()
    procs = []
    try:
        with Client(server.url) as client:
            made = client.put("/api/v1/deployments/one-task", {"entrypoint": "flows.py:flow"})
        env = child_env({"FERROFLOW_HOME": str(workdir / "home")})
        for i in range(workers):
            log = open(workdir / f"worker-{launcher}-{i}.log", "ab")
            procs.append((subprocess.Popen(
                [sys.executable, "-m", "ferroflow", "worker", "--pool", "default", "--server", server.url,
                 "--concurrency", str(concurrency), "--launcher", launcher, "--dir", str(project)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True), log))
        time.sleep(3)  # (the workers start and poll)
        idle_from = _cpu_seconds(server.process.pid)
        time.sleep(10)
        idle = (_cpu_seconds(server.process.pid) - idle_from) / 10
        first = time.time() + 3
        _insert_runs(url, made["id"], runs, first, rate)
        deadline = time.time() + runs / rate + 600
        while True:
            total, done = _ended(url)
            if len(done) >= runs or time.time() > deadline:
                break
            time.sleep(1)
    finally:
        for process, _log in procs:
            process.terminate()
        for process, log in procs:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
        server.stop()
    delays = [r.started_at - r.scheduled_time for r in done]
    states: dict = {}
    for r in done:
        states[r.state] = states.get(r.state, 0) + 1
    span = max(r.ended_at for r in done) - first
    return {"launcher": launcher, "runs": runs, "ended": len(done), "states": states,
            "runs_per_minute": 60 * len(done) / span, "delay_p50": _percentile(delays, 0.5),
            "delay_p99": _percentile(delays, 0.99), "delay_max": max(delays), "server_idle_cpu": idle}


def measure_loop(workdir: Path, n: int) -> dict:
    code = (f"import sys, time; sys.path.insert(0, {str(workdir / 'project')!r}); from flows import flow\n"
            f"t0 = time.perf_counter()\nfor _ in range({n}): flow.run(record=False)\n"
            f"print(time.perf_counter() - t0)\n")
    took = float(subprocess.run([sys.executable, "-c", code], env=child_env(), capture_output=True, text=True,
                                check=True).stdout.strip().splitlines()[-1])
    return {"contender": "plain loop, flow.run() in one process", "runs": n, "runs_per_minute": 60 * n / took}


def measure_cron(workdir: Path, n: int) -> dict:
    code = (f"import sys; sys.path.insert(0, {str(workdir / 'project')!r}); from flows import flow; "
            f"sys.exit(0 if flow.run().is_successful() else 1)")
    env = child_env({"FERROFLOW_HOME": str(workdir / "cron-home")})
    t0 = time.perf_counter()
    pending = list(range(n))
    running: list = []
    while pending or running:
        while pending and len(running) < 2:
            pending.pop()
            running.append(subprocess.Popen([sys.executable, "-c", code], env=env))
        running[0].wait()
        running = [p for p in running if p.poll() is None]
    took = time.perf_counter() - t0
    return {"contender": "a process per run, 2 at a time (cron, a shell loop)", "runs": n,
            "runs_per_minute": 60 * n / took}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=20.0, help="runs scheduled a second")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="runs at once per worker")
    parser.add_argument("--launchers", default="fork")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--baseline", type=int, default=200, help="runs of each baseline")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for kind in args.databases.split(","):
            for launcher in args.launchers.split(","):
                work = base / f"{kind}-{launcher}"
                work.mkdir()
                with database(kind, work) as url:
                    found = measure_workers(url, work, args.runs, args.rate, args.workers, args.concurrency,
                                            launcher)
                found["database"] = kind
                results.append(found)
                print(json.dumps(found), flush=True)
        if args.baseline:
            for measure in (measure_loop, measure_cron):
                found = measure(next(base.glob("*-*")), args.baseline)
                results.append(found)
                print(json.dumps(found), flush=True)
    print()
    print("| database | launcher | runs ended | runs/min | delay p50 | delay p99 | server CPU idle |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in results:
        if "launcher" in r:
            print(f"| {r['database']} | {r['launcher']} | {r['ended']}/{r['runs']} | {r['runs_per_minute']:.0f} | "
                  f"{r['delay_p50'] * 1000:.0f} ms | {r['delay_p99'] * 1000:.0f} ms | "
                  f"{100 * r['server_idle_cpu']:.1f}% |")
    for r in results:
        if "contender" in r:
            print(f"| {r['contender']} | | {r['runs']} | {r['runs_per_minute']:.0f} | | | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
