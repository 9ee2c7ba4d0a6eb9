"""Run store benchmarks (not a test): what recording costs.

    .venv/bin/python benches/bench_store.py                  # everything, N = 1,000,000
    .venv/bin/python benches/bench_store.py --only map,engine --repeat 5

Sections (each in a fresh temporary directory, medians of --repeat runs):

* ``states``: rows/s of ``record_states`` batches of 1,000 rows that are all stored
  (failed children with a message), from the first call until ``flush()`` returns; and
  the same for ``record_logs``.
* ``map``: recording one N-child map in the engine's batch shape (``record_report``,
  8,192 children per report): every child succeeds, vs. 10% fail with a message. The
  time the caller spends (enqueue) and until everything is committed (flush), and the
  rows and bytes written.
* ``engine``: the README's million-child flow (``inc.map(range(N))`` + ``sum``) run by
  the engine without recording and with every report also handed to ``record_report``
  (plus the end-of-run re-report of each mapped task and ``flush()``), which is how the
  engine is expected to call the store; with 10% of the children failing too.
* ``d1``: RELIABILITY.md D1 at full size: 8 writer processes x 20,000 transitions (a
  commit every 100) + 4 readers polling run listings; p50/p99 commit latency.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python"))

from harness import run_measurement  # noqa: E402 - after the sys.path entry

from ferroflow import _core  # noqa: E402 - after the sys.path entry
from ferroflow.store import SQLiteRunStore  # noqa: E402 - after the sys.path entry

UNIT = 8_192


def _median(values):
    return statistics.median(values)


# ----- states --------------------------------------------------------------------------


def bench_states(repeat: int, rows_total: int = 200_000, batch: int = 1_000) -> dict:
    times, log_times = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as d, SQLiteRunStore(Path(d) / "runs.db") as store:
            store.start_run("r", "bench", {}, [(0, "work", "work-1", True)])
            store.flush()
            batches = [[(0, i, _core.FAILED, 1, f"Error during execution of task: ValueError({i})", None)
                        for i in range(a, a + batch)] for a in range(0, rows_total, batch)]
            t0 = time.perf_counter()
            for rows in batches:
                store.record_states("r", rows)
            store.flush()
            times.append(time.perf_counter() - t0)
            logs = [[(0, i, 1.0 + i, "INFO", "ferroflow.task", f"processing item {i}")
                     for i in range(a, a + batch)] for a in range(0, rows_total, batch)]
            t0 = time.perf_counter()
            for rows in logs:
                store.record_logs("r", rows)
            store.flush()
            log_times.append(time.perf_counter() - t0)
    return {"rows": rows_total, "batch": batch,
            "states_s": _median(times), "states_rows_per_s": rows_total / _median(times),
            "logs_s": _median(log_times), "logs_rows_per_s": rows_total / _median(log_times)}


# ----- map ---------------------------------------------------------------------------------


def _map_reports(n: int, fail: float) -> list:
    rnd = random.Random(7)
    reports = []
    for start in range(0, n, UNIT):
        stop = min(n, start + UNIT)
        codes = bytearray([_core.SUCCESS]) * (stop - start)
        details = {}
        if fail:
            for j in range(stop - start):
                if rnd.random() < fail:
                    codes[j] = _core.FAILED | _core.RETRY_OK
                    details[start + j] = (f"Error during execution of task: ValueError({start + j})", None, None)
        reports.append((0, range(start, stop), bytes(codes), details))
    return reports


def bench_map(n: int, repeat: int) -> dict:
    out = {}
    for fail in (0.0, 0.1):
        reports = _map_reports(n, fail)
        enqueue, total, rows, size = [], [], 0, 0
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as d:
                path = Path(d) / "runs.db"
                with SQLiteRunStore(path) as store:
                    store.start_run("r", "bench", {}, [(0, "work", "work-1", True)])
                    store.flush()
                    size0 = path.stat().st_size + _wal(path)
                    t0 = time.perf_counter()
                    for report in reports:  # one call per engine round, as the engine would
                        store.record_report("r", [report])
                    t1 = time.perf_counter()
                    store.flush()
                    t2 = time.perf_counter()
                    enqueue.append(t1 - t0)
                    total.append(t2 - t0)
                    (task,) = store.task_states("r", failed_limit=0)
                    assert sum(task.counts.values()) == n, task.counts
                    rows = _count_rows(path)
                size = path.stat().st_size + _wal(path) - size0
        out[f"fail_{int(fail * 100)}pct"] = {"children": n, "enqueue_s": _median(enqueue), "total_s": _median(total),
                                             "rows": rows, "bytes": size}
    return out


def _wal(path: Path) -> int:
    wal = Path(str(path) + "-wal")
    return wal.stat().st_size if wal.exists() else 0


def _count_rows(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return sum(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                   for t in ("task_runs", "child_counts", "child_spans"))


# ----- engine --------------------------------------------------------------------------------

ENGINE = """
import json, os, sys, time
sys.path.insert(0, {root!r})
from ferroflow import Flow, task, _core
from ferroflow.engine import runner
N, RECORD, FAIL = {n}, {record}, {fail}

@task
def inc(x):
    if FAIL and x % 10 == 0:
        raise ValueError(x)
    return x + 1

@task
def total(xs):
    return sum(x for x in xs if isinstance(x, int))

with Flow("bench") as flow:
    t = total(inc.map(list(range(N))))

if RECORD:
    from ferroflow.store import SQLiteRunStore
    store = SQLiteRunStore(os.path.join({tmp!r}, "runs.db"))
    RealRun = _core.Run
    run_id = "bench"

    class RecordingRun:
        # The engine's core, with every report also handed to the run store.
        def __init__(self, graph, specs):
            real = self._real = RealRun(graph, specs)
            for name in dir(real):
                if not name.startswith("_") and name != "report":
                    setattr(self, name, getattr(real, name))

        def report(self, reports, now_ms):
            store.record_report(run_id, reports)
            self._real.report([r if len(r) == 3 else r[:3] for r in reports], now_ms)

    original_absorb = runner.FlowRun._absorb

    def absorb(self, unit, result):
        # What the engine would pass: the failure messages of the unit.
        report = original_absorb(self, unit, result)
        if result.details and unit.indices is not None:
            idx = unit.indices
            report = report + ({{idx[j]: (d[0], None, None) for j, d in result.details.items()}},)
        return report

    runner.FlowRun._absorb = absorb
    _core.Run = RecordingRun
    original_execute = runner.FlowRun.execute

    def execute(self):
        frozen = self.frozen
        store.start_run(run_id, self.flow.name, self.parameters,
                        [(i, tk.name, getattr(tk, "slug", None), False) for i, tk in enumerate(frozen.tasks)])
        state = original_execute(self)
        core = self.core
        final = []
        for i in range(len(frozen.tasks)):
            code = core.task_state(i)
            if code == _core.MAPPED:
                final.append((i, range(core.width(i)), core.child_states(i)))
            final.append((i, None, code))
        store.record_report(run_id, final)
        store.end_run(run_id, type(state).__name__, state.message)
        store.flush()
        return state

    runner.FlowRun.execute = execute

t0 = time.perf_counter()
state = flow.run()
elapsed = time.perf_counter() - t0
assert state.result[t].result is not None
out = {{"seconds": elapsed}}
if RECORD:
    mapped = [x for x in store.task_states(run_id, failed_limit=0) if x.counts][0]
    out["counts"] = mapped.counts
    store.close()
print(json.dumps(out))
"""


def bench_engine(n: int, repeat: int) -> dict:
    out = {}
    for fail in (False, True):
        samples = {False: [], True: []}
        counts = None
        for _ in range(repeat):
            for record in (False, True):  # interleaved: the machine is noisy
                with tempfile.TemporaryDirectory() as d:
                    code = ENGINE.format(root=str(ROOT / "python"), n=n, record=record, fail=fail, tmp=d)
                    result = run_measurement(code, {"FERROFLOW_RECORD": "0"})
                    samples[record].append(result["seconds"])
                    counts = result.get("counts", counts)
        off, on = _median(samples[False]), _median(samples[True])
        out["fail_10pct" if fail else "all_succeed"] = {
            "children": n, "without_s": off, "with_s": on, "overhead_pct": 100 * (on - off) / off,
            "samples_without": samples[False], "samples_with": samples[True], "counts": counts}
    return out


# ----- d1 -----------------------------------------------------------------------------------

D1_WRITER = """
import json, sys, time
sys.path.insert(0, {root!r})
from ferroflow import _core
from ferroflow.store import SQLiteRunStore
store = SQLiteRunStore({db!r})
store.start_run({run!r}, "d1", {{}}, [(0, "work", "work-1", True)])
lat = []
for a in range(0, {n}, {batch}):
    store.record_states({run!r}, [(0, i, _core.FAILED, 1, "boom", None) for i in range(a, a + {batch})])
    t0 = time.perf_counter()
    store.flush()
    lat.append(time.perf_counter() - t0)
store.end_run({run!r}, "Failed")
store.close()
print(json.dumps(lat))
"""

D1_READER = """
import json, os, sys, time
sys.path.insert(0, {root!r})
from ferroflow.store import SQLiteRunStore
store = SQLiteRunStore({db!r})
polls, errors = 0, []
while True:
    done = os.path.exists({stop!r})
    try:
        for run in store.list_runs(limit=None):
            store.get_run(run.run_id)
        polls += 1
    except Exception as exc:
        errors.append(str(exc))
    if done:
        break
    time.sleep({pause})
store.close()
print(json.dumps({{"polls": polls, "errors": errors}}))
"""


def bench_d1(writers: int = 8, n: int = 20_000, batch: int = 100, readers: int = 4, pause: float = 0.01) -> dict:
    import sqlite3

    with tempfile.TemporaryDirectory() as d:
        db, stop = os.path.join(d, "runs.db"), os.path.join(d, "stop")
        SQLiteRunStore(db).close()
        root = str(ROOT / "python")
        rs = [subprocess.Popen([sys.executable, "-c", D1_READER.format(root=root, db=db, stop=stop, pause=pause)],
                               stdout=subprocess.PIPE, text=True) for _ in range(readers)]
        t0 = time.perf_counter()
        ws = [subprocess.Popen([sys.executable, "-c", D1_WRITER.format(root=root, db=db, run=f"w{w}", n=n,
                                                                          batch=batch)],
                               stdout=subprocess.PIPE, text=True) for w in range(writers)]
        lat = []
        for p in ws:
            out, _ = p.communicate()
            if p.returncode != 0:
                raise SystemExit("d1 writer failed")
            lat += json.loads(out)
        wall = time.perf_counter() - t0
        Path(stop).touch()
        reads = [json.loads(p.communicate()[0]) for p in rs]
        with sqlite3.connect(db) as conn:
            rows = conn.execute("SELECT COUNT(*) FROM task_runs WHERE map_index >= 0").fetchone()[0]
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0]
    lat.sort()
    return {"writers": writers, "transitions_each": n, "batch": batch, "readers": readers,
            "reader_pause_s": pause, "rows": rows,
            "integrity": ok, "wall_s": wall, "rows_per_s": rows / wall,
            "commit_p50_ms": 1000 * lat[len(lat) // 2], "commit_p99_ms": 1000 * lat[int(len(lat) * 0.99)],
            "commit_max_ms": 1000 * lat[-1], "reader_polls": [r["polls"] for r in reads],
            "reader_errors": sum(len(r["errors"]) for r in reads)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="children of the mapped task")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", default="states,map,engine,d1", help="comma-separated sections")
    args = parser.parse_args(argv)
    sections = set(args.only.split(","))
    results = {}
    if "states" in sections:
        results["states"] = bench_states(args.repeat)
        print(json.dumps({"states": results["states"]}, indent=1), flush=True)
    if "map" in sections:
        results["map"] = bench_map(args.n, args.repeat)
        print(json.dumps({"map": results["map"]}, indent=1), flush=True)
    if "engine" in sections:
        results["engine"] = bench_engine(args.n, args.repeat)
        print(json.dumps({"engine": results["engine"]}, indent=1), flush=True)
    if "d1" in sections:
        results["d1"] = bench_d1()
        print(json.dumps({"d1": results["d1"]}, indent=1), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
