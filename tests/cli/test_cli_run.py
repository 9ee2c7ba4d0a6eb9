"""``ferroflow run`` end to end: real flows, exit codes, progress and summary."""

from __future__ import annotations

import json

import pytest

from ferroflow import cli, plugins

pytestmark = pytest.mark.usefixtures("engine")

MAP_FLOW = """
import json
from ferroflow import Flow, Parameter, task

@task
def numbers(n):
    return list(range(n))

@task
def inc(x):
    return x + 1

@task
def total(xs, out):
    result = sum(xs)
    if out:
        with open(out, "w") as f:
            json.dump({"total": result}, f)
    return result

with Flow("mapflow") as flow:
    n = Parameter("n", default=3)
    out = Parameter("out", default="")
    total(inc.map(numbers(n)), out)

if __name__ == "__main__":
    raise RuntimeError("the __main__ guard fired")
"""

FAILING_FLOW = """
from ferroflow import Flow, task

@task
def extract():
    return [1, 2, 0, 4]

@task
def invert(x):
    return 1 / x

@task
def load(xs):
    return xs

@task
def broken():
    raise ValueError("the source is down\\nsecond line")

with Flow("failing") as flow:
    load(invert.map(extract()))
    broken()
"""

INTERRUPTED_FLOW = """
from ferroflow import Flow, task

@task
def slow():
    raise KeyboardInterrupt

with Flow("interrupted") as flow:
    slow()
"""


def test_successful_run_exits_0_with_a_summary(capsys, flow_file):
    path = flow_file(MAP_FLOW)
    assert cli.main(["run", str(path), "--no-progress"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0] == "Flow 'mapflow': Success - All reference tasks succeeded."
    table = "\n".join(lines)
    assert "inc" in table and "3 children: Success 3" in table
    assert captured.err == ""  # --no-progress: no live output


def test_the_run_id_is_shown_only_for_a_recorded_run(capsys, flow_file, tmp_path, monkeypatch):
    path = flow_file(MAP_FLOW)
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    assert cli.main(["run", str(path), "--no-progress"]) == 0
    assert "Flow run id: " in capsys.readouterr().out
    assert cli.main(["run", str(path), "--no-progress", "--no-record"]) == 0
    assert "Flow run id" not in capsys.readouterr().out
    blocker = tmp_path / "not-a-directory"  # a store that cannot be opened: not recorded
    blocker.write_text("a file where the home directory should be")
    monkeypatch.setenv("FERROFLOW_HOME", str(blocker))
    assert cli.main(["run", str(path), "--no-progress"]) == 0
    assert "Flow run id" not in capsys.readouterr().out


def test_params_reach_the_flow_as_json_values(capsys, flow_file, tmp_path):
    path = flow_file(MAP_FLOW)
    out = tmp_path / "out.json"
    assert cli.main(["run", str(path), "--no-progress", "-p", "n=1000", "--param", f"out={out}"]) == 0
    assert json.loads(out.read_text()) == {"total": sum(range(1, 1001))}
    assert "1,000 children: Success 1,000" in capsys.readouterr().out


def test_flow_name_selects_by_variable(capsys, flow_file):
    path = flow_file(MAP_FLOW)
    assert cli.main(["run", f"{path}:flow", "--no-progress"]) == 0
    assert cli.main(["run", f"{path}:mapflow", "--no-progress"]) == 0
    assert cli.main(["run", f"{path}:other", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"No flow named 'other' in {str(path)!r}; flows found: flow (name 'mapflow')" in err


def test_failed_run_exits_1_and_shows_errors(capsys, flow_file):
    path = flow_file(FAILING_FLOW)
    assert cli.main(["run", str(path), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("Flow 'failing': Failed")
    assert "ValueError: the source is down" in out
    assert "second line" not in out
    assert "ZeroDivisionError" in out  # the first failed child of the mapped task
    assert "4 children: Success 3, Failed 1" in out


def test_unknown_parameter_exits_2(capsys, flow_file):
    path = flow_file(MAP_FLOW)
    assert cli.main(["run", str(path), "--no-progress", "-p", "m=3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ferroflow: error: ") and "'m'" in err
    assert err.count("\n") == 1


def test_unknown_executor_exits_2_listing_the_available_ones(capsys, flow_file):
    path = flow_file(MAP_FLOW)
    assert cli.main(["run", str(path), "--executor", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ferroflow: error: Unknown executor 'nope'.")
    assert "Available executors: " in err and "local" in err


def test_named_executor_with_options(capsys, flow_file):
    created = []

    class RecordingLocal:
        def __init__(self, **options):
            from ferroflow.executors.local import LocalExecutor

            created.append(options)
            self._inner = LocalExecutor()

        def __getattr__(self, name):
            return getattr(self._inner, name)

    class Plugin:
        @plugins.hookimpl
        def register_executors(self, register):
            register("recording", RecordingLocal)

    path = flow_file(MAP_FLOW)
    with plugins.registered_plugin(Plugin()):
        assert cli.main(["run", str(path), "--no-progress", "-e", "recording",
                         "-o", "workers=4", "-o", 'label="x"']) == 0
    assert created == [{"workers": 4, "label": "x"}]
    assert cli.main(["run", str(path), "--no-progress", "--executor", "local"]) == 0


def test_ctrl_c_exits_130(capsys, flow_file):
    path = flow_file(INTERRUPTED_FLOW)
    assert cli.main(["run", str(path), "--no-progress"]) == 130
    assert "Cancelled" in capsys.readouterr().out


def test_subprocess_run_success_and_progress_lines(run_ferroflow, flow_file):
    path = flow_file(MAP_FLOW, name="sub_flow.py")
    proc = run_ferroflow("run", str(path), "-p", "n=10")
    assert proc.returncode == 0, proc.stderr
    # not a terminal: a start line, no ANSI escapes, no redraws
    assert proc.stderr.startswith("Running flow 'mapflow' (")
    assert "\x1b[" not in proc.stderr
    assert proc.stdout.splitlines()[0] == "Flow 'mapflow': Success - All reference tasks succeeded."


def test_subprocess_run_failure_and_interrupt_exit_codes(run_ferroflow, flow_file):
    failing = run_ferroflow("run", str(flow_file(FAILING_FLOW, name="failing_flow.py")))
    assert failing.returncode == 1, failing.stderr
    interrupted = run_ferroflow("run", str(flow_file(INTERRUPTED_FLOW, name="int_flow.py")))
    assert interrupted.returncode == 130, interrupted.stderr


def test_subprocess_load_error_exits_2_with_one_line(run_ferroflow, flow_file):
    path = flow_file("from ferroflow import Flow\n", name="empty_flow.py")
    proc = run_ferroflow("run", str(path))
    assert proc.returncode == 2
    assert proc.stderr == f"ferroflow: error: No flow found in {str(path)!r}: assign a Flow to a " \
                          f"module-level variable (for instance `with Flow(\"etl\") as flow:`), or define an @flow " \
                          f"function\n"
