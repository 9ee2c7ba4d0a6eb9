"""examples/daily_sales.py end to end, as a user runs it: `ferroflow run` in a fresh
process, retries, a webhook notifier on a real HTTP server on 127.0.0.1, checkpointed
results, the cache and the report's target on a second run."""

import os
import subprocess
import sys
from pathlib import Path

from ferroflow.cli.loader import load_flow
from ferroflow.results import Result
from ferroflow.store import SQLiteRunStore
from ferroflow.testing.fixtures import http_server, no_proxy, require_installed  # noqa: F401 - fixtures

EXAMPLE = Path(__file__).parents[2] / "examples" / "daily_sales.py"


def run_example(tmp_path, url, *args):
    env = {**os.environ, "SALES_RESULTS": str(tmp_path / "results"), "FERROFLOW_HOME": str(tmp_path / "home"),
           "SALES_WEBHOOK_URL": url}
    return subprocess.run([sys.executable, "-m", "ferroflow", "run", str(EXAMPLE), "--no-progress", *args],
                          env=env, capture_output=True, text=True, cwd=tmp_path)


def test_the_daily_sales_example(tmp_path, http_server, no_proxy):  # noqa: F811 - the fixtures imported above
    require_installed("ferroflow-webhook", "ferroflow_webhook")
    server = http_server()
    first = run_example(tmp_path, server.url + "/hook", "--param", "day=2026-11-28")
    assert first.returncode == 0, first.stdout + first.stderr
    # As in Prefect 1, the runs that fill the cache end Cached too.
    assert "fetch_sales     Mapped   40 children: Cached 40" in first.stdout

    report = Result(base=(tmp_path / "results").as_uri(), serializer="json").read_value("reports/2026-11-28.json")
    assert report["day"] == "2026-11-28" and report["stores"] == 40 and report["revenue"] > 0

    [posted] = [r.json() for r in server.requests]
    assert posted["flow_name"] == "daily-sales" and posted["state"] == "Success"

    with SQLiteRunStore(tmp_path / "home" / "runs.db") as store:
        [run] = store.list_runs()
        assert (run.flow_name, run.state, run.parameters) == ("daily-sales", "Success", {"day": "2026-11-28"})

    second = run_example(tmp_path, server.url + "/hook", "--param", "day=2026-11-28")
    assert second.returncode == 0, second.stderr
    assert "fetch_sales     Mapped   40 children: Cached 40" in second.stdout
    assert "report          Cached" in second.stdout  # the target exists
    assert len(server.requests) == 2


def test_a_second_run_reuses_the_cache_without_calling_the_api(tmp_path, monkeypatch):
    # The run that fills the cache ends Cached too (as in Prefect 1), so only the calls
    # tell a reuse apart: the second run, in another process, calls the API for no store.
    first = run_example(tmp_path, "", "--param", "day=2026-11-28")
    assert first.returncode == 0, first.stdout + first.stderr
    monkeypatch.setenv("SALES_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SALES_WEBHOOK_URL", raising=False)
    flow = load_flow(str(EXAMPLE))
    [fetch] = [t for t in flow.tasks if t.name == "fetch_sales"]
    [report] = [t for t in flow.tasks if t.name == "report"]
    calls = []
    api = fetch.run

    def counted(**kwargs):
        calls.append(kwargs["store"])
        return api(**kwargs)

    fetch.run = counted
    state = flow.run(day="2026-11-28", run_on_schedule=False)
    assert state.is_successful() and calls == []
    children = state.result[fetch].map_states
    assert children.counts() == {"Cached": 40} and {c.run_count for c in children} == {1}
    assert state.result[report].message == "Result found at task target reports/2026-11-28.json"
    state = flow.run(day="2026-11-27", run_on_schedule=False)  # another day: the API is called
    assert state.is_successful() and len(set(calls)) == 40


def test_the_flaky_api_is_retried_with_backoff(tmp_path, monkeypatch):
    monkeypatch.setenv("SALES_RESULTS", str(tmp_path / "results"))
    monkeypatch.delenv("SALES_WEBHOOK_URL", raising=False)
    flow = load_flow(str(EXAMPLE))
    state = flow.run(day="2026-11-27", run_on_schedule=False)
    assert state.is_successful()
    fetch = [t for t in flow.tasks if t.name == "fetch_sales"][0]
    counts = [s.run_count for s in state.result[fetch].map_states]
    assert set(counts) == {1, 2} and counts.count(2) >= 5  # about one store in four failed once
