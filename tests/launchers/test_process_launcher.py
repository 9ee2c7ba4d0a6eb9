"""The built-in "process" launcher passes the launcher conformance suite."""

from __future__ import annotations

from ferroflow.launchers.process import ProcessLauncher
from ferroflow.testing.launchers import LauncherConformance


class TestProcessLauncher(LauncherConformance):
    launcher_factory = ProcessLauncher
