"""Overhead per eager task call with checkpointing on (the default) and off
(``persist_result=False``), over a plain Python loop calling the task's function:
CPU time (``time.process_time``, which a loaded machine disturbs less than wall
time), the least of several rounds.

    python benches/eager_checkpoints.py [CALLS] [ROUNDS]
"""

import sys
import time

from ferroflow import flow, task


@task
def inc(x):
    return x + 1


def plain(n):
    t = 0
    for _ in range(n):
        t = inc.run(t)
    return t


def body(n):
    t = 0
    for _ in range(n):
        t = inc(t)
    return t


def main() -> None:
    on = flow(name="seq")(body)
    off = flow(name="seq", persist_result=False)(body)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    on(10)
    off(10)
    best = {"plain": 1e9, "on": 1e9, "off": 1e9}
    for _ in range(rounds):
        for name, fn in (("plain", plain), ("on", on), ("off", off)):
            started = time.process_time()
            fn(n)
            best[name] = min(best[name], time.process_time() - started)
    print(f"n={n}: per call, least of {rounds} rounds (CPU time): plain loop {best['plain'] / n * 1e6:.2f} us; "
          f"overhead with checkpointing on {(best['on'] - best['plain']) / n * 1e6:.2f} us, "
          f"off {(best['off'] - best['plain']) / n * 1e6:.2f} us")


if __name__ == "__main__":
    main()
