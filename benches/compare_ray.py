"""Side-by-side on Ray: the trivial mapped flow (``x + 1`` over N items plus a reduce)
at 10^4, 10^5 and 10^6 items, in one run:

* ``python loop``: the same work as a plain loop (the baseline of "overhead per item");
* ``ferroflow local``: ferroflow's default executor, in the flow process;
* ``ferroflow ray``: the same flow on the ``ray`` executor (``ferroflow-ray``): the
  engine packs the children into work units (about 0.1 s each), each unit is one Ray
  task, results come back to the flow process, and the reduce is one more Ray task;
* ``plain ray batched``: hand-written Ray code doing the same: the items cut into
  batches of ``--batch`` (default 8,192, the engine's largest unit), one
  ``@ray.remote`` task per batch returning the batch's results, and one remote reduce
  task that receives every batch's results (as ferroflow's reduce does);
* ``plain ray per item`` (only up to ``--per-item-max``, default 10^4): one Ray task
  per item, to show what batching saves.

Each measurement runs in a fresh subprocess, so each peak RSS (``ru_maxrss``) is that
of its driver process alone (the flow process; not Ray's raylet, GCS and worker
processes). For the Ray contenders the local Ray instance (``--cpus`` CPUs, a 256 MiB
object store) is started before the clock starts and stopped after it stops; its
start-up is printed in its own column. Every contender first does an untimed run of
``--warm`` items in the same process (Ray's worker processes import what the
contender needs, remote functions are exported), then the timed run. Runs are not
recorded in ferroflow's run store.
Prints the median of ``--repeat`` runs, microseconds per item, the overhead per item
over the plain loop, and the peak RSS.

    python benches/compare_ray.py                   # 10^4, 10^5, 10^6; 3 repeats
    python benches/compare_ray.py --sizes 10000,100000 --repeat 5

Ray is told to give out 127.0.0.1 addresses (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``)
and not to send usage statistics (``RAY_USAGE_STATS_ENABLED=0``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import textwrap

from harness import run_measurement

START_RAY = """
    import ray
    t_start = time.perf_counter()
    ray.init(num_cpus=CPUS, object_store_memory=256 << 20, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - t_start
"""

FERROFLOW = """
    from ferroflow import Flow, task
    @task
    def inc(x):
        return x + 1
    @task
    def total(xs):
        return len(xs), sum(xs)
    def run(n):
        with Flow("bench") as flow:
            t = total(inc.map(list(range(n))))
        executor = EXECUTOR
        t0 = time.perf_counter()
        state = flow.run(executor=executor, record=False)
        elapsed = time.perf_counter() - t0
        assert state.is_successful(), state
        assert state.result[t].result == (n, n * (n + 1) // 2)
        return elapsed
"""

# Each contender defines run(n) -> seconds (what it times: from the items' list to the
# reduced result).
CONTENDERS = {
    "python loop": """
        def inc(x):
            return x + 1
        def run(n):
            t0 = time.perf_counter()
            results = [inc(x) for x in range(n)]
            total = (len(results), sum(results))
            elapsed = time.perf_counter() - t0
            assert total == (n, n * (n + 1) // 2)
            return elapsed
    """,
    "ferroflow local": FERROFLOW.replace("EXECUTOR", '"local"'),
    "ferroflow ray": START_RAY + """
    from ferroflow_ray import RayExecutor
    """ + FERROFLOW.replace("EXECUTOR", "RayExecutor()"),
    "plain ray batched": START_RAY + """
    @ray.remote
    def inc_batch(xs):
        return [x + 1 for x in xs]
    @ray.remote
    def total(*batches):
        n = s = 0
        for batch in batches:
            n += len(batch)
            s += sum(batch)
        return n, s
    def run(n):
        t0 = time.perf_counter()
        items = list(range(n))
        refs = [inc_batch.remote(items[i:i + BATCH]) for i in range(0, n, BATCH)]
        result = ray.get(total.remote(*refs))
        elapsed = time.perf_counter() - t0
        assert result == (n, n * (n + 1) // 2)
        return elapsed
    """,
    "plain ray per item": START_RAY + """
    @ray.remote
    def inc(x):
        return x + 1
    @ray.remote
    def total(*xs):
        return len(xs), sum(xs)
    def run(n):
        t0 = time.perf_counter()
        result = ray.get(total.remote(*[inc.remote(x) for x in range(n)]))
        elapsed = time.perf_counter() - t0
        assert result == (n, n * (n + 1) // 2)
        return elapsed
    """,
}

RUNNER = """
import json, resource, sys, time
N, CPUS, BATCH, WARM = {n}, {cpus}, {batch}, {warm}
startup = None
{body}
if WARM:
    run(WARM)  # not timed: Ray's workers import what the contender needs, functions are exported
elapsed = run(N)
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": elapsed, "peak_mib": peak_kib / 1024, "startup": startup}}))
if "ray" in sys.modules and sys.modules["ray"].is_initialized():
    sys.modules["ray"].shutdown()
"""


def measure(body: str, n: int, cpus: int, batch: int, warm: int, home: str) -> dict:
    code = RUNNER.format(n=n, cpus=cpus, batch=batch, warm=warm, body=textwrap.dedent(body))
    env = {"FERROFLOW_HOME": home, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}
    return run_measurement(code, env, unset=["RAY_ADDRESS"])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated item counts")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray instance")
    parser.add_argument("--batch", type=int, default=8192, help="items per Ray task for plain ray batched")
    parser.add_argument("--per-item-max", type=int, default=10_000,
                        help="largest N for plain ray per item (one Ray task per item)")
    parser.add_argument("--warm", type=int, default=1000,
                        help="items of an untimed run first, in the same process (0: none)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    args = parser.parse_args(argv)
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(contenders) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders {sorted(unknown)}; known: {', '.join(CONTENDERS)}")

    print(f"{'contender':<22}{'N':>11}{'median s':>11}{'us/item':>10}{'overhead us/item':>18}"
          f"{'peak MiB':>10}{'ray start s':>13}")
    with tempfile.TemporaryDirectory() as home:
        for n in (int(s) for s in args.sizes.split(",")):
            loop = None
            for name in contenders:
                if name == "plain ray per item" and n > args.per_item_max:
                    continue
                runs = [measure(CONTENDERS[name], n, args.cpus, args.batch, args.warm, home)
                        for _ in range(args.repeat)]
                seconds = statistics.median(r["seconds"] for r in runs)
                if name == "python loop":
                    loop = seconds
                overhead = f"{(seconds - loop) / n * 1e6:>18.2f}" if loop is not None else f"{'-':>18}"
                peak = max(r["peak_mib"] for r in runs)
                starts = [r["startup"] for r in runs if r["startup"] is not None]
                start = f"{statistics.median(starts):>13.2f}" if starts else f"{'-':>13}"
                print(f"{name:<22}{n:>11,}{seconds:>11.3f}{seconds / n * 1e6:>10.2f}{overhead}{peak:>10.0f}{start}",
                      flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
