"""Side-by-side: a trivial task mapped over N items plus a reduce, on ferroflow's
``dask`` executor (the ferroflow-dask plugin), on Dask itself (``client.map`` and
``client.submit(sum, ...)``) on the same kind of cluster, on ferroflow's ``local``,
``threads`` and ``processes`` executors (``--workers`` processes) and as a plain Python
loop, at N = 10^4, 10^5 and 10^6 (add 10000000 to ``--sizes`` for 10^7), in one run.

Both Dask contenders use a fresh ``distributed.LocalCluster`` per measurement (worker
processes, ``--workers`` of them with one thread each), started in a helper process
before the clock starts, so the peak RSS printed is the flow process's alone (client
side; the scheduler and the workers are elsewhere). The clock covers connecting a
client, running and getting the final sum. Each measurement runs in a fresh
subprocess. ferroflow runs are not recorded in the run store (``record=False``): the
figures are the executors'.

Prints, per N and contender, the median of ``--repeat`` runs (fewer when a run takes
longer than ``--slow`` seconds; a run past ``--budget`` seconds is stopped, and a
failed one is reported with its last error line), microseconds per item, the overhead
per item over a plain Python loop, the ratio to ferroflow ``local`` and the peak RSS.
Then whether 10^6 children on the dask executor stayed under the 60 s bar.

    python benches/compare_dask.py                       # 10^4, 10^5, 10^6; 3 repeats
    python benches/compare_dask.py --sizes 10000,100000 --repeat 5
    python benches/compare_dask.py --contenders "ferroflow dask,ferroflow local"
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap

from harness import TRIVIAL_TASKS, MeasurementFailed, run_measurement

FERROFLOW = TRIVIAL_TASKS + """
    with Flow("bench") as flow:
        t = total(inc.map(list(range(N))))
    EXECUTOR_SETUP
    t0 = time.perf_counter()
    state = flow.run(executor=executor, record=False)
    elapsed = time.perf_counter() - t0
    assert state.is_successful(), state
    assert state.result[t].result == N * (N + 1) // 2
"""

CONTENDERS = {
    "python loop": ("""
        def inc(x):
            return x + 1
        t0 = time.perf_counter()
        total = sum([inc(x) for x in range(N)])
        elapsed = time.perf_counter() - t0
        assert total == N * (N + 1) // 2
    """, False),
    # Executors are built before the clock starts (loading plugins is not the executor's cost).
    "ferroflow local": (FERROFLOW.replace("EXECUTOR_SETUP", "from ferroflow.plugins import get_executor\n"
                                                            '    executor = get_executor("local")'), False),
    "ferroflow threads": (FERROFLOW.replace("EXECUTOR_SETUP", "from ferroflow.plugins import get_executor\n"
                                                              '    executor = get_executor("threads")'), False),
    "ferroflow processes": (FERROFLOW.replace("EXECUTOR_SETUP",
                                              "from ferroflow.executors import ProcessesExecutor\n"
                                              "    executor = ProcessesExecutor(max_workers=WORKERS)"),
                            False),
    "ferroflow dask": (FERROFLOW.replace("EXECUTOR_SETUP", "from ferroflow_dask import DaskExecutor\n"
                                                           "    executor = DaskExecutor(address=ADDRESS)"), True),
    "dask client.map": ("""
        from distributed import Client
        def inc(x):
            return x + 1
        t0 = time.perf_counter()
        with Client(ADDRESS, set_as_default=False) as client:
            futures = client.map(inc, range(N))
            total = client.submit(sum, futures).result()
            del futures
        elapsed = time.perf_counter() - t0
        assert total == N * (N + 1) // 2
    """, True),
}

RUNNER = """
import json, resource, sys, time
N, ADDRESS, WORKERS = {n}, {address!r}, {workers}
{body}
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": elapsed, "peak_mib": peak_kib / 1024}}))
"""

# A LocalCluster in a process of its own, until its standard input closes. (Run with
# -c: spawned workers have no script to import again.)
CLUSTER = """
import sys, time
from distributed import LocalCluster
t0 = time.perf_counter()
cluster = LocalCluster(n_workers={workers}, threads_per_worker=1, processes=True, host="127.0.0.1",
                       dashboard_address=":0")
print(cluster.scheduler_address, time.perf_counter() - t0, flush=True)
sys.stdin.read()
cluster.close()
"""


class Cluster:
    """A fresh LocalCluster in a helper process, for one measurement."""

    def __init__(self, workers: int):
        self.proc = subprocess.Popen([sys.executable, "-c", CLUSTER.format(workers=workers)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline().split()
        if len(line) != 2:
            self.close()
            raise SystemExit("could not start a LocalCluster (is ferroflow-dask / dask[distributed] installed?)")
        self.address, self.started = line[0], float(line[1])

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()


def measure(body: str, n: int, home: str, address: str, budget: float, workers: int) -> dict:
    code = RUNNER.format(n=n, address=address, workers=workers, body=textwrap.dedent(body))
    try:
        return run_measurement(code, {"FERROFLOW_HOME": home}, timeout=budget)
    except subprocess.TimeoutExpired:
        return {"seconds": float("inf"), "peak_mib": float("nan"), "failed": f"stopped after {budget:g} s"}
    except MeasurementFailed as exc:  # reported, and the benchmark goes on
        return {"seconds": float("nan"), "peak_mib": float("nan"), "failed": f"exit {exc.returncode}: {exc.last_line}"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (1 thread each)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS))
    parser.add_argument("--slow", type=float, default=60.0,
                        help="after a run longer than this (s), do not repeat that contender at that N")
    parser.add_argument("--budget", type=float, default=300.0, help="stop a run after this many seconds")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(contenders) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contender(s) {sorted(unknown)}; known: {list(CONTENDERS)}")

    print(f"{'N':>11}  {'contender':<17}{'runs':>5}{'median s':>11}{'us/item':>10}{'overhead':>10}"
          f"{'x local':>9}{'peak MiB':>10}")
    starts: list = []
    bar = None
    with tempfile.TemporaryDirectory() as home:
        for n in sizes:
            seconds_of: dict = {}
            for name in ["python loop", *[c for c in contenders if c != "python loop"]]:
                body, needs_cluster = CONTENDERS[name]
                runs = []
                for _ in range(args.repeat):
                    cluster = Cluster(args.workers) if needs_cluster else None
                    try:
                        if cluster is not None:
                            starts.append(cluster.started)
                        runs.append(measure(body, n, home, cluster.address if cluster else "", args.budget,
                                            args.workers))
                    finally:
                        if cluster is not None:
                            cluster.close()
                    if "failed" in runs[-1] or runs[-1]["seconds"] > args.slow:
                        break
                failed = runs[-1].get("failed")
                seconds = float("inf") if failed else statistics.median(r["seconds"] for r in runs)
                seconds_of[name] = seconds
                if name == "ferroflow dask" and n == 1_000_000:
                    bar = seconds
                if name not in contenders:
                    continue
                loop = seconds_of["python loop"]
                local = seconds_of.get("ferroflow local")
                peak = max(r["peak_mib"] for r in runs)
                if failed:
                    print(f"{n:>11,}  {name:<17}{len(runs):>5}  failed: {failed}", flush=True)
                    continue
                ratio = f"{seconds / local:>9.2f}" if local else f"{'-':>9}"
                print(f"{n:>11,}  {name:<17}{len(runs):>5}{seconds:>11.3f}{seconds / n * 1e6:>10.2f}"
                      f"{(seconds - loop) / n * 1e6:>10.2f}{ratio}{peak:>10.0f}", flush=True)
    if starts:
        print(f"\nLocalCluster start-up (not timed above): median {statistics.median(starts):.2f} s "
              f"({args.workers} worker processes)")
    if bar is not None:
        verdict = "under" if bar < 60 else "OVER"
        print(f"10^6 children on the dask executor: {bar:.1f} s, {verdict} the 60 s bar")
    return 0


if __name__ == "__main__":
    sys.exit(main())
