"""Side-by-side: eager flows (``@flow`` functions calling ``@task`` functions) on
ferroflow and on Prefect 3, against the same work as a plain Python loop, in one run.

Two workloads, each timed in a fresh process (so each peak RSS is its own):

* ``sequential``: a flow calling a trivial task (``x + 1``) N times in a ``for`` loop;
  per-call overhead = (flow time - plain loop time) / N.
* ``map``: a flow running ``inc.map(range(N))`` and summing ``.result()`` of the
  returned futures.

Contenders: the plain Python loop (at every N used); ferroflow's eager flows (``from
ferroflow import flow, task``; the same flows as Prefect 3's, in ``EAGER_FLOWS``);
Prefect 3 in its own virtualenv (``make p3venv``; ``--prefect-python``), when present,
else skipped with a note. Prefect 3 spends milliseconds per task run, so it runs at the
smaller ``--prefect-n`` sizes only. Prefect gets a fresh ``PREFECT_HOME`` per
measurement (its temporary local server starts in an untimed warm-up flow run),
analytics and the UI off, and flow-run heartbeats off (their thread is joined in 1 s
steps when a flow run ends, which would add up to a second to every flow run);
everything else, including its run logging, is as installed.

    python benches/eager_flows.py                       # defaults below, 3 repeats
    python benches/eager_flows.py --repeat 5 --prefect-n 1000
    python benches/eager_flows.py --no-prefect --seq-n 100000 --map-n 1000000
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

from harness import MeasurementFailed, run_measurement

#: The flows under test, written once: each tool runs the same code with its own imports.
EAGER_FLOWS = """
        @task
        def inc(x):
            return x + 1
        @flow
        def seq(n):
            acc = 0
            for i in range(n):
                acc += inc(i)
            return acc
        @flow
        def mapped(n):
            return sum(inc.map(range(n)).result())
"""

TASKS = {
    "python loop": """
        def inc(x):
            return x + 1
        def seq(n):
            acc = 0
            for i in range(n):
                acc += inc(i)
            return acc
        def mapped(n):
            return sum([inc(x) for x in range(n)])
        def warm():
            pass
    """,
    "ferroflow eager": """
        from ferroflow import flow, task
""" + EAGER_FLOWS + """
        def warm():
            seq(1)  # loads the engine and the run store before the clock starts
    """,
    "prefect 3": """
        from prefect import flow, task
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings
        no_heartbeats = temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None})
        no_heartbeats.__enter__()  # (kept referenced: collected, it would exit)
""" + EAGER_FLOWS + """
        def warm():
            seq(1)  # starts the temporary local server before the clock starts
    """,
}

RUNNER = """
import json, resource, time
N = {n}
{tasks}
warm()
t0 = time.perf_counter()
total = {workload}(N)
elapsed = time.perf_counter() - t0
assert total == N * (N + 1) // 2, total
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": elapsed, "peak_mib": peak_kib / 1024}}))
"""

PREFECT_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED": "false",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "DO_NOT_TRACK": "1",
}


def measure(contender: str, workload: str, n: int, prefect_python: str) -> dict:
    code = RUNNER.format(n=n, tasks=textwrap.dedent(TASKS[contender]), workload=workload)
    with tempfile.TemporaryDirectory(prefix="eager-bench-") as home:
        if contender == "prefect 3":
            return run_measurement(code, {"PREFECT_HOME": home, **PREFECT_ENV},
                                   unset=("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE"),
                                   python=prefect_python)
        return run_measurement(code, {"FERROFLOW_HOME": home}, unset=("FERROFLOW_API_URL",))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-n", type=int, default=100_000,
                        help="sequential task calls for ferroflow and the loop")
    parser.add_argument("--map-n", type=int, default=1_000_000,
                        help="mapped items for ferroflow and the loop")
    parser.add_argument("--prefect-n", default="1000,10000",
                        help="sizes Prefect 3 runs both workloads at (comma-separated)")
    parser.add_argument("--prefect-python", default=os.environ.get(
        "FERROFLOW_P3VENV", "/work/p3venv") + "/bin/python")
    parser.add_argument("--no-prefect", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--prefect-repeat", type=int, default=None,
                        help="repeats for Prefect 3 (default --repeat; its 10^4 runs take minutes)")
    args = parser.parse_args(argv)
    print("$ python " + shlex.join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]), flush=True)

    prefect_ns = [int(x) for x in args.prefect_n.split(",") if x]
    plan = []  # (workload, contender, n)
    notes = []
    have_prefect = not args.no_prefect and Path(args.prefect_python).exists()
    if not have_prefect and not args.no_prefect:
        notes.append(f"prefect 3: skipped, no {args.prefect_python} (make p3venv)")
    for workload, big in (("seq", args.seq_n), ("mapped", args.map_n)):
        sizes = sorted({big, *(prefect_ns if have_prefect else [])})
        for n in sizes:
            plan.append((workload, "python loop", n))
        plan.append((workload, "ferroflow eager", big))
        if have_prefect:
            plan.extend((workload, "prefect 3", n) for n in prefect_ns)

    runs: dict = {key: [] for key in plan}
    failed: dict = {}
    prefect_repeat = args.repeat if args.prefect_repeat is None else args.prefect_repeat
    for i in range(max(args.repeat, prefect_repeat)):  # contenders in turn within each repeat
        for key in plan:
            if key in failed or i >= (prefect_repeat if key[1] == "prefect 3" else args.repeat):
                continue
            try:
                runs[key].append(measure(key[1], key[0], key[2], args.prefect_python))
            except MeasurementFailed as exc:
                failed[key] = exc.last_line
    loop = {(w, n): statistics.median(r["seconds"] for r in runs[(w, c, n)])
            for (w, c, n) in plan if c == "python loop" and runs[(w, c, n)]}
    names = {"seq": "sequential calls", "mapped": "task.map"}
    print(f"{'workload':<18}{'contender':<18}{'N':>11}{'median s':>11}{'us/call':>10}"
          f"{'overhead us':>13}{'x loop':>10}{'peak MiB':>10}")
    for key in plan:
        workload, contender, n = key
        if key in failed:
            print(f"{names[workload]:<18}{contender:<18}{n:>11,}  failed: {failed[key]}")
            continue
        seconds = statistics.median(r["seconds"] for r in runs[key])
        base = loop.get((workload, n))
        per = seconds / n * 1e6
        over = (seconds - base) / n * 1e6 if base is not None else float("nan")
        ratio = seconds / base if base else float("nan")
        peak = max(r["peak_mib"] for r in runs[key])
        print(f"{names[workload]:<18}{contender:<18}{n:>11,}{seconds:>11.3f}{per:>10.2f}"
              f"{over:>13.2f}{ratio:>10.1f}{peak:>10.0f}")
    for note in notes:
        print(f"note: {note}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
