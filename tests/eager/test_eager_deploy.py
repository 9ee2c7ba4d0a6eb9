"""Eager flows (``@flow`` functions) deployed and run by a worker: the deployment
names ``flows.py:function``, its parameter schema comes from the function's signature
and type hints, a worker claims the run and ``python -m ferroflow.launchers.execute``
runs it under the claimed id and lease, with the parameters checked by the flow's
type hints; a real server (SQLite and PostgreSQL) and real worker processes."""

from __future__ import annotations

import textwrap

import pytest

from ferroflow.cli import main
from ferroflow.client.deployments import eager_parameter_schema
from ferroflow.client.http import Client
from tests.support.workers import WorkerProcess, run_deployment, start_server, wait_ended

FLOWS = textwrap.dedent('''
    from pathlib import Path
    from typing import Optional
    from ferroflow import flow, task

    @task
    def add(x, y):
        return x + y

    @flow(name="adder")
    def adder(x: int, out: str, y: int = 1, tags: list[str] = [], note: Optional[str] = None):
        total = add(x, y)           # x arrives as the string "3": coerced to 3 by its hint
        Path(out).write_text(f"{total} {type(x).__name__}")
        return total
''')


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "flows.py").write_text(FLOWS)
    return folder


@pytest.fixture
def server(database_url, tmp_path):
    found = start_server(database_url, tmp_path)
    yield found
    found.stop()


def test_the_schema_of_an_eager_flow_comes_from_its_signature(project, monkeypatch):
    monkeypatch.syspath_prepend(str(project))
    from ferroflow.cli.loader import load_entrypoint

    flow = load_entrypoint(str(project / "flows.py") + ":adder")
    assert eager_parameter_schema(flow) == {
        "note": {"default": None, "required": False, "type": "string"},
        "out": {"default": None, "required": True, "type": "string"},
        "tags": {"default": [], "required": False, "type": "array"},
        "x": {"default": None, "required": True, "type": "integer"},
        "y": {"default": 1, "required": False, "type": "integer"},
    }


def test_a_deployed_eager_flow_runs_on_a_worker_under_its_claim(server, project, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(project)
    out = tmp_path / "out.txt"
    code = main(["deploy", "flows.py:adder", "--name", "adder", "--server", server.url, "--param", f"out={out}"])
    assert code == 0, capsys.readouterr().err
    assert main(["deploy", "flows.py:adder", "--name", "bad", "--server", server.url, "--param", "nope=1"]) == 2
    assert "has no parameter 'nope'" in capsys.readouterr().err
    worker = WorkerProcess(server.url, project, tmp_path / "worker.log", "default")
    try:
        with Client(server.url) as client:
            deployment = client.get("/api/v1/deployments/adder")
            assert deployment["parameter_schema"]["x"] == {"default": None, "required": True, "type": "integer"}
            run_id = run_deployment(client, "adder", x="3")
            ended = wait_ended(client, run_id)
            assert ended.state == "Success", ended.message
            assert out.read_text() == "4 int"
            assert ended.run_id == run_id and ended.flow_name == "adder"
            assert [(t.name, t.counts) for t in client.run_tasks(run_id)] == [("add", {"Success": 1})]
            bad = run_deployment(client, "adder", x="three")
            failed = wait_ended(client, bad)
            assert failed.state == "Failed" and "invalid parameters" in failed.message
            assert "x: Input should be a valid integer" in failed.message
    finally:
        worker.stop(timeout=30)
