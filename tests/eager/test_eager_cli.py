"""``ferroflow run FILE.py[:NAME]`` of ``@flow`` functions: found in the file,
parameters coerced by their type hints, the summary of the run's tasks and calls,
``--resume``, exit codes 0/1/2/130; in process (``cli.main``) and as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ferroflow.cli import main
from ferroflow.store import get_run_store

FLOWS = textwrap.dedent('''
    import os, time
    from pathlib import Path
    from ferroflow import Flow, flow, task

    @task
    def double(x):
        (Path(os.environ["MARKS"]) / f"double-{x}").touch()
        return 2 * x

    @task
    def check(x):
        if os.environ.get("FAIL_AT") == str(x):
            raise ValueError(f"{x} is bad")
        if os.environ.get("HANG_AT") == str(x):
            Path(os.environ["MARKS"], "hanging").touch()
            time.sleep(600)
        return x

    @flow(name="cli-etl", flow_run_name="etl-{n}")
    def etl(n: int, scale: float = 1.0):
        values = [double(i) for i in range(n)]
        for v in values:
            check(v)
        return sum(values) * scale

    @flow
    def other():
        return 1
''')


@pytest.fixture
def flows(tmp_path, monkeypatch):
    (tmp_path / "marks").mkdir()
    monkeypatch.setenv("MARKS", str(tmp_path / "marks"))
    monkeypatch.delenv("FAIL_AT", raising=False)
    path = tmp_path / "cli_flows.py"
    path.write_text(FLOWS)
    return path


def _runs(flow_name):
    return [r for r in get_run_store(True).list_runs(limit=50) if r.flow_name == flow_name]


def test_run_picks_an_eager_flow_by_name_and_coerces_its_parameters(flows, capsys):
    assert main(["run", f"{flows}:etl", "--param", "n=3", "--param", "scale=2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "Flow 'cli-etl': Success" in out and "Name: etl-3" in out
    assert "double  Mapped  3 children: Success 3" in out and "check   Mapped  3 children: Success 3" in out
    (run,) = _runs("cli-etl")[:1]
    assert run.state == "Success" and run.parameters == {"n": 3, "scale": 2.0} and run.run_name == "etl-3"
    assert f"Flow run id: {run.run_id}" in out
    assert main(["run", f"{flows}:cli-etl", "--param", "n=1", "--no-progress"]) == 0  # by the flow's name


def test_a_file_of_several_flows_needs_a_name(flows, capsys):
    assert main(["run", str(flows), "--no-progress"]) == 2
    assert "defines 2 flows: etl (name 'cli-etl'), other" in capsys.readouterr().err


def test_a_bad_parameter_is_a_usage_error_naming_it(flows, capsys):
    assert main(["run", f"{flows}:etl", "--param", "n=many", "--no-progress"]) == 2
    assert "n: Input should be a valid integer" in capsys.readouterr().err
    assert main(["run", f"{flows}:etl", "--no-progress"]) == 2
    assert "missing a required argument: 'n'" in capsys.readouterr().err


def test_a_failed_run_exits_1_and_resume_runs_only_what_did_not_finish(flows, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FAIL_AT", "4")
    assert main(["run", f"{flows}:etl", "--param", "n=4", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert "Flow 'cli-etl': Failed" in out and "check   Mapped  3 children: Success 2, Failed 1" in out
    run_id = _runs("cli-etl")[0].run_id
    for mark in (tmp_path / "marks").iterdir():
        mark.unlink()
    monkeypatch.delenv("FAIL_AT")
    assert main(["run", f"{flows}:etl", "--resume", run_id[:10], "--no-progress"]) == 0
    assert "Flow 'cli-etl': Success" in capsys.readouterr().out
    assert list((tmp_path / "marks").iterdir()) == []  # every double() call came from the checkpoints
    resumed = _runs("cli-etl")[0]
    assert resumed.resumed_from == run_id and resumed.parameters == {"n": 4, "scale": 1.0}
    assert main(["run", f"{flows}:other", "--resume", run_id, "--no-progress"]) == 2
    assert "is a run of flow 'cli-etl', not of 'other'" in capsys.readouterr().err
    assert main(["run", f"{flows}:etl", "--resume", "feedbeef", "--no-progress"]) == 2
    assert "no run with id 'feedbeef'" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs SIGINT")
def test_ctrl_c_cancels_the_run_and_exits_130(flows, tmp_path):
    env = {**os.environ, "HANG_AT": "2", "FERROFLOW_RECORD": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-m", "ferroflow", "run", f"{flows}:etl", "--param", "n=3"],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not (tmp_path / "marks" / "hanging").exists():  # bounded by the test's timeout only
            assert process.poll() is None, process.communicate()
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert "Flow 'cli-etl': Cancelled" in out and "--resume" in err
    assert _runs("cli-etl")[0].state == "Cancelled"
    # live progress went to stderr (not a terminal: a line at the start)
    assert "Running flow 'cli-etl'" in err
