"""Two scheduler replicas and three workers, 500 scheduled runs (issue 11): each
scheduled time is made once, claimed once and run once (the runs' side effects are
counted), none is lost. A server with its scheduler and a ``ferroflow scheduler``
process tick on one database; the deployment's interval is 0.05 s."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from ferroflow.client.http import Client
from ferroflow.schedules import IntervalClock, Schedule
from ferroflow.schedules.spec import to_spec
from tests.support.databases import query
from tests.support.servers import child_env, wait_for
from tests.support.workers import FAST, WorkerProcess, deploy, start_server

RUNS = 500
EVERY = 0.05

FLOWS = """
from ferroflow import Flow, Parameter, context, task

@task
def mark(out):
    with open(out, "a") as f:
        f.write(context.flow_run_id + "\\n")

with Flow("tick") as flow:
    mark(Parameter("out"))
"""


def test_each_scheduled_run_runs_exactly_once(database_url, tmp_path, project):
    out = project / "marks.txt"
    server = start_server(database_url, tmp_path)
    with open(tmp_path / "scheduler.log", "wb") as log:
        replica = subprocess.Popen([sys.executable, "-m", "ferroflow", "scheduler", "--database", database_url,
                                    "--interval", "0.2"], env=child_env(FAST), stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    workers = []
    try:
        start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(seconds=5)
        clock = IntervalClock(dt.timedelta(seconds=EVERY), start_date=start,
                              end_date=start + dt.timedelta(seconds=EVERY * (RUNS - 0.5)))
        with Client(server.url) as client:
            made = deploy(client, "tick", "flows.py:flow", parameters={"out": str(out)},
                          schedule=to_spec(Schedule([clock])))
        workers = [WorkerProcess(server.url, project, tmp_path / f"worker-{i}.log", "default", "--concurrency", "3",
                                 "--launcher", "fork") for i in range(3)]

        def ended():
            found = query(database_url, "SELECT state, count(*) FROM runs GROUP BY state")
            counts = dict(found)
            return sum(counts.values()) >= RUNS and set(counts) <= {"Success", "Failed", "Crashed", "Cancelled"} \
                and counts
        counts = wait_for(ended, "every scheduled run to end", timeout=600, every=0.5)
        assert counts == {"Success": RUNS}, counts
        rows = query(database_url, "SELECT run_id, scheduled_time, deployment_id FROM runs ORDER BY scheduled_time")
        assert len(rows) == RUNS and {r[2] for r in rows} == {made["id"]}
        first = start.timestamp()
        assert [round((r[1] - first) / EVERY) for r in rows] == list(range(RUNS)), "no time lost, none twice"
        marks = out.read_text().split()
        assert len(marks) == RUNS and set(marks) == {r[0] for r in rows}, "each run ran once"
    finally:
        replica.terminate()
        replica.wait(30)
        for worker in workers:
            worker.stop(timeout=30)
        server.stop()
