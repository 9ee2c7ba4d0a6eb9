"""Side-by-side: the same flows on the ``local``, ``threads`` and ``processes``
executors, in one run.

Workloads (each a mapped task plus a reduce):

* ``trivial``: ``x + 1`` over 10^4, 10^5 and 10^6 items — the executor's own cost per
  task run (for ``processes``: pickling arguments and results across a pipe);
* ``cpu``: a pure-Python loop of about 1.3 ms per item — what a GIL-free pool buys;
* ``io``: ``time.sleep(0.01)`` per item — what waiting in threads buys;
* ``pipeline``: ``inc`` mapped, then ``double`` mapped over it child by child, then the
  reduce (mapped -> mapped -> reduce) over 10^5 items;
* ``layered``: a 100 x 100 layered DAG of non-mapped tasks, each depending on two
  tasks of the layer before (N is the number of tasks).

Any registered executor may be named in ``--executors`` (``dask`` and ``ray`` once
their plugins are installed; each is then started with its defaults, a local cluster).

Each measurement runs in a fresh subprocess (so its peak RSS is its own; for
``processes`` that is the flow process, not its workers) and times ``flow.run()``
alone, worker start-up included. Runs are not recorded in the run store, so the figures
are the executors'. Prints the median of ``--repeat`` runs per workload and executor,
microseconds per item, and the ratio to ``local``.

    python benches/compare_executors.py                  # everything, 3 repeats
    python benches/compare_executors.py --repeat 5 --workloads cpu,io
    python benches/compare_executors.py --sizes 10000,100000 --workers 4
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile

from harness import MeasurementFailed, run_measurement

RUNNER = """
import json, resource, sys, time
from ferroflow import Flow, task

WORKLOAD, N, EXECUTOR, WORKERS = {workload!r}, {n}, {executor!r}, {workers!r}

@task
def inc(x):
    return x + 1

@task
def burn(x):
    total = 0
    for i in range(40_000):  # about 1.3 ms of pure Python (benches/README.md machine)
        total += (i * x) % 7
    return total

@task
def wait(x):
    time.sleep(0.01)
    return x

@task
def reduce(xs):
    return len(xs), sum(xs)

@task
def double(x):
    return 2 * x

@task
def join(a, b):
    return a + b

if WORKLOAD == "layered":
    width = 100
    with Flow("bench") as flow:
        layer = [inc(i) for i in range(width)]
        for _ in range(N // width - 1):
            layer = [join(layer[i], layer[(i + 1) % width]) for i in range(width)]
        t = reduce(layer)
elif WORKLOAD == "pipeline":
    with Flow("bench") as flow:
        t = reduce(double.map(inc.map(list(range(N)))))
else:
    body = {{"trivial": inc, "cpu": burn, "io": wait}}[WORKLOAD]
    with Flow("bench") as flow:
        t = reduce(body.map(list(range(N))))

from ferroflow.plugins import get_executor
# Built before timing, so that loading the plugins is not counted against `local`.
executor = get_executor(EXECUTOR, **({{"max_workers": WORKERS}} if WORKERS and EXECUTOR != "local" else {{}}))
try:
    slots = executor.slots()
except RuntimeError:  # dask, ray: known once started (their local cluster starts inside the timing)
    slots = "-"
t0 = time.perf_counter()
state = flow.run(executor=executor, record=False)
elapsed = time.perf_counter() - t0
assert state.is_successful(), state
assert state.result[t].result[0] == (100 if WORKLOAD == "layered" else N)
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": elapsed, "peak_mib": peak_kib / 1024, "slots": slots}}))
"""

SIZES = {"trivial": (10_000, 100_000, 1_000_000), "cpu": (2_000,), "io": (400,), "pipeline": (100_000,),
         "layered": (10_000,)}
EXECUTORS = ("local", "threads", "processes")


def measure(workload: str, n: int, executor: str, workers: int, home: str) -> dict:
    code = RUNNER.format(workload=workload, n=n, executor=executor, workers=workers)
    try:
        return run_measurement(code, {"FERROFLOW_HOME": home})
    except MeasurementFailed as exc:
        raise SystemExit(f"benchmark {workload} N={n} on {executor} failed:\n{exc.stderr}") from None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workloads", default="trivial,cpu,io,pipeline,layered",
                        help="comma-separated: trivial, cpu, io, pipeline, layered")
    parser.add_argument("--sizes", default="", help="override the trivial workload's sizes (comma-separated)")
    parser.add_argument("--executors", default=",".join(EXECUTORS))
    parser.add_argument("--workers", type=int, default=0,
                        help="max_workers for threads and processes (default: each executor's own)")
    args = parser.parse_args(argv)
    sizes = dict(SIZES)
    if args.sizes:
        sizes["trivial"] = tuple(int(s) for s in args.sizes.split(","))
    executors = [e for e in args.executors.split(",") if e]

    print(f"{'workload':<10}{'N':>11}  {'executor':<11}{'slots':>6}{'median s':>11}{'us/item':>10}"
          f"{'x local':>9}{'peak MiB':>10}")
    with tempfile.TemporaryDirectory() as home:
        for workload in args.workloads.split(","):
            for n in sizes[workload]:
                local = None
                for executor in executors:
                    runs = [measure(workload, n, executor, args.workers, home) for _ in range(args.repeat)]
                    seconds = statistics.median(r["seconds"] for r in runs)
                    if executor == "local":
                        local = seconds
                    ratio = f"{seconds / local:>9.2f}" if local else f"{'-':>9}"
                    peak = max(r["peak_mib"] for r in runs)
                    print(f"{workload:<10}{n:>11,}  {executor:<11}{runs[0]['slots']:>6}{seconds:>11.3f}"
                          f"{seconds / n * 1e6:>10.2f}{ratio}{peak:>10.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
