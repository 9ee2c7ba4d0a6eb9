"""What one task run that kills its worker process costs a mapped flow on the
``processes`` executor: the same map with and without a poison item, side by side.

    .venv/bin/python benches/poison_item.py -n 10000 --repeat 3

Without the crash isolation of ``processes`` (allowed_crashes=0), the poison item's
whole work unit fails with it; with it (the default), only the poison item fails.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from ferroflow import Flow, task, unmapped
from ferroflow.executors import ProcessesExecutor


@task
def work(x, poison):
    if x == poison:
        os._exit(1)
    return x * 2


def run(n: int, poison: int, allowed_crashes: int) -> tuple:
    with Flow("poison") as flow:
        m = work.map(list(range(n)), poison=unmapped(poison))
    executor = ProcessesExecutor(max_workers=2, allowed_crashes=allowed_crashes)
    started = time.perf_counter()
    state = flow.run(executor=executor, record=False)
    elapsed = time.perf_counter() - started
    failed = sum(1 for child in state.result[m].map_states if not child.is_successful())
    return elapsed, failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cases = [("no poison item", -1, 3), ("poison item, allowed_crashes=3", args.n * 2 // 3, 3),
             ("poison item, allowed_crashes=0", args.n * 2 // 3, 0)]
    print(f"{args.n:,} mapped children on processes(max_workers=2), median of {args.repeat}")
    print(f"{'case':<34} {'seconds':>8} {'children failed':>16}")
    for name, poison, allowed in cases:
        runs = [run(args.n, poison, allowed) for _ in range(args.repeat)]
        print(f"{name:<34} {statistics.median(r[0] for r in runs):>8.3f} {runs[0][1]:>16,}")


if __name__ == "__main__":
    main()
