"""``ferroflow`` argument parsing, ``--version``, ``--help`` and usage errors."""

from __future__ import annotations

import importlib.metadata

import pytest

from ferroflow import cli


def test_version(capsys):
    assert cli.main(["--version"]) == 0
    out = capsys.readouterr().out
    assert out == f"ferroflow {cli.get_version()}\n"
    assert cli.get_version() not in {"", "unknown"}


def test_version_falls_back_to_the_package_attribute(monkeypatch):
    def not_installed(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", not_installed)
    import ferroflow

    monkeypatch.setattr(ferroflow, "__version__", "9.8.7", raising=False)
    assert cli.get_version() == "9.8.7"


def test_version_in_a_subprocess(run_ferroflow):
    proc = run_ferroflow("--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ferroflow ")


def test_no_command_is_a_usage_error(capsys):
    assert cli.main([]) == 2
    err = capsys.readouterr().err
    assert "usage: ferroflow" in err
    assert "ferroflow: error: a command is required (run, plugins)" in err


def test_unknown_option_is_a_usage_error(capsys):
    assert cli.main(["run", "flow.py", "--bogus"]) == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error(capsys):
    assert cli.main(["walk"]) == 2
    assert "invalid choice: 'walk'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["plugins", "--help"]])
def test_help(argv, capsys):
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: ferroflow")


def test_run_arguments_are_parsed():
    args = cli.build_parser().parse_args(
        ["run", "etl.py:main", "-p", "n=3", "--param", 'x="a"', "--executor", "local",
         "-o", "workers=2", "--no-progress", "--traceback"])
    assert args.flow == "etl.py:main"
    assert args.param == ["n=3", 'x="a"']
    assert args.executor == "local"
    assert args.executor_option == ["workers=2"]
    assert args.no_progress and args.traceback


def test_run_defaults():
    args = cli.build_parser().parse_args(["run", "etl.py"])
    assert args.param == [] and args.executor is None and args.executor_option == []
    assert not args.no_progress and not args.traceback


def test_run_needs_a_file(capsys):
    assert cli.main(["run"]) == 2
    assert "give the flow file to run (FILE.py[:FLOW_NAME]) or --deployment NAME" in capsys.readouterr().err


def test_a_reader_that_goes_away_stops_the_output_quietly(tmp_path, monkeypatch):
    # `ferroflow runs show ID | head -1`: the pipe closes while the command still
    # writes. No traceback, exit 141 (128 + SIGPIPE) as command-line tools give.
    import subprocess
    import sys

    from ferroflow import Flow, task

    @task
    def work(i):
        raise ValueError(i)

    with Flow("pipe") as flow:
        work.map(list(range(3000)))
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path))
    assert flow.run().is_failed()
    run_id = _recorded_run_id(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "ferroflow", "runs", "show", run_id, "--failed", "3000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away while thousands of lines are still to come
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait() == 141, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def _recorded_run_id(home) -> str:
    from ferroflow.store import SQLiteRunStore

    with SQLiteRunStore(home / "runs.db") as store:
        (run,) = store.list_runs()
    return run.run_id
