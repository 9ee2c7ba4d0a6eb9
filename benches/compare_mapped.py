"""Side-by-side: a trivial task mapped over N items plus a reduce, on ferroflow's local
executor (recorded in the run store, and with recording off), as a plain Python loop,
and on Dask's threaded scheduler with a hand-written graph (when dask is installed), in
one run.

Each measurement runs in a fresh subprocess so its peak RSS is its own. Prints, per
contender, the median wall time of ``--repeat`` runs, the per-item overhead over the
plain loop in microseconds, the ratio to the loop, and the peak RSS.

    python benches/compare_mapped.py               # N = 1,000,000, 3 repeats
    python benches/compare_mapped.py -n 100000 --repeat 5 --no-dask
    python benches/compare_mapped.py --no-dask --server sqlite,postgresql   # also through a local server

With ``--server``, a ferroflow server (``ferroflow server start``, on 127.0.0.1) runs for
each database named, and the same flow records through it (``FERROFLOW_API_URL``): the
time includes the end of the run waiting for the server to take every record. The
contenders run in turn within each repeat, so that a noisy moment does not fall on one.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import textwrap
from pathlib import Path

from harness import TRIVIAL_TASKS, run_measurement

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.databases import database
from tests.support.servers import Server

FERROFLOW = TRIVIAL_TASKS + """
    with Flow("bench") as flow:
        t = total(inc.map(list(range(N))))
    t0 = time.perf_counter()
    state = flow.run(RUN_ARGS)
    elapsed = time.perf_counter() - t0
    assert state.is_successful(), state
    assert state.result[t].result == N * (N + 1) // 2
"""

CONTENDERS = {
    "python loop": """
        def inc(x):
            return x + 1
        t0 = time.perf_counter()
        total = sum([inc(x) for x in range(N)])
        elapsed = time.perf_counter() - t0
        assert total == N * (N + 1) // 2
    """,
    "ferroflow local": FERROFLOW.replace("RUN_ARGS", ""),
    "ferroflow, not recorded": FERROFLOW.replace("RUN_ARGS", "record=False"),
    # (a contender per server, added by --server; the client loaded before the clock starts)
    "ferroflow via server": FERROFLOW.replace("RUN_ARGS", "").replace(
        "    with Flow(", "    import ferroflow.store.remote, ferroflow.client.http\n    with Flow(", 1),
    "dask graph (threads)": """
        from dask.threaded import get
        def inc(x):
            return x + 1
        t0 = time.perf_counter()
        graph = {("inc", i): (inc, i) for i in range(N)}
        graph["total"] = (sum, [("inc", i) for i in range(N)])
        total = get(graph, "total")
        elapsed = time.perf_counter() - t0
        assert total == N * (N + 1) // 2
    """,
}

RUNNER = """
import json, resource, sys, time
N = {n}
{body}
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": elapsed, "peak_mib": peak_kib / 1024}}))
"""


def measure(body: str, n: int, home: str, env: dict | None = None) -> dict:
    code = RUNNER.format(n=n, body=textwrap.dedent(body))
    # the run store of this benchmark only (and no server unless one is given)
    return run_measurement(code, {"FERROFLOW_HOME": home, **(env or {})}, unset=() if env else ("FERROFLOW_API_URL",))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="number of mapped items")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask contender")
    parser.add_argument("--dask-max", type=int, default=100_000,
                        help="largest N to run on Dask (tens of microseconds and KiBs per task)")
    parser.add_argument("--server", default="", metavar="KINDS",
                        help="also record through a local ferroflow server on these databases (sqlite,postgresql)")
    args = parser.parse_args(argv)

    try:
        import dask  # noqa: F401 - only whether it is installed
        have_dask = not args.no_dask
    except ImportError:
        have_dask = False

    with contextlib.ExitStack() as stack:
        contenders = []  # (name, body, n, env)
        for name, body in CONTENDERS.items():
            n = args.n
            if name.startswith("dask"):
                if not have_dask:
                    continue
                n = min(n, args.dask_max)
            if name == "ferroflow via server":
                for kind in filter(None, args.server.split(",")):
                    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
                    url = stack.enter_context(database(kind, tmp))
                    server = Server(url, tmp / "server.log").start()
                    stack.callback(server.stop)
                    contenders.append((f"ferroflow via server ({kind})", body, n, {"FERROFLOW_API_URL": server.url}))
                continue
            contenders.append((name, body, n, None))
        homes = {name: stack.enter_context(tempfile.TemporaryDirectory()) for name, *_ in contenders}
        runs: dict = {name: [] for name, *_ in contenders}
        for _ in range(args.repeat):
            for name, body, n, env in contenders:
                runs[name].append(measure(body, n, homes[name], env))
    rows = []
    for name, _, n, _ in contenders:
        seconds = statistics.median(r["seconds"] for r in runs[name])
        rows.append((name, n, seconds, max(r["peak_mib"] for r in runs[name])))

    loop_per_item = {n: s / n for name, n, s, _ in rows if name == "python loop"}
    base = loop_per_item.get(args.n)
    print(f"{'contender':<32}{'N':>11}{'median s':>11}{'us/item':>10}{'overhead us':>13}{'x loop':>9}{'peak MiB':>10}")
    for name, n, seconds, peak in rows:
        per = seconds / n * 1e6
        over = per - base * 1e6 if base else float("nan")
        ratio = (seconds / n) / base if base else float("nan")
        print(f"{name:<32}{n:>11,}{seconds:>11.3f}{per:>10.2f}{over:>13.2f}{ratio:>9.1f}{peak:>10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
