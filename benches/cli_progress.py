"""What the CLI's live progress display costs, side by side in one run: the
million-child flow through ``ferroflow run`` with no display, with the plain display
of an earlier commit (hand-written ANSI redraws) and with the current one (``rich``),
each drawing on a pseudo-terminal; and drawing the ``ferroflow runs`` table of 1,000
runs as plain text and with ``rich``.

    .venv/bin/python benches/cli_progress.py                       # N = 1,000,000, 5 repeats
    .venv/bin/python benches/cli_progress.py -n 100000 --repeat 3 --before fb854c7

``--before REV`` names the commit whose display is "before" (default: ``fb854c7``, the
last one with the hand-written display): its ``python/ferroflow`` is taken from git
into a temporary directory (with this checkout's built ``_core`` extension) and run
there. Each measurement is a fresh ``python -c`` process whose stderr is a
pseudo-terminal (120 x 40, drained by this process), so the display draws as on a
terminal; the contenders run in turn within each repeat, so a noisy moment does not
fall on one. Per contender: the median of the flow run alone (``run_flow``, which
includes the display's drawing and the summary), of the whole command (``main()``:
loading the flow file too) and of the process (interpreter start and imports too), the
ratio of the run to the run without display, and the bytes written to the terminal.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pty
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import threading
import time
from fcntl import ioctl
from pathlib import Path

from harness import TRIVIAL_TASKS

ROOT = Path(__file__).resolve().parents[1]
COLUMNS, LINES = 120, 40

CHILD = """
import json, sys, time
import ferroflow.engine, ferroflow.executors.local, ferroflow.store.sqlite  # loaded before the clocks
from ferroflow.cli import main
import ferroflow.engine as engine
inner = engine.run_flow
spent = []
def timed(*args, **kwargs):
    t0 = time.perf_counter()
    try:
        return inner(*args, **kwargs)
    finally:
        spent.append(time.perf_counter() - t0)
engine.run_flow = timed
t0 = time.perf_counter()
code = main({argv!r})
command = time.perf_counter() - t0
assert code == 0, code
print(json.dumps({{"run": spent[0], "command": command}}))
"""

FLOW = textwrap.dedent(TRIVIAL_TASKS) + """
with Flow("bench") as flow:
    total(inc.map(list(range({n}))))
"""


def measure(python_path: str, flow_file: str, progress: bool, home: str) -> dict:
    """One ``ferroflow run`` in a fresh process, stderr on a pseudo-terminal."""
    argv = ["run", flow_file, "--no-record"] + ([] if progress else ["--no-progress"])
    master, slave = pty.openpty()
    ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
    env = {**os.environ, "PYTHONPATH": python_path, "FERROFLOW_HOME": home, "TERM": "xterm-256color",
           "COLUMNS": str(COLUMNS), "LINES": str(LINES)}
    env.pop("NO_COLOR", None)
    env.pop("FERROFLOW_API_URL", None)
    drawn = io.BytesIO()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed its side
                return
            if not chunk:
                return
            drawn.write(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD.format(argv=argv)], stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=slave, env=env, text=True)
    process = time.perf_counter() - t0
    os.close(slave)
    reader.join(10)
    os.close(master)
    if proc.returncode != 0:
        raise SystemExit(f"measurement failed (exit {proc.returncode}):\n{drawn.getvalue().decode(errors='replace')}")
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    return {**figures, "process": process, "bytes": len(drawn.getvalue())}


def before_tree(rev: str, into: Path) -> str:
    """``python/ferroflow`` of commit ``rev`` under ``into`` (with this checkout's built
    extension); returns the directory to put on PYTHONPATH."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "python/ferroflow"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    for built in (ROOT / "python" / "ferroflow").glob("_core*.so"):
        shutil.copy(built, into / "python" / "ferroflow" / built.name)
    return str(into / "python")


def table_rows(n: int) -> list[list[str]]:
    """``ferroflow runs``' rows for ``n`` runs (what ``cmd_runs`` builds)."""
    from ferroflow.cli.formatting import format_duration
    from ferroflow.cli.runs import format_time

    rows = [["RUN ID", "FLOW", "STATE", "STARTED", "DURATION"]]
    start = 1_796_000_000.0
    for i in range(n):
        rows.append([f"{i:032x}", f"flow-{i % 7}", ("Success", "Failed", "Running")[i % 3],
                     format_time(start + i * 61), format_duration(i * 0.37)])
    return rows


def time_tables(sizes: list[int], repeat: int) -> list[tuple[int, float, float]]:
    """Median seconds to draw the table of each size as plain text and with rich (for
    a 120-column terminal, into memory)."""
    from ferroflow.cli.formatting import format_table
    from ferroflow.cli.terminal import make_console, table_lines

    out = []
    console = make_console(io.StringIO(), size=(COLUMNS, LINES))
    table_lines(console, table_rows(3))  # the first draw loads rich's modules
    for n in sizes:
        rows = table_rows(n)
        plain, styled = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            format_table(rows)
            plain.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            table_lines(console, rows, state_column=2)
            styled.append(time.perf_counter() - t0)
        out.append((n, statistics.median(plain), statistics.median(styled)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="number of mapped children")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", default="fb854c7", metavar="REV",
                        help="the commit whose (hand-written) display is compared")
    args = parser.parse_args(argv)
    print("$ " + " ".join([".venv/bin/python", "benches/cli_progress.py", "-n", str(args.n),
                           "--repeat", str(args.repeat), "--before", args.before]))

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        flow_file = tmpdir / "million.py"
        flow_file.write_text(FLOW.format(n=args.n))
        old = before_tree(args.before, tmpdir)
        new = str(ROOT / "python")
        extra = os.environ.get("PYTHONPATH")  # (where rich is, when it is not installed)
        contenders = {
            "no display (--no-progress)": (new, False),
            f"before ({args.before}): hand-written": (old, True),
            "now: rich": (new, True),
            f"before ({args.before}), --no-progress": (old, False),
        }
        runs: dict[str, list[dict]] = {name: [] for name in contenders}
        for _ in range(args.repeat):
            for name, (path, progress) in contenders.items():
                python_path = path + (os.pathsep + extra if extra else "")
                runs[name].append(measure(python_path, str(flow_file), progress, str(tmpdir / "home")))

    base = statistics.median(r["run"] for r in runs["no display (--no-progress)"])
    print(f"\n{args.n:,} mapped children + a reduce, `ferroflow run` with stderr on a {COLUMNS}x{LINES} "
          f"pseudo-terminal, median of {args.repeat}:")
    print(f"{'contender':<42}{'run s':>8}{'x none':>8}{'command s':>11}{'process s':>11}{'tty bytes':>11}")
    for name, found in runs.items():
        run = statistics.median(r["run"] for r in found)
        print(f"{name:<42}{run:>8.3f}{run / base:>8.3f}{statistics.median(r['command'] for r in found):>11.3f}"
              f"{statistics.median(r['process'] for r in found):>11.3f}"
              f"{statistics.median(r['bytes'] for r in found):>11,.0f}")

    print(f"\n`ferroflow runs` table drawn into memory, median of {max(args.repeat, 5)}:")
    print(f"{'runs':>7}{'plain ms':>10}{'rich ms':>10}{'x plain':>9}")
    for n, plain, styled in time_tables([20, 500, 1000], max(args.repeat, 5)):
        print(f"{n:>7,}{plain * 1e3:>10.2f}{styled * 1e3:>10.2f}{styled / plain:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "python"))
    raise SystemExit(main())
