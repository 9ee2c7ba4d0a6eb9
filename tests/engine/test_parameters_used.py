"""The parameters a run uses are the given ones plus every default, as Prefect 1's
``context.parameters``: in the context, in location templates, in cache keys and in
the run store."""

from __future__ import annotations

import json

import pytest

from ferroflow import Flow, Parameter, context, task
from ferroflow.cli import main as cli_main
from ferroflow.results import Result
from ferroflow.store import HOME_ENV, RECORD_ENV, get_run_store


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(RECORD_ENV, raising=False)
    return tmp_path / "home"


@task
def seen():
    return dict(context.parameters)


def _flow():
    with Flow("defaults") as flow:
        m = Parameter("m")
        n = Parameter("n", default=3)
        optional = Parameter("o", required=False)
        got = seen(upstream_tasks=[m, n, optional])
    return flow, got


def test_context_parameters_include_defaults():
    # Prefect 1.4.1: {'n': 3, 'o': None, 'm': 5} for m=5 (checked in /work/p1venv).
    flow, got = _flow()
    state = flow.run(m=5, record=False)
    assert state.result[got].result == {"m": 5, "n": 3, "o": None}
    assert flow.run(m=5, n=4, record=False).result[got].result == {"m": 5, "n": 4, "o": None}


def test_location_templates_see_defaults(tmp_path):
    @task(result=Result(str(tmp_path), location="{n}-{parameters[n]}.out"))
    def write():
        return 1

    with Flow("located") as flow:
        written = write(upstream_tasks=[Parameter("n", default=3)])
    state = flow.run(record=False)
    assert state.result[written].location == "3-3.out"


def test_the_run_store_records_the_parameters_used(home, capsys):
    flow, _ = _flow()
    state = flow.run(m=5)
    run = get_run_store().get_run(state.flow_run_id)
    assert run.parameters == {"m": 5, "n": 3, "o": None}
    capsys.readouterr()
    assert cli_main(["runs", "show", state.flow_run_id]) == 0
    out = capsys.readouterr().out
    assert json.dumps({"n": 3, "o": None, "m": 5}) in out


def test_a_run_of_defaults_only_shows_them(home, capsys):
    with Flow("only-defaults") as flow:
        n = Parameter("n", default=3)
        seen(upstream_tasks=[n])
    state = flow.run()
    capsys.readouterr()
    assert cli_main(["runs", "show", state.flow_run_id]) == 0
    out = capsys.readouterr().out
    assert "Parameters" in out and '{"n": 3}' in out
    assert not any(line.split()[:2] == ["Parameters", "-"] for line in out.splitlines())
