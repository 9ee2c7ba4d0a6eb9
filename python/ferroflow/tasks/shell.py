"""``ShellTask``: run a shell command as a task, as Prefect 1's
``prefect.tasks.shell.ShellTask`` does.

The command (after an optional ``helper_script``) is written to a temporary file and
run by ``shell`` (default ``bash``) with stderr merged into stdout. The task's result
is the last line of output (``None`` when there is none), or every line with
``return_all=True``. A non-zero exit code logs ``Command failed with exit code N`` and
raises ``FAIL`` with that message, the output as its result, so the run is ``Failed``
and retried like any failure. The command itself is never logged nor put in a
message: it may hold secrets. See ``docs/task-library.md``.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from typing import Any

from ferroflow import signals
from ferroflow.core.task import Task

__all__ = ["ShellTask"]


def _log_level(stream_output: bool | int | str) -> int:
    """The logging level to stream output at (0: do not stream): ``True`` is INFO, a
    level name is looked up as the ``logging`` module spells it (``"DEBUG"``)."""
    if stream_output is True:
        return logging.INFO
    if stream_output is False or stream_output is None:
        return 0
    if isinstance(stream_output, str):
        level = logging.getLevelName(stream_output)
        if not isinstance(level, int):
            raise TypeError(f"'stream_output': {stream_output!r} is not a valid log level "
                            "(give True, a level number or a name such as 'INFO')")
        return level
    if isinstance(stream_output, int):
        return stream_output
    raise TypeError(f"'stream_output' must be a bool, a level number or a level name, got {stream_output!r}")


class ShellTask(Task):
    """Run a shell command; its output is the result.

    ``command``, ``env`` and ``helper_script`` are defaults that the task's inputs of
    the same names replace when given (``task(command="ls")``). ``env`` is added to
    this process's environment. ``helper_script`` runs before the command in the same
    shell (to ``cd`` somewhere or define functions). ``return_all=True`` returns
    every line as a list instead of the last one. ``log_stderr=True`` logs the output
    (the last line, or all with ``return_all``) at ERROR when the command fails;
    ``stream_output`` logs each line as it comes (``True`` at INFO, or a level number
    or name), and then the output is not logged again on failure. Other keyword
    arguments are Task options (``name``, ``max_retries``, ``timeout``...).

    Lines are decoded as UTF-8 (an invalid byte becomes U+FFFD) and stripped of
    trailing whitespace. When the task run ends early (its timeout expires in the
    main thread, Ctrl-C), the shell process is killed rather than waited for.
    """

    def __init__(
        self,
        command: str | None = None,
        env: dict | None = None,
        helper_script: str | None = None,
        shell: str = "bash",
        return_all: bool = False,
        log_stderr: bool = False,
        stream_output: bool | int | str = False,
        **task_kwargs: Any,
    ):
        self.command = command
        self.env = env
        self.helper_script = helper_script
        self.shell = shell
        self.return_all = return_all
        self.log_stderr = log_stderr
        self.stream_output = _log_level(stream_output)
        super().__init__(**task_kwargs)

    def run(
        self, command: str | None = None, env: dict | None = None, helper_script: str | None = None
    ) -> str | list[str] | None:
        """Run ``command`` (default: the task's), after ``helper_script``, with ``env``
        added to the environment; return the last line of output, or all of them
        with ``return_all``. A non-zero exit code raises ``FAIL``."""
        command = self.command if command is None else command
        env = self.env if env is None else env
        helper_script = self.helper_script if helper_script is None else helper_script
        if command is None:
            raise TypeError("run() missing required argument: 'command'")
        with tempfile.NamedTemporaryFile(prefix="ferroflow-shell-") as script:
            if helper_script:
                script.write(helper_script.encode() + os.linesep.encode())
            script.write(command.encode())
            script.flush()
            lines, last, code = self._execute(script.name, env)
        output = lines if self.return_all else last
        if code:
            message = f"Command failed with exit code {code}"
            self.logger.error(message)
            if self.log_stderr and not self.stream_output:
                self.logger.error("\n".join(lines) if self.return_all else last)
            raise signals.FAIL(message, result=output)
        return output

    def _execute(self, path: str, env: dict | None) -> tuple:
        """Run the script at ``path``; return ``(lines kept, last line, exit code)``."""
        lines: list[str] = []
        last = None
        with subprocess.Popen(
            [self.shell, path],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            shell=sys.platform == "win32",  # Windows looks the shell up on PATH only then
        ) as process:
            assert process.stdout is not None  # stdout=PIPE
            try:
                for raw in iter(process.stdout.readline, b""):
                    last = raw.decode("utf-8", errors="replace").rstrip()
                    if self.return_all:
                        lines.append(last)
                    if self.stream_output:
                        self.logger.log(self.stream_output, last)
                process.wait()
            except BaseException:
                process.kill()  # a timeout or Ctrl-C: do not wait for the command to end
                raise
        return lines, last, process.returncode
