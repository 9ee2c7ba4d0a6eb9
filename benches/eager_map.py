"""Side by side: ``task.map`` in an eager flow (``@flow``) on ferroflow, the same work as
a plain Python list comprehension, and Prefect 3 (when ``/work/p3venv`` or
``--prefect-python`` has it) at small sizes, each timed in a fresh process.

The flow: ``sum(inc.map(range(n)).result())`` with ``inc(x) = x + 1``. The figure is
the wall time of the flow call (ferroflow: run recorded in a temporary run store,
default ``threads`` executor; Prefect 3: its temporary local server started in an
untimed warm-up run).

    python benches/eager_map.py                     # n = 10^6 (ferroflow, loop); Prefect 3 at 10^3, 10^4
    python benches/eager_map.py --n 100000 --prefect-n 1000 --repeat 5
    python benches/eager_map.py --no-prefect

Self-contained (``benches/eager_flows.py`` may import ``measure``).
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CODE = {
    "python loop": """
        def inc(x):
            return x + 1
        def mapped(n):
            return sum([inc(x) for x in range(n)])
        def warm():
            pass
    """,
    "ferroflow eager": """
        from ferroflow import flow, task
        @task
        def inc(x):
            return x + 1
        @flow
        def mapped(n):
            return sum(inc.map(range(n)).result())
        def warm():
            mapped(10)  # loads the engine, the executor and the run store before the clock starts
    """,
    "prefect 3": """
        from prefect import flow, task
        @task
        def inc(x):
            return x + 1
        @flow
        def mapped(n):
            return sum(inc.map(range(n)).result())
        def warm():
            mapped(2)  # starts the temporary server
    """,
}

TIMER = """
import json, time
{code}
warm()
n = {n}
started = time.perf_counter()
value = mapped(n)
elapsed = time.perf_counter() - started
assert value == n * (n + 1) // 2, value
print(json.dumps({{"seconds": elapsed}}))
"""


def measure(contender: str, n: int, python: str = sys.executable, env: dict | None = None) -> float:
    """Seconds one ``mapped(n)`` call took, in a fresh ``python`` process."""
    script = TIMER.format(code=textwrap.dedent(CODE[contender]), n=n)
    with tempfile.TemporaryDirectory(prefix="eager-map-") as home:
        full = dict(os.environ, FERROFLOW_HOME=home, PREFECT_HOME=home, PREFECT_SERVER_ANALYTICS_ENABLED="false",
                    PREFECT_UI_ENABLED="false", PYTHONPATH=f"{ROOT / 'python'}:{ROOT}")
        full.update(env or {})
        out = subprocess.run([python, "-c", script], capture_output=True, text=True, env=full, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{contender} at n={n} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--prefect-n", type=int, nargs="*", default=[1_000, 10_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--prefect-python", default="/work/p3venv/bin/python")
    parser.add_argument("--no-prefect", action="store_true")
    args = parser.parse_args()
    rows = []
    sizes = sorted({args.n, *([] if args.no_prefect else args.prefect_n)})
    for contender in ("python loop", "ferroflow eager", "prefect 3"):
        for n in sizes:
            python = sys.executable
            if contender == "prefect 3":
                if args.no_prefect or n not in args.prefect_n:
                    continue
                if not Path(args.prefect_python).exists():
                    print(f"(prefect 3 skipped: no {args.prefect_python})")
                    break
                python = args.prefect_python
            repeat = 1 if contender == "prefect 3" else args.repeat
            times = [measure(contender, n, python) for _ in range(repeat)]
            rows.append((contender, n, min(times), statistics.median(times)))
            print(f"{contender:16} n={n:>9,}  best {min(times):8.3f} s  median {statistics.median(times):8.3f} s"
                  f"  ({min(times) / n * 1e6:7.2f} us per child)", flush=True)


if __name__ == "__main__":
    main()
