"""The launcher conformance suite: what every launcher, built in or from a plugin, must
get right.

Subclass :class:`LauncherConformance` in a test module and say how to build your
launcher; pytest collects the class (its name must start with ``Test``) and runs every
test below against it::

    from ferroflow.testing.launchers import LauncherConformance

    class TestMyLauncher(LauncherConformance):
        launcher_factory = MyLauncher              # or: lambda: MyLauncher(image="...")

or, without a class statement::

    from ferroflow.testing.launchers import launcher_conformance

    TestMyLauncher = launcher_conformance(lambda: MyLauncher(image="..."))

``launcher_factory`` is called with no arguments once per test and must return a new
launcher (closed after the test). Each test writes a small flow file into its
``tmp_path`` and launches real runs of it through the launcher: a run ends with exit 0
and its side effect, its parameters, environment and working directory arrive; a
failing flow exits 1; a bad entrypoint, a missing flow or invalid parameters exit 3
with the run recorded ``Failed`` and the reason; ``interrupt()`` ends a run with 130,
recorded ``Cancelled``; ``kill()`` leaves no process of the run behind (the flow
spawns a grandchild; both must be gone); ``poll()`` never blocks; the API key reaches
the run through its environment and never appears on a command line
(``/proc/PID/cmdline``).

Runs record into a private ``FERROFLOW_HOME`` in ``tmp_path`` (never the user's
``~/.ferroflow``), passed to the run through ``LaunchSpec.env`` as well. The suite
assumes the launched run sees this machine's file system at the same paths (a container
launcher mounts ``tmp_path``) and, for the process checks, its process ids: override
:meth:`LauncherConformance.process_gone` and :meth:`LauncherConformance.command_line`
for a launcher whose runs live in another pid namespace.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ferroflow.launchers.base import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_STARTED,
    EXIT_SUCCESS,
    Launched,
    Launcher,
    LaunchSpec,
)
from ferroflow.testing.kit import ConformanceKit

__all__ = ["FLOW_FILE", "LauncherConformance", "launcher_conformance"]

#: The flow file the suite writes (as ``flows.py``) into each test's working directory.
FLOW_FILE = '''\
"""Flows of the launcher conformance suite (ferroflow.testing.launchers)."""
import hashlib
import json
import os
import subprocess
import sys
import time

from ferroflow import Flow, Parameter, task


@task
def record(out, value):
    report = {
        "value": value,
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "marker": os.environ.get("FERROFLOW_CONFORMANCE_MARKER"),
        "key_sha256": hashlib.sha256(os.environ.get("FERROFLOW_API_KEY", "").encode()).hexdigest(),
    }
    with open(out + ".tmp", "w") as f:
        json.dump(report, f)
    os.replace(out + ".tmp", out)
    return value


@task
def explode():
    raise RuntimeError("this flow fails on purpose")


@task
def linger(pids):
    # A grandchild in the run's process group, then a long sleep: only interrupt()
    # or kill() ends this run.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    with open(pids + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {child.pid}")
    os.replace(pids + ".tmp", pids)
    try:
        time.sleep(600)
    finally:
        child.terminate()
    return "woke up"


with Flow("conformance-ok") as ok:
    record(Parameter("out"), Parameter("value", default=None))

with Flow("conformance-fails") as fails:
    explode()

with Flow("conformance-lingers") as lingers:
    linger(Parameter("pids"))
'''

#: Seconds to wait for a launched run (generous: it only keeps a broken launcher from
#: hanging the suite; nothing here asserts how long anything took).
TIMEOUT = 120.0


class LauncherConformance(ConformanceKit):
    """Tests every launcher must pass; see the module docstring. Set
    ``launcher_factory`` in a subclass named ``Test...``. Each test has a time limit
    of its own (:mod:`ferroflow.testing.kit`, 120 s), on the main thread (a launcher
    may fork)."""

    bound_on_main_thread = True

    #: Called with no arguments: returns a new launcher. Required.
    launcher_factory: Callable[[], Launcher] | None = None

    # ----- setup -----------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _conformance_setup(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
        self.home = tmp_path / "ferroflow-home"
        self.workdir = tmp_path / "work"
        self.workdir.mkdir()
        (self.workdir / "flows.py").write_text(FLOW_FILE)
        monkeypatch.setenv("FERROFLOW_HOME", str(self.home))
        for name in ("FERROFLOW_API_URL", "FERROFLOW_DATABASE_URL", "FERROFLOW_RECORD", "FERROFLOW_API_KEY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.chdir(tmp_path)  # (not the working directory of the runs)
        self.launched: list[Launched] = []
        self.run_ids: dict[int, str] = {}  # id(handle) -> its run's id
        self.launcher = self.make_launcher()
        try:
            yield
        finally:
            for handle in self.launched:
                if handle.poll() is None:
                    handle.kill()
            self.launcher.close()

    def make_launcher(self) -> Launcher:
        factory = type(self).launcher_factory
        if factory is None:
            raise TypeError(f"{type(self).__name__} must set launcher_factory (a callable returning a launcher)")
        return factory()

    def spec(self, flow: str = "ok", parameters: dict | None = None, **fields: Any) -> LaunchSpec:
        """A spec of a new run of the suite's flow ``flow`` (a fresh run id and lease)."""
        names = {"ok": "conformance-ok", "fails": "conformance-fails", "lingers": "conformance-lingers"}
        env = {"FERROFLOW_HOME": str(self.home), **fields.pop("env", {})}
        values: dict[str, Any] = {"entrypoint": f"flows.py:{flow}", "working_dir": str(self.workdir)}
        values.update(fields)
        return LaunchSpec(run_id=secrets.token_hex(16), lease=secrets.token_hex(16),
                          flow_name=names.get(flow, flow), parameters=parameters or {}, env=env, **values)

    def launch(self, spec: LaunchSpec) -> Launched:
        handle = self.launcher.launch(spec)
        self.launched.append(handle)
        self.run_ids[id(handle)] = spec.run_id
        assert isinstance(handle, Launched), f"launch() must return a Launched, got {handle!r}"
        assert isinstance(handle.description, str) and handle.description, "Launched.description is empty"
        return handle

    def finish(self, handle: Launched) -> int:
        code = handle.wait(TIMEOUT)
        assert code is not None, f"the run {handle.description} did not end within {TIMEOUT} s"
        return code

    def recorded(self, run_id: str) -> Any:
        """The run as the private store has it (None: not recorded)."""
        from ferroflow.store.config import STORE_FILE
        from ferroflow.store.sqlite import SQLiteRunStore

        path = self.home / STORE_FILE
        if not path.exists():
            return None
        store = SQLiteRunStore(str(path))
        try:
            return store.get_run(run_id)
        finally:
            store.close()

    def wait_for_file(self, path: Path, handle: Launched) -> str:
        deadline = time.monotonic() + TIMEOUT
        while not path.exists():
            code = handle.poll()
            assert code is None, f"the run {handle.description} ended with {code} before writing {path.name}"
            assert time.monotonic() < deadline, f"the run {handle.description} did not write {path.name}"
            time.sleep(0.05)
        return path.read_text()

    def process_gone(self, pid: int) -> bool:
        """Whether process ``pid`` no longer runs (gone, or a zombie waiting to be reaped)."""
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return True

    def command_line(self, pid: int) -> str:
        """The command line of process ``pid``, its arguments joined by spaces."""
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")

    def lingering(self, **fields: Any) -> tuple[Launched, int, int]:
        """Launch the lingering flow; return its handle and the pids of the process
        running it and of its grandchild, once both run."""
        pids = self.workdir / f"pids-{secrets.token_hex(4)}"
        handle = self.launch(self.spec("lingers", {"pids": str(pids)}, **fields))
        flow_pid, child_pid = map(int, self.wait_for_file(pids, handle).split())
        return handle, flow_pid, child_pid

    # ----- the tests -----------------------------------------------------------------

    def test_a_run_succeeds_with_its_side_effect_and_parameters(self):
        out = self.workdir / "out.json"
        value = {"text": "héllo", "numbers": [1, 2.5, None], "nested": {"ok": True}}
        spec = self.spec("ok", {"out": str(out), "value": value})
        handle = self.launch(spec)
        assert self.finish(handle) == EXIT_SUCCESS
        report = json.loads(out.read_text())
        assert report["value"] == value
        run = self.recorded(spec.run_id)
        assert run is not None and run.state == "Success", run
        assert run.flow_name == "conformance-ok"

    def test_working_directory_and_environment_arrive(self):
        spec = self.spec("ok", {"out": "relative-out.json"}, env={"FERROFLOW_CONFORMANCE_MARKER": "m-42"})
        assert self.finish(self.launch(spec)) == EXIT_SUCCESS
        report = json.loads((self.workdir / "relative-out.json").read_text())
        assert os.path.realpath(report["cwd"]) == os.path.realpath(self.workdir)
        assert report["marker"] == "m-42"

    def test_a_failing_flow_exits_1_and_is_recorded_failed(self):
        spec = self.spec("fails")
        assert self.finish(self.launch(spec)) == EXIT_FAILED
        run = self.recorded(spec.run_id)
        assert run is not None and run.state == "Failed", run

    @pytest.mark.parametrize("entrypoint, reason", [
        ("missing.py:ok", "missing.py"),
        ("flows.py:no_such_flow", "no_such_flow"),
        ("no_such_package_xyz.module:ok", "no_such_package_xyz"),
    ])
    def test_a_bad_entrypoint_exits_3_and_the_run_is_recorded_failed(self, entrypoint, reason):
        spec = self.spec("ok", {"out": "never.json"}, entrypoint=entrypoint)
        assert self.finish(self.launch(spec)) == EXIT_NOT_STARTED
        run = self.recorded(spec.run_id)
        assert run is not None and run.state == "Failed", run
        assert reason in (run.message or ""), run.message
        assert entrypoint in (run.message or ""), run.message
        assert not (self.workdir / "never.json").exists()

    def test_invalid_parameters_exit_3_and_the_run_is_recorded_failed(self):
        spec = self.spec("ok", {"value": 1, "unexpected_param": 2})  # no out, one unknown
        assert self.finish(self.launch(spec)) == EXIT_NOT_STARTED
        run = self.recorded(spec.run_id)
        assert run is not None and run.state == "Failed", run
        assert "unexpected_param" in (run.message or "") and "out" in (run.message or ""), run.message

    def test_an_unknown_executor_exits_3(self):
        spec = self.spec("ok", {"out": "never.json"}, executor="no-such-executor")
        assert self.finish(self.launch(spec)) == EXIT_NOT_STARTED
        run = self.recorded(spec.run_id)
        assert run is not None and run.state == "Failed" and "no-such-executor" in (run.message or ""), run

    def test_interrupt_ends_the_run_cancelled_with_130(self):
        handle, flow_pid, child_pid = self.lingering()
        assert handle.poll() is None
        handle.interrupt()
        assert self.finish(handle) == EXIT_INTERRUPTED
        run = self.recorded(self.run_ids[id(handle)])
        assert run is not None and run.state == "Cancelled", run
        handle.interrupt()  # (after the end: harmless)

    def test_kill_leaves_no_process_behind(self):
        handle, flow_pid, child_pid = self.lingering()
        handle.kill()
        code = handle.wait(TIMEOUT)
        assert code is not None and code != EXIT_SUCCESS
        deadline = time.monotonic() + TIMEOUT
        while not (self.process_gone(flow_pid) and self.process_gone(child_pid)):
            assert time.monotonic() < deadline, f"processes of the killed run still run: {flow_pid} {child_pid}"
            time.sleep(0.05)
        handle.kill()  # (after the end: harmless)

    def test_poll_never_blocks(self):
        handle, _, _ = self.lingering()
        answers: list = []
        poller = threading.Thread(target=lambda: answers.extend(handle.poll() for _ in range(50)), daemon=True)
        poller.start()
        poller.join(TIMEOUT)  # (the run sleeps 600 s: a blocking poll() would still be in it)
        assert not poller.is_alive(), "poll() blocked while the run was running"
        assert answers == [None] * 50
        assert handle.wait(0.01) is None
        handle.kill()
        assert handle.wait(TIMEOUT) is not None
        assert handle.poll() is not None

    def test_the_api_key_is_in_the_environment_never_on_a_command_line(self):
        key = "ffk-conformance-" + secrets.token_hex(16)
        out = self.workdir / "key.json"
        spec = self.spec("ok", {"out": str(out)}, api_key=key)
        assert key not in spec.to_json() and key not in repr(spec)
        assert self.finish(self.launch(spec)) == EXIT_SUCCESS
        assert json.loads(out.read_text())["key_sha256"] == hashlib.sha256(key.encode()).hexdigest()
        handle, flow_pid, child_pid = self.lingering(api_key=key)
        for pid in (flow_pid, child_pid):
            assert key not in self.command_line(pid)
        assert key not in handle.description and key not in repr(handle)


def launcher_conformance(factory: Callable[[], Launcher]) -> type:
    """A :class:`LauncherConformance` subclass running the suite against ``factory``
    (bind it to a module-level name starting with ``Test``)."""
    return type("TestLauncherConformance", (LauncherConformance,), {"launcher_factory": staticmethod(factory)})
