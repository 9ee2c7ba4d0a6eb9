"""``ferroflow runs``, ``ferroflow runs show`` and ``ferroflow logs`` on a store the tests fill:
the SQLite file of the home, and a PostgreSQL database named by ``FERROFLOW_DATABASE_URL``."""

from __future__ import annotations

import pytest

from ferroflow import _core, cli
from ferroflow.cli.progress import render_summary
from ferroflow.cli.runs import format_duration, format_time
from ferroflow.states import Success
from ferroflow.store import SQLiteRunStore, SQLRunStore, default_store_path

S, F, TF, M = _core.SUCCESS, _core.FAILED, _core.TRIGGER_FAILED, _core.MAPPED
T0 = 1_795_000_000.0
RUN = "3f2a9c0d4e5b6a7f8091a2b3c4d5e6f7"
TASKS = [(0, "extract", "extract-1", False), (1, "transform", "transform-1", True), (2, "load", "load-1", False)]


@pytest.fixture
def filled(home, database_url, monkeypatch):
    """Three runs of two flows; RUN has a mapped task with failed children and logs. In
    the home's SQLite file, or in the PostgreSQL database of ``FERROFLOW_DATABASE_URL``."""
    if database_url.startswith("postgresql"):
        monkeypatch.setenv("FERROFLOW_DATABASE_URL", database_url)
        opened = SQLRunStore(database_url)
    else:
        opened = SQLiteRunStore(default_store_path())
    with opened as store:
        store.start_run(RUN, "etl", {"n": 30}, TASKS, T0)
        codes = bytearray([S]) * 30
        for i in (3, 7, 11, 12, 13):
            codes[i] = F
        store.record_report(RUN, [
            (0, None, S),
            (1, range(30), bytes(codes), {3: ("Error during execution of task: ValueError(3)", None, 2)}),
            (1, None, M),
            (2, None, TF, {-1: ('Trigger was "all_successful" but some of the upstream tasks failed.', None, None)}),
        ])
        store.record_width(RUN, 1, 30)
        store.record_logs(RUN, [
            (None, -1, T0 + 0.1, "INFO", "ferroflow", "flow starts"),
            (1, 3, T0 + 0.2, "ERROR", "ferroflow.task", "child 3 failed\nsecond line"),
            (1, 4, T0 + 0.3, "INFO", "ferroflow.task", "child 4 fine"),
            (0, -1, T0 + 0.4, "WARNING", "ferroflow.task", "extract warns"),
        ])
        store.end_run(RUN, "Failed", "Some reference tasks failed.", T0 + 75.0)
        store.start_run("3f2b0000000000000000000000000000", "etl", {}, TASKS, T0 + 100)
        store.start_run("aa00000000000000000000000000000a", "report", {}, [], T0 + 200)
        store.end_run("aa00000000000000000000000000000a", "Success", None, T0 + 200.5)
    return home


def where() -> str:
    """How the CLI names the store the tests filled."""
    from ferroflow.store.database import default_database_url, location_of

    return location_of(default_database_url())


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_without_a_store_creates_nothing(home, capsys):
    code, out, err = run_cli(capsys, "runs")
    assert code == 0, err
    assert out == f"No runs recorded yet ({home / 'runs.db'} does not exist).\n"
    assert not (home / "runs.db").exists()


def test_runs_table(filled, capsys):
    code, out, err = run_cli(capsys, "runs")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["RUN", "ID", "FLOW", "STATE", "STARTED", "DURATION"]
    assert lines[1].split() == ["aa00000000000000000000000000000a", "report", "Success",
                                *format_time(T0 + 200).split(), "0.50s"]
    assert lines[2].split() == ["3f2b0000000000000000000000000000", "etl", "Running",
                                *format_time(T0 + 100).split(), "running"]
    assert lines[3].split() == [RUN, "etl", "Failed", *format_time(T0).split(), "1m15s"]
    assert len(lines) == 4


def test_runs_limit_and_flow(filled, capsys):
    code, out, _ = run_cli(capsys, "runs", "--limit", "1")
    assert code == 0 and len(out.splitlines()) == 2 and "report" in out
    code, out, _ = run_cli(capsys, "runs", "--flow", "etl")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[1:]] == [
        "3f2b0000000000000000000000000000", RUN]
    code, out, _ = run_cli(capsys, "runs", "--flow", "nope")
    assert code == 0 and out == f"No runs of flow 'nope' recorded in {where()}.\n"
    code, _, err = run_cli(capsys, "runs", "--limit", "-3")
    assert code == 2 and "expected 0 or more" in err


def test_runs_show(filled, capsys):
    code, out, err = run_cli(capsys, "runs", "show", RUN)
    assert code == 0, err
    assert out.startswith(
        f"Run         {RUN}\n"
        "Flow        etl\n"
        "State       Failed: Some reference tasks failed.\n"
        f"Started     {format_time(T0)} (duration 1m15s)\n"
        'Parameters  {"n": 30}\n\n')
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split() == ["TASK", "STATE", "RUNS", "CHILDREN", "MESSAGE"]
    assert table[1].split() == ["extract", "Success", "1"]
    assert table[2].split() == ["transform", "Mapped", "1", "30:", "25", "Success,", "5", "Failed"]
    assert table[3].split()[:3] == ["load", "TriggerFailed", "1"]
    assert table[3].endswith('Trigger was "all_successful" but some of the upstream tasks failed.')
    assert out.split("\n\n")[2] == (
        "Failed children of transform (5):\n"
        "  [3] Failed: Error during execution of task: ValueError(3)\n"
        "  [7] Failed\n"
        "  [11] Failed\n"
        "  [12] Failed\n"
        "  [13] Failed\n")


def test_runs_show_limits_failed_children(filled, capsys):
    code, out, _ = run_cli(capsys, "runs", "show", RUN, "--failed", "2")
    assert code == 0
    assert out.split("\n\n")[2] == (
        "Failed children of transform (5):\n"
        "  [3] Failed: Error during execution of task: ValueError(3)\n"
        "  [7] Failed\n"
        f"  ... and 3 more (`ferroflow runs show {RUN} --failed 5` lists them)\n")


def test_runs_show_by_prefix(filled, capsys):
    code, out, _ = run_cli(capsys, "runs", "show", "3f2a")
    assert code == 0 and out.startswith(f"Run         {RUN}\n")
    code, out, _ = run_cli(capsys, "runs", "show", "aa")
    assert code == 0 and "State       Success\n" in out and "No tasks recorded." in out


def test_runs_show_unknown_or_ambiguous_run_id(filled, capsys):
    code, out, err = run_cli(capsys, "runs", "show", "nope")
    assert (code, out) == (2, "")
    assert err == (f"ferroflow: error: no run with id 'nope' in the run store {where()} "
                   "(see `ferroflow runs`)\n")
    code, _, err = run_cli(capsys, "runs", "show", "3f2")
    assert code == 2
    assert err.startswith("ferroflow: error: run id prefix '3f2' is ambiguous: it matches ")
    assert RUN in err and "3f2b0000000000000000000000000000" in err


def test_runs_show_without_a_store(home, capsys):
    code, _, err = run_cli(capsys, "runs", "show", RUN)
    assert code == 2
    assert err == f"ferroflow: error: no run with id '{RUN}': no run store at {home / 'runs.db'}\n"


def test_logs(filled, capsys):
    code, out, err = run_cli(capsys, "logs", RUN)
    assert code == 0, err
    assert out == (
        f"{format_time(T0 + 0.1, millis=True)}  INFO     (flow)  ferroflow: flow starts\n"
        f"{format_time(T0 + 0.2, millis=True)}  ERROR    transform[3]  ferroflow.task: child 3 failed\n"
        "    second line\n"
        f"{format_time(T0 + 0.3, millis=True)}  INFO     transform[4]  ferroflow.task: child 4 fine\n"
        f"{format_time(T0 + 0.4, millis=True)}  WARNING  extract  ferroflow.task: extract warns\n")


def test_logs_of_a_task_and_a_child(filled, capsys):
    code, out, _ = run_cli(capsys, "logs", RUN, "--task", "transform")
    assert code == 0 and [line.split("  ")[-1] for line in out.splitlines() if not line.startswith("    ")] == [
        "ferroflow.task: child 3 failed", "ferroflow.task: child 4 fine"]
    code, out, _ = run_cli(capsys, "logs", RUN[:6], "--task", "transform-1", "--map-index", "4")
    assert code == 0 and out.endswith("transform[4]  ferroflow.task: child 4 fine\n") and len(out.splitlines()) == 1
    code, out, _ = run_cli(capsys, "logs", RUN, "--task", "transform", "--map-index", "9")
    assert code == 0 and out == f"No logs recorded of task 'transform', child 9 for run {RUN}.\n"
    code, out, _ = run_cli(capsys, "logs", RUN, "--task", "load")
    assert code == 0 and out == f"No logs recorded of task 'load' for run {RUN}.\n"


def test_logs_usage_errors(filled, capsys):
    code, _, err = run_cli(capsys, "logs", RUN, "--map-index", "3")
    assert (code, err) == (2, "ferroflow: error: --map-index needs --task NAME\n")
    code, _, err = run_cli(capsys, "logs", RUN, "--task", "nope")
    assert code == 2
    assert err == f"ferroflow: error: run {RUN} has no task named 'nope' (tasks: extract, transform, load)\n"
    code, _, err = run_cli(capsys, "logs", "nope")
    assert code == 2 and "no run with id 'nope'" in err
    code, _, err = run_cli(capsys, "logs")
    assert code == 2 and "the following arguments are required: RUN_ID" in err
    for bad in ("-7", "two"):
        code, _, err = run_cli(capsys, "logs", RUN, "--task", "transform", "--map-index", bad)
        assert code == 2
        assert f"expected a child's index (0 or more) or -1 (the task itself), got '{bad}'" in err


def test_a_store_that_cannot_be_read_exits_1(home, capsys):
    home.mkdir()
    (home / "runs.db").write_bytes(b"garbage" * 200)
    for argv in (["runs"], ["runs", "show", RUN], ["logs", RUN]):
        code, _, err = run_cli(capsys, *argv)
        assert code == 1
        assert err.startswith(f"ferroflow: error: not a database: cannot open the run store {home / 'runs.db'}")


@pytest.mark.parametrize("argv", [["runs", "--help"], ["runs", "show", "--help"], ["logs", "--help"]])
def test_help(argv, capsys):
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and out.startswith("usage: ferroflow " + argv[0])


def test_in_a_subprocess(filled, run_python):
    proc = run_python("-m", "ferroflow", "runs", "show", RUN, env={"FERROFLOW_HOME": str(filled)})
    assert proc.returncode == 0, proc.stderr
    assert "Failed children of transform (5):" in proc.stdout
    proc = run_python("-m", "ferroflow", "logs", "missing", env={"FERROFLOW_HOME": str(filled)})
    assert proc.returncode == 2 and "no run with id 'missing'" in proc.stderr


@pytest.mark.parametrize("seconds, text", [(None, "-"), (0.3129, "0.31s"), (12.34, "12.3s"), (123, "2m03s"),
                                           (3725, "1h02m05s"), (9.996, "10.0s"), (59.96, "1m00s"),
                                           (3599.6, "1h00m00s"), (90061, "25h01m01s")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds, text", [(0.3129, "0.31s"), (3725.4, "1h02m05s")])
def test_runs_and_the_run_summary_write_a_duration_alike(home, capsys, seconds, text):
    """One duration format in the CLI: the ``ferroflow runs`` table and the summary that
    ``ferroflow run`` prints write the same time the same way."""
    with SQLiteRunStore(default_store_path()) as store:
        store.start_run(RUN, "etl", {}, [], T0)
        store.end_run(RUN, "Success", None, T0 + seconds)
    code, out, err = run_cli(capsys, "runs")
    assert code == 0, err
    assert out.splitlines()[1].split()[-1] == text
    summary = render_summary("etl", Success("All reference tasks succeeded.", {}), [("a", {"Success": 1})],
                             elapsed=seconds)
    assert summary.splitlines()[1].startswith(f"1 task runs in {text} (")
