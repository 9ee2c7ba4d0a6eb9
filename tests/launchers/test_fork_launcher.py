"""The built-in "fork" launcher: it passes the launcher conformance suite; it really
forks (when the worker has one thread) and falls back to a new process otherwise."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from tests.support.servers import child_env


def test_it_passes_the_conformance_suite_forking_for_real(tmp_path):
    suite = Path(__file__).with_name("fork_suite.py")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
                          capture_output=True, text=True, timeout=900, cwd=Path(__file__).parents[2],
                          env=child_env({"FERROFLOW_HOME": str(tmp_path / "home")}))
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout.splitlines()[-1]


CHECK = """
import json, os, secrets, sys, threading, time
from ferroflow.launchers import LaunchSpec
from ferroflow.launchers.fork import ForkLaunched, ForkLauncher

work = sys.argv[1]
with open(os.path.join(work, "flows.py"), "w") as f:
    f.write("from ferroflow import Flow, task\\n@task\\ndef one():\\n    return 1\\n"
            "with Flow('one') as flow:\\n    one()\\n")
launcher = ForkLauncher()
def spec():
    return LaunchSpec(run_id=secrets.token_hex(16), lease=secrets.token_hex(16), flow_name="one",
                      entrypoint="flows.py:flow", parameters={}, working_dir=work)
alone = launcher.launch(spec())
forked = isinstance(alone, ForkLaunched)
code = alone.wait(120)
stop = threading.Event()
busy = threading.Thread(target=stop.wait)
busy.start()
other = launcher.launch(spec())
spawned = not isinstance(other, ForkLaunched)
other_code = other.wait(120)
stop.set()
print(json.dumps([forked, code, spawned, other_code]))
"""


def test_it_forks_a_single_threaded_worker_and_spawns_otherwise(tmp_path):
    done = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path)], capture_output=True, text=True, timeout=300,
                          env=child_env({"FERROFLOW_HOME": str(tmp_path / "home"), "FERROFLOW_RECORD": "0"}))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[true, 0, true, 0]", done.stderr
    assert "forking it is unsafe" in done.stderr


def test_threads_are_counted_by_the_operating_system():
    from ferroflow.launchers.fork import _threads

    before = _threads()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert _threads() == before + 1
    finally:
        stop.set()
        thread.join()
