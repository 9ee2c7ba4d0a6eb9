"""The launcher conformance suite for the ``fork`` launcher, forking for real (never
falling back to a new process). Not collected by the suite itself (its name does not
start with ``test_``): a pytest process that ran other tests has threads, and forking it
would be refused, so ``test_fork_launcher.py`` runs this module in a fresh pytest
process."""

from __future__ import annotations

import os

from ferroflow.launchers.fork import ForkLauncher
from ferroflow.testing.launchers import LauncherConformance


class TestForkLauncher(LauncherConformance):
    @staticmethod
    def launcher_factory():
        return ForkLauncher(fallback=False)


class TestForkLauncherWithLogDir(LauncherConformance):
    """The same suite with each run's output written to a file."""

    @staticmethod
    def launcher_factory():
        return ForkLauncher(log_dir=os.path.join(os.environ["FERROFLOW_HOME"], "launch-logs"), fallback=False)
