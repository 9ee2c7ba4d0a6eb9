"""Warnings reach stderr while a run is live: under ``ferroflow run`` and under a plain
``flow.run()`` in a script, without being shown twice when the user configured
logging. The run keeps its own handler on the ``ferroflow`` logger (to keep task
records with the run); that handler must not hide what Python would have shown."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import ferroflow.cli
from ferroflow.runtime.checkpoints import UNREAD_LISTED
from ferroflow.runtime.logs import RunLogHandler
from tests.support.terminal import screen as shown

pytestmark = pytest.mark.usefixtures("engine")

#: A mapped task checkpointed under $CKPT, one file per child: ``double/<i>.pkl``.
CHECKPOINTED_FLOW = """
import os
import re
from ferroflow import Flow, Parameter, task
from ferroflow.results import Result

@task(checkpoint=False)
def numbers(n):
    return list(range(n))

@task
def double(x):
    return 2 * x

@task
def total(xs):
    return sum(xs)

with Flow("ck", result=Result(base=os.environ["CKPT"], location="{task_name}/{map_index}.pkl")) as flow:
    n = Parameter("n", default=3)
    total(double.map(numbers(n)))
"""

SCRIPT = """
import runpy, sys
flow = runpy.run_path(sys.argv[1])["flow"]
state = flow.run(**({} if len(sys.argv) < 3 else {"resume": sys.argv[2]}))
print(state.flow_run_id)
"""


def _env(tmp_path: Path) -> dict:
    """A home and a checkpoint directory of the test's own; this tree's ferroflow."""
    env = dict(os.environ, FERROFLOW_HOME=str(tmp_path / "home"), CKPT=f"file://{tmp_path / 'ckpt'}")
    package_root = str(Path(ferroflow.cli.__file__).parents[2])
    env["PYTHONPATH"] = os.pathsep.join([package_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ferroflow", *args], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=300)


def _script(tmp_path: Path, flow: Path, *args: str, prelude: str = "") -> subprocess.CompletedProcess:
    source = prelude + textwrap.dedent(SCRIPT)
    return subprocess.run([sys.executable, "-c", source, str(flow), *args], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=300)


def _run_id(stdout: str) -> str:
    return next(line.split()[3] for line in stdout.splitlines() if line.startswith("Flow run id: "))


def _corrupt(tmp_path: Path, *indices: int) -> list:
    """Overwrite the checkpoints of ``double``'s children; return their files."""
    files = [tmp_path / "ckpt" / "double" / f"{i}.pkl" for i in indices]
    for file in files:
        assert file.exists()
        file.write_bytes(b"not a result record")
    return files


def test_ferroflow_run_names_each_unreadable_checkpoint_on_resume(tmp_path, flow_file):
    path = flow_file(CHECKPOINTED_FLOW)
    first = _cli(tmp_path, "run", str(path), "--no-progress")
    assert first.returncode == 0, first.stderr
    run_id = _run_id(first.stdout)
    (corrupt,) = _corrupt(tmp_path, 1)

    resumed = _cli(tmp_path, "run", str(path), "--no-progress", "--resume", run_id)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("Flow 'ck': Success")
    lines = [line for line in resumed.stderr.splitlines() if "checkpoint" in line]
    assert len(lines) == 1, resumed.stderr
    line = lines[0]
    assert line.startswith(f"ferroflow: warning: resuming run {run_id}: task 'double', map index 1, runs again")
    assert "'double/1.pkl'" in line  # the location, as recorded
    assert str(corrupt) in line  # where it is
    assert "Corrupt result record" in line  # and why it cannot be read
    assert corrupt.read_bytes() != b"not a result record"  # the child ran again and was checkpointed anew


def test_many_unreadable_checkpoints_are_listed_up_to_a_limit_then_summed_up(tmp_path, flow_file):
    n = UNREAD_LISTED + 25
    path = flow_file(CHECKPOINTED_FLOW)
    first = _cli(tmp_path, "run", str(path), "--no-progress", "-p", f"n={n}")
    assert first.returncode == 0, first.stderr
    _corrupt(tmp_path, *range(n))

    resumed = _cli(tmp_path, "run", str(path), "--no-progress", "--resume", _run_id(first.stdout))
    assert resumed.returncode == 0, resumed.stderr
    lines = [line for line in resumed.stderr.splitlines() if "checkpoint" in line]
    listed = [line for line in lines if "runs again: its checkpoint" in line]
    assert len(listed) == UNREAD_LISTED
    assert "further unreadable checkpoints are counted, not listed" in listed[-1]
    assert len(lines) == UNREAD_LISTED + 1, resumed.stderr
    assert f"25 more checkpoints could not be read (task 'double': 25); in all, {n} task runs" in lines[-1]


@pytest.mark.parametrize("configured", [False, True], ids=["no-logging-config", "basicConfig"])
def test_flow_run_in_a_script_shows_engine_warnings_once(tmp_path, flow_file, configured):
    path = flow_file(CHECKPOINTED_FLOW)
    first = _script(tmp_path, path)
    assert first.returncode == 0, first.stderr
    run_id = first.stdout.strip()
    _corrupt(tmp_path, 2)

    prelude = "import logging; logging.basicConfig()\n" if configured else ""
    resumed = _script(tmp_path, path, run_id, prelude=prelude)
    assert resumed.returncode == 0, resumed.stderr
    lines = [line for line in resumed.stderr.splitlines() if "checkpoint" in line]
    assert len(lines) == 1, resumed.stderr
    expected = f"resuming run {run_id}: task 'double', map index 2, runs again: its checkpoint 'double/2.pkl'"
    # Python's last resort shows the bare message; basicConfig's handler its own format.
    assert lines[0].startswith(("WARNING:ferroflow.resume:" if configured else "") + expected)


def test_ferroflow_run_leaves_warnings_to_logging_the_flow_file_configured(tmp_path, flow_file):
    path = flow_file("import logging\nlogging.basicConfig(format='CONFIGURED %(name)s %(message)s')\n"
                     + CHECKPOINTED_FLOW)
    first = _cli(tmp_path, "run", str(path), "--no-progress")
    assert first.returncode == 0, first.stderr
    _corrupt(tmp_path, 0)
    resumed = _cli(tmp_path, "run", str(path), "--no-progress", "--resume", _run_id(first.stdout))
    assert resumed.returncode == 0, resumed.stderr
    lines = [line for line in resumed.stderr.splitlines() if "checkpoint" in line]
    assert len(lines) == 1, resumed.stderr
    assert lines[0].startswith("CONFIGURED ferroflow.resume resuming run ")


STORE_FAILS_FLOW = """
import resource, signal, time
from ferroflow import Flow, get_logger, task
from ferroflow.store import get_run_store

get_run_store()  # the store exists and is open; from now on no file may grow past 1 MB
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

@task
def chatty(i):
    for _ in range(20):
        get_logger().info("x" * 10_000)  # kept with the run: the store's log rows grow
    time.sleep(0.01)  # many rounds: batches are committed (and fail) while the run is live
    return i

with Flow("chatty") as flow:
    chatty.map(list(range(60)))
"""


@pytest.mark.parametrize("how", ["ferroflow run", "flow.run()"])
def test_a_store_failing_during_the_run_is_a_warning_on_stderr(tmp_path, flow_file, how):
    path = flow_file(STORE_FAILS_FLOW)
    if how == "ferroflow run":
        proc = _cli(tmp_path, "run", str(path), "--no-progress")
        prefix = "ferroflow: warning: "
    else:
        proc = _script(tmp_path, path)
        prefix = ""
    assert proc.returncode == 0, proc.stderr
    # Said once, when it happens (the run goes on), naming the store and the error ...
    lines = [line for line in proc.stderr.splitlines() if "Runs go on" in line]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(prefix + "disk full: cannot write the run store ")
    assert str(tmp_path / "home" / "runs.db") in lines[0]
    assert "File too large" in lines[0]
    # ... and once more at exit, with the number of records that were never written.
    lost = [line for line in proc.stderr.splitlines() if "were not written" in line]
    assert len(lost) == 1, proc.stderr
    assert "chatty" not in proc.stderr  # INFO records of tasks are kept, not shown


TASK_WARNS_FLOW = """
from ferroflow import Flow, get_logger, task

@task
def check(row):
    get_logger().info("checking row %s", row)
    if row == 2:
        get_logger().warning("row %s has no id", row)
    return row

with Flow("warns") as flow:
    check.map([1, 2, 3])
"""


def test_ferroflow_run_shows_a_tasks_warnings_naming_the_task_run(tmp_path, flow_file):
    proc = _cli(tmp_path, "run", str(flow_file(TASK_WARNS_FLOW)), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "ferroflow: warning: task check[1]: row 2 has no id\n"


def test_concurrent_runs_show_an_unhandled_record_once_and_a_configured_one_never(monkeypatch):
    """Unit level: the handlers of two live runs show a record nobody else handles
    once, through ``logging.lastResort``; once the user adds a handler, never."""
    shown = io.StringIO()
    last = logging.StreamHandler(shown)
    last.setLevel(logging.WARNING)
    monkeypatch.setattr(logging, "lastResort", last)
    parent = logging.getLogger("ferroflow_test_isolated")  # pytest's own handlers sit on the root
    monkeypatch.setattr(parent, "propagate", False)
    logger = logging.getLogger("ferroflow_test_isolated.engine")
    runs = [RunLogHandler(object()), RunLogHandler(object())]
    for handler in runs:
        parent.addHandler(handler)
    try:
        logger.warning("seen once")
        logger.info("below the last resort's level")
        mine = logging.StreamHandler(io.StringIO())
        parent.addHandler(mine)
        logger.warning("left to the user's handler")
        parent.removeHandler(mine)
    finally:
        for handler in runs:
            parent.removeHandler(handler)
    assert shown.getvalue() == "seen once\n"
    assert mine.stream.getvalue() == "left to the user's handler\n"


def test_a_warning_stays_on_the_terminal_above_the_live_table(monkeypatch):
    """On a terminal the live table is redrawn in place; a warning written in between
    must not be erased by the next redraw: the table is erased first, drawn again
    below the warning."""
    from ferroflow.cli.console import ConsoleLog
    from ferroflow.cli.progress import ProgressDisplay

    now = [0.0]
    terminal = io.StringIO()
    display = ProgressDisplay(terminal, io.StringIO(), mode="tty", clock=lambda: now[0], size=(100, 30),
                              render_share=None)
    console = ConsoleLog(display, stream=terminal)
    display.start("etl", ["extract", "load"])
    display.update([("extract", {"Running": 1}), ("load", {})])
    monkeypatch.setattr(logging.getLogger("ferroflow_test_isolated"), "propagate", False)  # from pytest's handlers
    record = logging.LogRecord("ferroflow_test_isolated.engine", logging.WARNING, __file__, 1, "the store is slow",
                               None, None)
    console.handle(record)
    now[0] = 1.0
    display.update([("extract", {"Success": 1}), ("load", {"Running": 1})])
    screen = shown(terminal.getvalue())
    assert screen[0] == "ferroflow: warning: the store is slow"
    assert screen[1].startswith("flow 'etl'") and len(screen) == len(display.render_table(1.0)) + 1
