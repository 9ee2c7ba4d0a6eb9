"""The plugin from the command line: listed by `ferroflow plugins`, selected with
`ferroflow run --executor dask`, reaching a running cluster by its address or
starting one of its own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from importlib.metadata import version

import pytest

FLOW = textwrap.dedent("""
    import json, os
    from ferroflow import Flow, Parameter, task

    @task
    def pid(x):
        return os.getpid()

    @task
    def save(values, path):
        with open(path, "w") as f:
            json.dump(sorted(set(values)), f)

    with Flow("small") as flow:
        save(pid.map(list(range(200))), Parameter("out"))
""")


def _ferroflow(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ferroflow", *args], capture_output=True, text=True,
                          timeout=timeout)  # a hang guard only


def test_ferroflow_plugins_lists_it():
    out = _ferroflow("plugins")
    assert out.returncode == 0, out.stderr
    [line] = [line for line in out.stdout.splitlines() if line.startswith("dask ")]
    assert line.split() == ["dask", "ferroflow-dask", version("ferroflow-dask"), "ok", "executors:",
                            "ferroflow-dask:dask"]


@pytest.fixture
def flow_file(tmp_path):
    path = tmp_path / "small_flow.py"
    path.write_text(FLOW)
    return path


def test_run_on_a_cluster_by_address(flow_file, address, client):
    saved = flow_file.parent / "pids.json"
    out = _ferroflow("run", str(flow_file), "--no-progress", "--param", f"out={saved}", "--executor", "dask",
                     "--executor-option", f"address={address}")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Flow 'small': Success"), out.stdout
    workers = set(client.run(os.getpid).values())
    ran_on = set(json.loads(saved.read_text()))
    assert ran_on <= workers, (ran_on, workers)  # the task runs ran on the cluster's workers


def test_run_on_a_cluster_of_its_own(flow_file):
    # No `if __name__ == "__main__":` guard is needed under `ferroflow run`.
    saved = flow_file.parent / "pids.json"
    out = _ferroflow("run", str(flow_file), "--no-progress", "--param", f"out={saved}", "--executor", "dask",
                     "--executor-option", 'cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, '
                                          '"dashboard_address": ":0"}')
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Flow 'small': Success"), out.stdout
    assert len(json.loads(saved.read_text())) >= 1


def test_a_bad_address_on_the_command_line(flow_file):
    out = _ferroflow("run", str(flow_file), "--no-progress", "--param", "out=unused", "--executor", "dask",
                     "--executor-option", "address=nonsense://x")
    assert out.returncode == 1, out.stderr
    assert "'nonsense://x' is not a Dask scheduler address" in out.stdout + out.stderr


SLOW_FLOW = textwrap.dedent("""
    import os, time
    from ferroflow import Flow, Parameter, task, unmapped

    @task
    def slow(x, marker):
        open(marker, "a").close()
        time.sleep(0.2)
        return x

    with Flow("slow") as flow:
        slow.map(list(range(80)), marker=unmapped(Parameter("marker")))
""")


def test_ctrl_c_on_the_command_line_cancels_the_run(tmp_path, address):
    path = tmp_path / "slow_flow.py"
    path.write_text(SLOW_FLOW)
    marker = tmp_path / "started"
    proc = subprocess.Popen([sys.executable, "-m", "ferroflow", "run", str(path), "--no-progress",
                             "--param", f"marker={marker}", "--executor", "dask",
                             "--executor-option", f"address={address}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120  # a hang guard only
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert marker.exists(), proc.communicate()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)  # a hang guard only
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Flow 'slow': Cancelled" in out, out
