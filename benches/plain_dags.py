"""Plain (non-mapped) DAGs side by side, in one run: ferroflow (recorded in the run
store, as by default, and not recorded), Dask's synchronous scheduler on a
hand-written graph, and a plain Python loop. Each contender runs in a fresh process;
each figure is the median of ``--repeat`` timed runs after one warm-up run in that
process. The clock covers building the graph *and* running it.

Workloads (the bars of issue 9 in brackets, ferroflow recorded):

* ``grid``: 100 x 100 tasks; each task of a layer takes three tasks of the layer
  before (its column and the two beside it): 10^4 tasks (<= 50 ms).
* ``chain``: 1,000 tasks, each taking the one before (<= 5 ms).
* ``retry``: one task failing twice, then succeeding (retry delay 0) (<= 0.5 ms). A
  sample is 20 such flow runs back to back, per run: a single sub-millisecond run
  right after ``gc.collect()`` mostly measures refilling the CPU caches that the
  collection's walk over every live object evicted (on this 2-core machine, 0.45 ms
  of a 0.75 ms run; the same happens after reading 64 MiB of unrelated memory).
* ``build``: only building the grid's flow, per task (<= 2 us).

Then ``import ferroflow`` in a fresh interpreter (<= 100 ms), the median of
``--repeat`` imports.

    .venv/bin/python benches/plain_dags.py                 # every workload, 7 repeats
    .venv/bin/python benches/plain_dags.py --workloads grid --repeat 11
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

from harness import run_measurement

TIMER = """
    import gc, json, statistics, time
    def timed(fn, repeat, runs=1):
        fn()  # warm-up
        times = []
        for _ in range(repeat):
            gc.collect()
            t0 = time.perf_counter()
            for _ in range(runs):
                fn()
            times.append((time.perf_counter() - t0) / runs)
        return times
"""

FERROFLOW_WORK = """
    from ferroflow import Flow, task

    @task
    def first(i):
        return i

    @task
    def join(a, b, c):
        return a + b + c

    @task
    def step(x):
        return x + 1

    def build_grid():
        with Flow("grid") as flow:
            layer = [first(i) for i in range(WIDTH)]
            for _ in range(DEPTH - 1):
                layer = [join(layer[max(i - 1, 0)], layer[i], layer[min(i + 1, WIDTH - 1)]) for i in range(WIDTH)]
        return flow

    def grid():
        state = build_grid().run(record=RECORD)
        assert state.is_successful(), state

    def chain():
        with Flow("chain") as flow:
            x = step(0)
            for _ in range(CHAIN - 1):
                x = step(x)
        state = flow.run(record=RECORD)
        assert state.is_successful(), state
        assert state.result[x].result == CHAIN

    calls = [0]

    @task(max_retries=2, retry_delay=0)
    def flaky():
        calls[0] += 1
        if calls[0] % 3:
            raise ValueError("not yet")
        return calls[0]

    def retry():
        with Flow("retry") as flow:
            flaky()
        state = flow.run(record=RECORD)
        assert state.is_successful(), state

    def build():
        build_grid()
"""

#: The work itself, as plain functions (Dask's graph and the loop call them).
PLAIN_FUNCTIONS = """
    def first(i):
        return i

    def join(a, b, c):
        return a + b + c

    def step(x):
        return x + 1
"""

DASK_WORK = PLAIN_FUNCTIONS + """
    from dask.local import get_sync

    def build():
        graph = {}
        for i in range(WIDTH):
            graph[("t", 0, i)] = (first, i)
        for d in range(1, DEPTH):
            for i in range(WIDTH):
                graph[("t", d, i)] = (join, ("t", d - 1, max(i - 1, 0)), ("t", d - 1, i),
                                      ("t", d - 1, min(i + 1, WIDTH - 1)))
        return graph

    def grid():
        get_sync(build(), [("t", DEPTH - 1, i) for i in range(WIDTH)])

    def chain():
        graph = {("s", 0): (step, 0)}
        for i in range(1, CHAIN):
            graph[("s", i)] = (step, ("s", i - 1))
        assert get_sync(graph, ("s", CHAIN - 1)) == CHAIN

    retry = None
"""

LOOP_WORK = PLAIN_FUNCTIONS + """
    def grid():
        layer = [first(i) for i in range(WIDTH)]
        for _ in range(DEPTH - 1):
            layer = [join(layer[max(i - 1, 0)], layer[i], layer[min(i + 1, WIDTH - 1)]) for i in range(WIDTH)]

    def chain():
        x = step(0)
        for _ in range(CHAIN - 1):
            x = step(x)
        assert x == CHAIN

    calls = [0]

    def retry():
        for _ in range(3):
            try:
                calls[0] += 1
                if calls[0] % 3:
                    raise ValueError("not yet")
                return
            except ValueError:
                pass

    build = None
"""

CONTENDERS = {
    "ferroflow (recorded)": (FERROFLOW_WORK.replace("RECORD", "True")),
    "ferroflow (record=False)": (FERROFLOW_WORK.replace("RECORD", "False")),
    "dask get_sync": DASK_WORK,
    "python loop": LOOP_WORK,
}

BARS = {"grid": 0.050, "chain": 0.005, "retry": 0.0005, "build": 2e-6}
#: Workloads timed as back-to-back runs, per run (see the module docstring).
RUNS_PER_SAMPLE = {"retry": 20}


def measure(contender: str, workloads: list, repeat: int, home: str) -> dict:
    code = textwrap.dedent(TIMER) + textwrap.dedent(CONTENDERS[contender]) + textwrap.dedent(f"""
        WIDTH, DEPTH, CHAIN = 100, 100, 1000
        RUNS_PER_SAMPLE = {RUNS_PER_SAMPLE!r}
        out = {{}}
        for name in {workloads!r}:
            fn = globals()[name]
            if fn is not None:
                out[name] = statistics.median(timed(fn, {repeat}, RUNS_PER_SAMPLE.get(name, 1)))
        print(json.dumps(out))
    """)
    return run_measurement(code, env={"FERROFLOW_HOME": home})


def import_time(repeat: int) -> float:
    times = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import ferroflow"],
                             capture_output=True, text=True, check=True)
        last = [line for line in out.stderr.splitlines() if line.rstrip().endswith("| ferroflow")][-1]
        times.append(int(last.split("|")[1]) / 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--workloads", default="grid,chain,retry,build")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    args = parser.parse_args()
    workloads = args.workloads.split(",")
    results = {}
    with tempfile.TemporaryDirectory() as home:
        for contender in args.contenders.split(","):
            results[contender] = measure(contender, workloads, args.repeat, home)
    print(f"median of {args.repeat} runs, each after a warm-up, build + run")
    print(f"{'workload':<8} {'contender':<26} {'median':>10} {'x loop':>8} {'bar':>10}")
    for name in workloads:
        loop = results.get("python loop", {}).get(name)
        for contender, out in results.items():
            if name not in out:
                continue
            value = out[name] / (10_000 if name == "build" else 1)
            unit = "us/task" if name == "build" else "ms"
            shown = value * (1e6 if name == "build" else 1e3)
            ratio = f"{out[name] / loop:.1f}" if loop else "-"
            bar = BARS[name] * (1e6 if name == "build" else 1e3) if contender.startswith("ferroflow (rec") else None
            print(f"{name:<8} {contender:<26} {shown:>8.3f} {unit:<3} {ratio:>6} "
                  f"{'' if bar is None else f'<= {bar:g}':>10}")
    print(f"import ferroflow: {import_time(args.repeat) * 1e3:.1f} ms (bar <= 100 ms)")
    print(json.dumps(results), file=sys.stderr if os.environ.get("QUIET") else sys.stdout)


if __name__ == "__main__":
    main()
