"""The plugin without a Ray instance of the tests: registration, options, resource tags,
addresses where no Ray cluster answers, and a flow run that starts and stops its own
local Ray instance."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from importlib.metadata import version

import psutil
import pytest

from ferroflow import Flow, plugins, task
from ferroflow.cli import main
from ferroflow.errors import ExecutorError
from ferroflow.plugins import get_executor
from ferroflow.testing.fixtures import free_port
from ferroflow_ray import RayExecutor, ray_options

# ----- registration -----------------------------------------------------------------------------


def test_ferroflow_plugins_lists_it(capsys):
    assert main(["plugins"]) == 0
    lines = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["ray", "ferroflow-ray", version("ferroflow-ray"), "ok", "executors:", "ferroflow-ray:ray"] in lines
    [record] = [r for r in plugins.list_plugins() if r.name == "ray"]
    assert record.ok and record.distribution == "ferroflow-ray"
    assert record.registrations == {"executors": ["ray"]}


def test_built_by_name_with_options():
    executor = get_executor("ray", address="10.0.0.5:6379", num_cpus_per_unit=2, max_in_flight=4)
    assert isinstance(executor, RayExecutor)
    assert (executor.address, executor.num_cpus_per_unit, executor.slots()) == ("10.0.0.5:6379", 2, 4)
    assert repr(executor) == "RayExecutor(address='10.0.0.5:6379')"


def test_loading_the_plugin_does_not_import_ray():
    # `ferroflow plugins` and every other command load the plugin: Ray is imported only
    # when a flow runs on it.
    code = ("import sys; from ferroflow.plugins import get_executor; get_executor('ray'); "
            "print('ray' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


@pytest.mark.parametrize("options, message", [
    ({"address": ""}, "address must be a Ray cluster address"),
    ({"init_kwargs": ["num_cpus", 2]}, "init_kwargs must be a dict"),
    ({"init_kwargs": {"address": "auto"}}, "not in init_kwargs"),
    ({"num_cpus_per_unit": -1}, "num_cpus_per_unit must be a number of CPUs >= 0"),
    ({"max_in_flight": 0}, "max_in_flight must be a positive integer"),
    ({"max_retries": "3"}, "max_retries must be an integer"),
    ({"connect_timeout": 0}, "connect_timeout must be a number of seconds > 0"),
    ({"check_resources": "False"}, "check_resources must be True or False \\(on the command line: "
                                   "check_resources=false\\), got 'False'"),
    ({"resources_from_tags": 0}, "resources_from_tags must be True or False"),
])
def test_options_are_checked(options, message):
    with pytest.raises((TypeError, ValueError), match=message):
        RayExecutor(**options)


# ----- resources from tags ----------------------------------------------------------------------


def test_resource_tags():
    tags = {"ray-num-cpus:2", "ray-num-gpus:0.5", "ray-resource:db=1", "ray-resource:licence=3",
            "nightly", "ray-tracing"}
    assert ray_options(tags) == {"num_cpus": 2, "num_gpus": 0.5, "resources": {"db": 1, "licence": 3}}
    assert ray_options(["nightly"]) == {}
    assert ray_options(["ray-num-cpus:2", "ray-num-cpus:2.0"]) == {"num_cpus": 2}


def test_a_resource_tag_of_0_asks_for_none():
    """ferroflow's one rule for resource tags (as with Dask): 0 is an amount, and asking
    for 0 of a resource restricts nothing; a unit may reserve no CPU."""
    assert ray_options(["ray-resource:db=0"], "load") == {}
    assert ray_options(["ray-resource:db=0", "ray-resource:licence=2"], "load") == {"resources": {"licence": 2}}
    assert ray_options(["ray-num-cpus:0", "ray-num-gpus:0"], "load") == {"num_cpus": 0, "num_gpus": 0}
    with pytest.raises(ExecutorError, match="Task 'load' has the tags 'ray-resource:db=0' and 'ray-resource:db=1', "
                                            "which ask Ray for different amounts of resource 'db'"):
        ray_options(["ray-resource:db=0", "ray-resource:db=1"], "load")


@pytest.mark.parametrize("tags, message", [
    (["ray-num-cpus:two"], "Task 'load' has the tag 'ray-num-cpus:two': 'two' is not an amount"),
    (["ray-num-gpus:-1"], "'-1' is not an amount"),
    (["ray-resource:db=nan"], "Task 'load' has the tag 'ray-resource:db=nan': 'nan' is not an amount of a custom Ray "
                              "resource (a number >= 0, as in 'ray-resource:db=1')"),
    (["ray-num-cpus:1", "ray-num-cpus:2"], "has the tags 'ray-num-cpus:1' and 'ray-num-cpus:2', which ask Ray "
                                           "for different amounts of CPU"),
    (["ray-resource:db"], "write a custom Ray resource as 'ray-resource:NAME=AMOUNT'"),
    (["ray-resource:GPU=1"], "ask for GPUs with 'ray-num-gpus:1'"),
    (["ray-num-cpu:2"], "'ray-num-cpu:2', which is not a Ray resource tag"),
])
def test_bad_resource_tags_name_the_task_and_the_tag(tags, message):
    with pytest.raises(ExecutorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ray_options(tags, "load")


# ----- addresses where no Ray cluster answers ---------------------------------------------------


@task
def inc(x):
    return x + 1


def _start(executor: RayExecutor) -> str:
    import ray

    with pytest.raises(ExecutorError) as error:
        executor.start()
    assert not ray.is_initialized()
    return str(error.value)


def test_nothing_listens_at_the_address():
    address = f"127.0.0.1:{free_port()}"
    message = _start(RayExecutor(address=address))
    assert message.startswith(f"Cannot reach the Ray cluster at address {address!r}: Connection refused")
    with Flow("nowhere") as flow:
        inc(1)
    state = flow.run(executor=RayExecutor(address=address))
    assert state.is_failed() and f"Cannot reach the Ray cluster at address {address!r}" in state.message


class _Server:
    """A TCP server on 127.0.0.1 that answers ``reply`` (or nothing) to each connection."""

    def __init__(self, reply):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.reply = reply
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.held: list = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.reply is None:
                self.held.append(conn)  # accepted, never answered
                continue
            with conn:
                conn.recv(1024)
                conn.sendall(self.reply)

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() of the serving thread
        self.sock.close()
        for conn in self.held:
            conn.close()
        self.thread.join()


@pytest.fixture
def tcp_server():
    servers = []

    def start(reply):
        servers.append(_Server(reply))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_something_else_listens_at_the_address(tcp_server):
    server = tcp_server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    message = _start(RayExecutor(address=server.address))
    assert message.startswith(f"Cannot use the Ray cluster at address {server.address!r}: something answers")
    assert "but not as a Ray head node" in message


def test_nothing_answers_at_the_address(tcp_server):
    server = tcp_server(None)
    message = _start(RayExecutor(address=f"ray://{server.address}", connect_timeout=0.2))
    assert message == (f"Cannot reach the Ray cluster at address 'ray://{server.address}': nothing answered on "
                       f"{server.address} within 0.2 s (RayExecutor connect_timeout)")


def test_an_address_that_is_not_host_and_port():
    message = _start(RayExecutor(address="127.0.0.1:head"))
    assert message == "The Ray address '127.0.0.1:head' is not HOST:PORT (port 'head' is not a port number)"


def test_the_ray_address_variable_is_checked_too(monkeypatch):
    address = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("RAY_ADDRESS", address)
    message = _start(RayExecutor())
    assert message.startswith(f"Cannot reach the Ray cluster at RAY_ADDRESS {address!r}")


# ----- the command line, with a Ray instance of its own ---------------------------------------


FLOW_FILE = """
import os
from ferroflow import Flow, task

@task
def where(x):
    return os.getpid()

with Flow("own") as flow:
    pids = where.map(list(range(4)))
"""


def _ray_processes() -> set:
    found = set()
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("raylet", "gcs_server"):
            found.add(proc.pid)
    return found


def test_ferroflow_run_reports_an_address_where_nothing_listens(tmp_path):
    (tmp_path / "flow.py").write_text(FLOW_FILE)
    address = f"127.0.0.1:{free_port()}"
    done = subprocess.run([sys.executable, "-m", "ferroflow", "run", "flow.py", "-e", "ray", "-o", f"address={address}",
                           "--no-progress", "--no-record"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1
    assert f"Cannot reach the Ray cluster at address '{address}': Connection refused" in done.stdout + done.stderr


OWN_FLOW_FILE = """
from ferroflow import Flow, task
import helpers                        # a module next to this file

@task
def double(x):
    return helpers.twice(x)

@task
def total(xs):
    return sum(xs)

with Flow("own") as flow:
    total(double.map(list(range(100))))
"""


def test_ferroflow_run_starts_and_stops_a_local_ray_instance(tmp_path):
    before = _ray_processes()
    project = tmp_path / "project"
    project.mkdir()
    (project / "flow.py").write_text(OWN_FLOW_FILE)
    (project / "helpers.py").write_text("def twice(x):\n    return 2 * x\n")
    init = {"num_cpus": 1, "object_store_memory": 100_000_000, "include_dashboard": False}
    # Run from another directory: Ray's workers still import `helpers` from the flow's.
    done = subprocess.run([sys.executable, "-m", "ferroflow", "run", "project/flow.py", "-e", "ray",
                           "-o", f"init_kwargs={json.dumps(init)}", "--no-progress", "--no-record"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Started a local Ray instance" in done.stderr
    assert "100 children: Success 100" in done.stdout, done.stdout
    # The executor started it, so it stopped it: none of its processes is left.
    assert _ray_processes() <= before


def test_slots_need_a_cluster_or_max_in_flight():
    with pytest.raises(RuntimeError, match=r"RayExecutor.slots\(\) before start\(\)"):
        RayExecutor().slots()
