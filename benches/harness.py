"""What the side-by-side benchmark scripts share: every measurement runs in a fresh
interpreter, so that its peak RSS (``ru_maxrss``) is its own, and prints its figures
as a JSON object on its last line of output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable

__all__ = ["MeasurementFailed", "run_measurement", "TRIVIAL_TASKS"]

#: The trivial tasks the map benchmarks time (``inc`` mapped, ``total`` reducing), as
#: the start of a measurement's code (indented like the scripts' snippets, which they
#: dedent).
TRIVIAL_TASKS = """
    from ferroflow import Flow, task
    # The first flow.run() loads the engine, the run store and the executors (import
    # ferroflow does not): loaded here, before any clock starts, the figures time runs.
    import ferroflow.engine, ferroflow.executors.local, ferroflow.store.sqlite
    @task
    def inc(x):
        return x + 1
    @task
    def total(xs):
        return sum(xs)
"""


class MeasurementFailed(SystemExit):
    """A measurement's process failed; uncaught, it ends the benchmark with its error
    output."""

    def __init__(self, returncode: int, stderr: str):
        super().__init__(f"benchmark failed (exit {returncode}):\n{stderr}")
        self.returncode = returncode
        self.stderr = stderr

    @property
    def last_line(self) -> str:
        """The last line of its error output (the exception, usually)."""
        lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
        return lines[-1] if lines else "no error output"


def run_measurement(code: str, env: dict | None = None, unset: Iterable[str] = (),
                    timeout: float | None = None, python: str | None = None) -> dict:
    """Run ``code`` with ``python -c`` in a fresh process (this process's environment,
    plus ``env``, minus ``unset``) and return the JSON object on its last output line.
    ``python`` is the interpreter (default: this one; another virtualenv's for a
    contender that lives there).

    Raises:
        MeasurementFailed: the process failed.
        subprocess.TimeoutExpired: it ran longer than ``timeout`` seconds.
    """
    environ = {**os.environ, **(env or {})}
    for name in unset:
        environ.pop(name, None)
    out = subprocess.run([python or sys.executable, "-c", code], capture_output=True, text=True,
                         env=environ, timeout=timeout)
    if out.returncode != 0:
        raise MeasurementFailed(out.returncode, out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])
