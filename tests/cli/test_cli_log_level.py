"""``ferroflow run --log-level LEVEL``: the least level kept (recorded) and shown on the
console for the run; without it, the loggers' own levels and warnings on the console."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("engine")

TALKER = """
from ferroflow import Flow, task, get_logger

@task
def talk():
    log = get_logger()
    log.debug("quiet detail")
    log.info("normal news")
    log.warning("a warning")
    log.error("an error")

with Flow("talker") as flow:
    talk()
"""


def _run(run_ferroflow, path, home, *args):
    done = run_ferroflow("run", str(path), "--no-progress", *args, env={"FERROFLOW_HOME": str(home)})
    assert done.returncode == 0, done.stderr
    run_id = next(line.split()[3] for line in done.stdout.splitlines() if line.startswith("Flow run id:"))
    logs = run_ferroflow("logs", run_id, env={"FERROFLOW_HOME": str(home)})
    assert logs.returncode == 0, logs.stderr
    return done.stderr, logs.stdout


def test_log_level_sets_what_is_kept_and_shown(run_ferroflow, flow_file, tmp_path):
    path = flow_file(TALKER)
    console, recorded = _run(run_ferroflow, path, tmp_path / "h")
    assert "a warning" in console and "an error" in console and "normal news" not in console
    assert "normal news" in recorded and "quiet detail" not in recorded

    console, recorded = _run(run_ferroflow, path, tmp_path / "h", "--log-level", "debug")
    assert "ferroflow: debug: task talk: quiet detail" in console and "ferroflow: info: task talk: normal news" \
        in console
    assert "quiet detail" in recorded

    console, recorded = _run(run_ferroflow, path, tmp_path / "h", "--log-level", "error")
    assert "an error" in console and "a warning" not in console
    assert "a warning" not in recorded and "an error" in recorded


def test_an_unknown_level_is_a_usage_error(run_ferroflow, flow_file, tmp_path):
    done = run_ferroflow("run", str(flow_file(TALKER)), "--log-level", "loud")
    assert done.returncode == 2 and "--log-level" in done.stderr
