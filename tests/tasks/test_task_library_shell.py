"""``ferroflow.tasks.shell.ShellTask``: results, the state, message, result and log
lines of a failing command, retries, options, and a timeout that stops the command.
The states, messages, results and log lines expected here are those of Prefect
1.4.1's ShellTask for the same commands (checked with /work/p1venv)."""

from __future__ import annotations

import logging
import os
import pathlib
from datetime import timedelta

import pytest

from ferroflow import Flow
from ferroflow.tasks import ShellTask


def run_one(shell_task, **inputs):
    """Run ``shell_task`` alone in a flow; return its state and the handler
    transitions it went through."""
    seen = []

    def watch(task, old, new):
        seen.append(f"{type(old).__name__} -> {type(new).__name__}: {new.message}")

    with Flow("shell") as flow:
        ran = shell_task(**inputs)
    ran.state_handlers = [watch]
    state = flow.run()
    return state.result[ran], seen


def task_logs(state):
    return [(entry.level, entry.message) for entry in state.logs if entry.logger.startswith("ferroflow.task")]


@pytest.mark.parametrize("command, return_all, expected", [
    ("echo a; echo b", False, "b"),
    ("echo a; echo b", True, ["a", "b"]),
    ("true", False, None),
    ("true", True, []),
    ("printf 'no newline'", False, "no newline"),
    ("echo; echo", True, ["", ""]),
    ("echo 'trailing   '", False, "trailing"),
    ("printf 'caf\\xc3\\xa9\\n'", False, "café"),
    ("echo out; echo err >&2", True, ["out", "err"]),  # stderr is merged into stdout
])
def test_the_result_is_the_output(command, return_all, expected):
    state, seen = run_one(ShellTask(command=command, return_all=return_all))
    assert state.is_successful() and state.message == "Task run succeeded."
    assert state.result == expected
    assert seen == ["Pending -> Running: Starting task run.", "Running -> Success: Task run succeeded."]


def test_a_failing_command_fails_with_its_exit_code_and_last_line():
    state, seen = run_one(ShellTask(command="echo a; echo b; exit 3"))
    assert state.is_failed() and type(state).__name__ == "Failed"
    assert state.message == "Command failed with exit code 3"
    assert state.result == "b"
    assert seen == ["Pending -> Running: Starting task run.", "Running -> Failed: Command failed with exit code 3"]
    assert task_logs(state) == [("ERROR", "Command failed with exit code 3")]


def test_log_stderr_logs_the_output_of_a_failing_command():
    state, _ = run_one(ShellTask(command="echo a; echo b; exit 3", return_all=True, log_stderr=True))
    assert state.result == ["a", "b"]
    assert task_logs(state) == [("ERROR", "Command failed with exit code 3"), ("ERROR", "a\nb")]
    state, _ = run_one(ShellTask(command="echo a; echo b >&2; exit 3", log_stderr=True))
    assert task_logs(state) == [("ERROR", "Command failed with exit code 3"), ("ERROR", "b")]


def test_stream_output_logs_each_line_and_then_not_again():
    state, _ = run_one(ShellTask(command="echo a; echo b; exit 2", stream_output=True, log_stderr=True))
    assert state.message == "Command failed with exit code 2" and state.result == "b"
    assert task_logs(state) == [("INFO", "a"), ("INFO", "b"), ("ERROR", "Command failed with exit code 2")]


def test_stream_output_at_a_given_level():
    state, _ = run_one(ShellTask(command="echo a", stream_output="WARNING"))
    assert task_logs(state) == [("WARNING", "a")]
    assert ShellTask(stream_output="WARNING").stream_output == logging.WARNING
    assert ShellTask(stream_output=5).stream_output == 5
    assert ShellTask(stream_output=True).stream_output == logging.INFO
    assert not ShellTask().stream_output


@pytest.mark.parametrize("bad", ["FOO", "warning"])  # level names are case-sensitive, as in logging
def test_an_unknown_level_name_is_refused(bad):
    with pytest.raises(TypeError, match=f"^'stream_output': '{bad}' is not a valid log level"):
        ShellTask(stream_output=bad)


def test_a_failing_command_is_retried(tmp_path):
    attempts = tmp_path / "attempts"
    state, seen = run_one(ShellTask(command=f"echo x >> {attempts}; exit 4", max_retries=1,
                                    retry_delay=timedelta(0)))
    assert state.is_failed() and state.message == "Command failed with exit code 4"
    assert attempts.read_text() == "x\nx\n"
    assert seen[0] == "Pending -> Running: Starting task run."
    assert seen[1] == "Running -> Failed: Command failed with exit code 4"
    assert seen[2].startswith("Failed -> Retrying")
    assert seen[-1] == "Running -> Failed: Command failed with exit code 4"


def test_no_command_is_a_type_error():
    state, _ = run_one(ShellTask())
    assert state.is_failed()
    assert state.message == ("Error during execution of task: "
                             "TypeError(\"run() missing required argument: 'command'\")")


def test_env_and_helper_script():
    state, _ = run_one(ShellTask(command='echo "$FOO"; echo "$(greet)"', env={"FOO": "bar"},
                                 helper_script="greet() { echo hi; }", return_all=True))
    assert state.result == ["bar", "hi"]


def test_the_environment_is_this_process_s_plus_env(monkeypatch):
    monkeypatch.setenv("FERROFLOW_SHELL_TEST", "inherited")
    state, _ = run_one(ShellTask(command='echo "$FERROFLOW_SHELL_TEST $EXTRA"', env={"EXTRA": "added"}))
    assert state.result == "inherited added"


def test_inputs_replace_the_defaults():
    state, _ = run_one(ShellTask(command="echo default", env={"X": "1"}),
                       command='echo "override $X"', env={"X": "2"})
    assert state.result == "override 2"


def test_another_shell():
    state, _ = run_one(ShellTask(command='echo "$0"', shell="sh"))
    assert pathlib.Path(state.result).name.startswith("ferroflow-shell-")
    assert not pathlib.Path(state.result).exists()  # the script file is removed


def test_a_command_killed_by_a_signal():
    state, _ = run_one(ShellTask(command="echo going; kill -9 $$"))
    assert state.message == "Command failed with exit code -9" and state.result == "going"


def test_undecodable_output_is_replaced_not_fatal():
    # Prefect 1.4.1 fails the task with a UnicodeDecodeError (deliberate difference).
    state, _ = run_one(ShellTask(command="printf 'a\\xffb\\n'"))
    assert state.is_successful() and state.result == "a\ufffdb"


def test_the_command_stays_out_of_messages_and_logs():
    state, _ = run_one(ShellTask(command="exit 5 # token=s3cr3t", log_stderr=True))
    assert state.message == "Command failed with exit code 5"
    assert not any("s3cr3t" in message for _, message in task_logs(state))


def test_a_timeout_kills_the_command(tmp_path):
    # On the local executor the timeout interrupts the task run in the main thread;
    # the shell is killed instead of waited for (it would sleep for 10 minutes).
    pid_file = tmp_path / "pid"
    state, _ = run_one(ShellTask(command=f"echo $$ > {pid_file}; exec sleep 600", timeout=1))
    assert type(state).__name__ == "TimedOut"
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped


def test_a_task_instance_called_with_upstream_tasks_only():
    first = ShellTask(name="first", command="echo one")
    second = ShellTask(name="second", command="echo two")
    with Flow("chain") as flow:
        ran = second(upstream_tasks=[first])
    state = flow.run()
    assert state.is_successful() and state.result[ran].result == "two"
    assert {flow.slugs[t] for t in flow.upstream_tasks(ran)} == {"first-1"}
