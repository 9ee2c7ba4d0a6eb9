"""Very large mapped flows on the local executor, each measurement in a fresh
subprocess (so its peak RSS is its own):

* ``map``: a trivial task (``x + 1``) mapped over N items plus a reduce (default
  N = 10^7: the bar is peak RSS under 4 GB);
* ``pipeline``: load -> transform -> save mapped over N items, each load producing a
  1 KiB value, with ``keep_results=True`` (every intermediate value kept for the final
  state) and ``keep_results=False`` (values released once consumed: memory bounded by
  the engine's window, not by N).

    python benches/scale.py                      # map 10^7, pipeline 10^6
    python benches/scale.py --map 1000000 --pipeline 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import textwrap

from harness import TRIVIAL_TASKS, run_measurement

MAP = TRIVIAL_TASKS + """
    with Flow("scale-map") as flow:
        t = total(inc.map(range(N)))
    t0 = time.perf_counter()
    state = flow.run()
    elapsed = time.perf_counter() - t0
    assert state.result[t].result == N * (N + 1) // 2
"""

PIPELINE = """
    from ferroflow import Flow, task
    @task
    def load(i):
        return bytes(1024)           # 1 KiB read from somewhere
    @task
    def transform(blob):
        return blob[:512] + b"x" * 512
    @task
    def save(blob):
        return len(blob)             # written somewhere; only a size comes back
    @task
    def total(sizes):
        return sum(sizes)
    with Flow("scale-pipeline") as flow:
        t = total(save.map(transform.map(load.map(range(N)))))
    t0 = time.perf_counter()
    state = flow.run(keep_results=KEEP)
    elapsed = time.perf_counter() - t0
    assert state.result[t].result == 1024 * N
"""

RUNNER = """
import json, resource, time
N = {n}
KEEP = {keep}
{body}
print(json.dumps({{"seconds": elapsed, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def measure(body: str, n: int, keep: bool, home: str) -> dict:
    code = RUNNER.format(n=n, keep=keep, body=textwrap.dedent(body))
    return run_measurement(code, {"FERROFLOW_HOME": home})


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--map", type=int, default=10_000_000, help="children of the trivial map")
    parser.add_argument("--pipeline", type=int, default=1_000_000, help="items of the pipeline")
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args(argv)
    cases = [
        ("map + reduce", MAP, args.map, True),
        ("pipeline, keep_results=True", PIPELINE, args.pipeline, True),
        ("pipeline, keep_results=False", PIPELINE, args.pipeline, False),
    ]
    print(f"{'flow':<32}{'N':>12}{'median s':>10}{'us/item':>9}{'peak MiB':>10}")
    with tempfile.TemporaryDirectory() as home:
        for name, body, n, keep in cases:
            runs = [measure(body, n, keep, home) for _ in range(args.repeat)]
            seconds = statistics.median(r["seconds"] for r in runs)
            peak = max(r["peak_mib"] for r in runs)
            print(f"{name:<32}{n:>12,}{seconds:>10.2f}{seconds / n * 1e6:>9.2f}{peak:>10.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
