"""``ferroflow pool ls|set`` and ``ferroflow workers`` against a real server, and the
worker's refusals of bad options (both databases)."""

from __future__ import annotations

import json
import subprocess
import sys

from ferroflow.client.http import Client
from tests.support.servers import child_env
from tests.support.workers import deploy, start_server


def _cli(*args, url=None, key=None):
    env = child_env({"FERROFLOW_API_KEY": key} if key else {})
    if url:
        env["FERROFLOW_API_URL"] = url
    return subprocess.run([sys.executable, "-m", "ferroflow", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_pools_and_workers_from_the_command_line(database_url, tmp_path):
    server = start_server(database_url, tmp_path)
    try:
        with Client(server.url) as client:
            deploy(client, "etl", "flows.py:flow", pool="gpu")
        done = _cli("pool", "set", "gpu", "--concurrency-limit", "2", "--pause", url=server.url)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "Pool gpu: at most 2 active, paused, 0 active run(s)."
        listed = _cli("pool", "ls", url=server.url)
        assert listed.returncode == 0 and listed.stdout.splitlines()[0].split() == [
            "POOL", "LIMIT", "PAUSED", "ACTIVE", "DEPLOYMENTS"]
        assert listed.stdout.splitlines()[1].split() == ["gpu", "2", "paused", "0", "1"]
        cleared = _cli("pool", "set", "gpu", "--no-limit", "--resume", "--server", server.url)
        assert "no limit, not paused" in cleared.stdout
        with Client(server.url) as client:  # (healthy: it beat within the timeout, 6 s here)
            client.post("/api/v1/workers/" + "a" * 32 + "/heartbeat",
                        {"name": "box-1", "pool": "gpu", "hostname": "box", "pid": 7, "concurrency": 3})
        shown = json.loads(_cli("workers", "--json", url=server.url).stdout)
        assert [(w["name"], w["pool"], w["concurrency"], w["healthy"]) for w in shown] == [("box-1", "gpu", 3, True)]
        table = _cli("workers", "--pool", "gpu", url=server.url).stdout.splitlines()
        assert table[1].split()[:5] == ["aaaaaaaa", "box-1", "gpu", "healthy", "0/3"]
        assert _cli("workers", "--pool", "none", url=server.url).stdout.strip() == "No workers."
        bad = _cli("pool", "set", "gpu", "--concurrency-limit", "0", url=server.url)
        assert bad.returncode == 2 and "at least 1" in bad.stderr
    finally:
        server.stop()


def test_the_worker_refuses_bad_options(tmp_path):
    no_server = _cli("worker", "--pool", "p")
    assert no_server.returncode == 2 and "FERROFLOW_API_URL" in no_server.stderr
    launcher = _cli("worker", "--pool", "p", "--server", "http://127.0.0.1:9", "--launcher", "nope")
    assert launcher.returncode == 2 and "nope" in launcher.stderr
    option = _cli("worker", "--pool", "p", "--server", "http://127.0.0.1:9", "--launcher-option", "novalue")
    assert option.returncode == 2 and "KEY=VALUE" in option.stderr
    zero = _cli("worker", "--pool", "p", "--concurrency", "0", "--server", "http://127.0.0.1:9")
    assert zero.returncode == 2 and "at least 1" in zero.stderr
