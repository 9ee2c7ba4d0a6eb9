"""The location of a value when a ``Result`` is given none:
``{flow_name}/{flow_run_id}/{task_slug}/{map_index}.result`` for a mapped child and
``{flow_name}/{flow_run_id}/{task_slug}.result`` for a task run that is not one (no
``None.result``). Resuming reads each checkpoint where the earlier run recorded it, so
a run checkpointed under the old ``.../None.result`` still resumes."""

from __future__ import annotations

import pathlib
import pickle

import pytest

from ferroflow import Flow, task
from ferroflow.results import (
    DEFAULT_LOCATION,
    DEFAULT_TASK_LOCATION,
    DefaultLocation,
    LocalResult,
    MemoryResultStore,
    Result,
)
from ferroflow.store import HOME_ENV, RECORD_ENV


@task
def numbers():
    return [1, 2]


@task
def double(x):
    return 2 * x


def _flow(result):
    with Flow("defaults", result=result) as flow:
        listed = numbers()
        doubled = double.map(listed)
    return flow, listed, doubled


def test_a_task_and_its_mapped_children():
    result = Result(MemoryResultStore())
    flow, listed, doubled = _flow(result)
    state = flow.run(record=False)
    run = state.flow_run_id
    assert state.result[listed].location == f"defaults/{run}/numbers-1.result"
    assert [c.location for c in state.result[doubled].map_states] == [
        f"defaults/{run}/double-1/0.result", f"defaults/{run}/double-1/1.result"]
    assert result.read_value(state.result[listed].location) == [1, 2]


def test_local_result_defaults_the_same_under_dir(tmp_path):
    flow, listed, doubled = _flow(LocalResult(dir=str(tmp_path)))
    state = flow.run(record=False)
    run = state.flow_run_id
    assert state.result[listed].location == f"{tmp_path}/defaults/{run}/numbers-1.result"
    assert (tmp_path / "defaults" / run / "double-1" / "1.result").is_file()


def test_formatting_the_default_by_hand():
    keys = {"flow_name": "etl", "flow_run_id": "r1", "task_slug": "load-1"}
    assert Result().format(**keys) == "etl/r1/load-1.result"
    assert Result().format(**keys, map_index=None) == "etl/r1/load-1.result"
    assert Result().format(**keys, map_index=3) == "etl/r1/load-1/3.result"
    assert Result().location == DEFAULT_LOCATION and isinstance(Result().template, DefaultLocation)
    assert DEFAULT_TASK_LOCATION == "{flow_name}/{flow_run_id}/{task_slug}.result"
    copy = pickle.loads(pickle.dumps(Result().template))
    assert copy.format({**keys, "map_index": None}) == "etl/r1/load-1.result"


def test_a_run_checkpointed_under_the_old_default_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(RECORD_ENV, raising=False)
    calls, fail = [], [True]

    def build(location):
        @task(result=Result(base=str(tmp_path / "results"), location=location))
        def first():
            calls.append("first")
            return 1

        @task
        def second(x):
            if fail[0]:
                raise RuntimeError("not yet")
            return x + 1

        with Flow("resume-default") as flow:
            done = second(first())
        return flow, done

    old, _ = build(DEFAULT_LOCATION)  # the default before: .../first-1/None.result
    broken = old.run()
    assert broken.is_failed()
    [checkpoint] = [s.location for t, s in broken.result.items() if t.name == "first"]
    assert checkpoint.endswith("/first-1/None.result")
    fail[0] = False
    new, done = build(None)
    again = new.run(resume=broken.flow_run_id)
    assert again.is_successful() and again.result[done].result == 2
    assert calls == ["first"]  # read back from .../None.result, not run again


@pytest.mark.parametrize("page", ["results.md", "checkpoints-and-resume.md"])
def test_the_templates_are_the_documented_ones(page):
    text = (pathlib.Path(__file__).parents[2] / "docs" / page).read_text()
    assert f"`{DEFAULT_LOCATION}`" in text and f"`{DEFAULT_TASK_LOCATION}`" in text
