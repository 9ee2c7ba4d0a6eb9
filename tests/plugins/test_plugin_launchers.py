"""Launchers register through the ``register_launchers`` hook like every other kind:
a plugin's launcher is found by name, a failing hook is reported and the built-in one
still loads, and a name already taken keeps its first registration."""

from __future__ import annotations

import pytest

from ferroflow import plugins
from ferroflow.errors import PluginError
from ferroflow.launchers import Launcher, get_launcher
from ferroflow.launchers.process import ProcessLauncher


class EchoLauncher(Launcher):
    name = "echo"

    def __init__(self, prefix: str = ""):
        self.prefix = prefix

    def launch(self, spec):  # pragma: no cover - never launched here
        raise NotImplementedError


class EchoPlugin:
    @plugins.hookimpl
    def register_launchers(self, register):
        register("echo", EchoLauncher)
        register("process", EchoLauncher)  # (taken by the built-in: refused)


class BrokenPlugin:
    @plugins.hookimpl
    def register_launchers(self, register):
        raise RuntimeError("no container runtime")


def test_a_plugin_launcher_is_built_with_its_options():
    with plugins.registered_plugin(EchoPlugin(), name="echo-plugin"):
        made = get_launcher("echo", prefix=">")
        assert isinstance(made, EchoLauncher) and made.prefix == ">"
        assert isinstance(get_launcher("process"), ProcessLauncher)  # (the first registration kept)
        record = [r for r in plugins.list_plugins() if r.name == "echo-plugin"][0]
        assert record.registrations == {"launchers": ["echo"]}
        assert any("launcher 'process' is already registered" in w for w in record.warnings)


def test_a_failing_launcher_hook_is_reported_and_the_builtin_still_loads():
    with plugins.registered_plugin(BrokenPlugin(), name="broken-launchers"):
        assert isinstance(get_launcher(), ProcessLauncher)
        record = [r for r in plugins.list_plugins() if r.name == "broken-launchers"][0]
        assert record.status == "failed" and "no container runtime" in record.error
        with pytest.raises(PluginError, match="Unknown launcher 'docker'"):
            get_launcher("docker")


def test_bad_options_name_the_launcher():
    with pytest.raises(PluginError, match="Could not create launcher 'process'.*nonsense"):
        get_launcher("process", nonsense=1)
