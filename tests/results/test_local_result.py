"""``LocalResult`` and absolute result locations, as Prefect 1 code uses them.

Prefect 1.4.1 (with checkpointing on) reported full paths: a task with
``LocalResult(dir=D, location="{task_name}.pkl")`` has ``state._result.location ==
f"{D}/a.pkl"``; ``location="/abs/{task_name}-{map_index}.pkl"`` writes there whatever
``dir`` is; ``LocalResult(dir=D).read("a.pkl").value`` and ``.read("/abs/b-1.pkl")``
read them back, ``.exists("{task_name}.pkl", task_name="a")`` is True and ``.write(5,
...)`` returns a result whose ``location`` is a full path under ``D``.
"""

from __future__ import annotations

import os

import pytest

from ferroflow import Flow, Parameter, task
from ferroflow.errors import PluginError
from ferroflow.results import LocalResult, MemoryResultStore, Result, ResultLocationError, ResultValue


@task
def one():
    return 41


@task
def inc(x):
    return x + 1


def test_task_values_are_files_under_dir_and_states_report_full_paths(tmp_path):
    directory = tmp_path / "d"
    with Flow("local") as flow:
        a = one(task_args={"result": LocalResult(dir=str(directory), location="{task_name}.pkl")})
        absolute = LocalResult(location=f"{tmp_path}/abs/{{task_name}}-{{map_index}}.pkl")
        b = inc.map([a, a], task_args={"result": absolute})
    state = flow.run(record=False)
    assert state.result[a]._result.location == f"{directory}/one.pkl"
    assert state.result[b].map_states[1]._result.location == f"{tmp_path}/abs/inc-1.pkl"
    assert os.path.isfile(directory / "one.pkl") and os.path.isfile(tmp_path / "abs" / "inc-0.pkl")
    reader = LocalResult(dir=str(directory))
    assert reader.read("one.pkl") == ResultValue(41, "one.pkl")
    assert reader.read(f"{tmp_path}/abs/inc-1.pkl").value == 42
    assert reader.exists("one.pkl") and reader.exists("{task_name}.pkl", task_name="one")
    assert not reader.exists("two.pkl")


def test_write_returns_the_value_with_its_full_path(tmp_path):
    result = LocalResult(dir=str(tmp_path), location="x/{k}.p")
    written = result.write(6, k="kk")
    assert written == ResultValue(6, f"{tmp_path}/x/kk.p")
    assert result.read(written.location).value == 6
    assert result.dir == str(tmp_path)


def test_dir_defaults_to_the_ferroflow_home_and_is_created_unless_told(tmp_path, monkeypatch):
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "home"))
    assert LocalResult().dir == str(tmp_path / "home" / "results")
    assert os.path.isdir(tmp_path / "home" / "results")
    LocalResult(dir=str(tmp_path / "later"), validate_dir=False)
    assert not os.path.exists(tmp_path / "later")
    assert LocalResult(dir=str(tmp_path / "{odd}")).write(1, k=1, flow_name="f", flow_run_id="r", task_slug="s",
                                                          map_index=None).location.startswith(f"{tmp_path}/{{odd}}/")


def test_a_result_with_an_absolute_location_writes_there(tmp_path):
    keep = Result(location=f"{tmp_path}/out/{{task_name}}-{{n}}.pkl")
    assert keep.store.base_url == f"file://{tmp_path}/out"
    with Flow("absolute", result=keep) as flow:
        n = Parameter("n", default=3)
        t = inc(n)
    state = flow.run(n=3, record=False)
    assert state.result[t].location == f"{tmp_path}/out/inc-3.pkl"
    assert keep.read_value(f"{tmp_path}/out/inc-3.pkl") == 4


def test_an_absolute_target_makes_the_second_run_cached(tmp_path):
    calls = []

    @task(target=f"{tmp_path}/targets/{{task_name}}", result=LocalResult(dir=str(tmp_path / "d")))
    def work():
        calls.append(1)
        return "done"

    with Flow("target") as flow:
        w = work()
    first, second = flow.run(record=False), flow.run(record=False)
    assert calls == [1]
    assert type(first.result[w]).__name__ == "Success"
    assert type(second.result[w]).__name__ == "Cached" and second.result[w].result == "done"
    assert second.result[w].message == f"Result found at task target {tmp_path}/targets/work"


def test_a_resumed_run_reads_values_back_from_absolute_locations(tmp_path):
    calls, fail = [], [True]

    @task(result=LocalResult(dir=str(tmp_path)))
    def first():
        calls.append("first")
        return 1

    @task
    def second(x):
        if fail[0]:
            raise RuntimeError("not yet")
        return x + 1

    with Flow("resume-local") as flow:
        s = second(first())
    broken = flow.run()
    assert broken.is_failed() and broken.result[s].is_failed()
    fail[0] = False
    again = flow.run(resume=broken.flow_run_id)
    assert again.is_successful() and again.result[s].result == 2
    assert calls == ["first"]


def test_absolute_paths_stay_safe(tmp_path):
    # A relative template never yields an absolute path, whatever a parameter holds.
    with pytest.raises(ResultLocationError, match="starts with '/'"):
        Result(base=str(tmp_path), location="{p}/x").format(p="/etc")
    # An absolute one cannot climb out of its directory.
    with pytest.raises(ResultLocationError, match=r"'\.\.'"):
        Result(location=f"{tmp_path}/{{p}}/x").format(p="../../etc")
    # A store that does not take absolute paths is refused when the Result is made.
    with pytest.raises(ResultLocationError, match="is an absolute path, which store"):
        Result(MemoryResultStore(), location="/abs/{task_name}")
    with pytest.raises(PluginError, match="absolute_paths=True needs local files"):
        Result("memory://x", location="/abs/{task_name}")
    # Stores made without absolute_paths still refuse an absolute location.
    with pytest.raises(ResultLocationError, match="starts with '/'"):
        Result(base=str(tmp_path)).write_to("/abs/x", 1)


def test_files_hold_the_bare_serialized_value_as_prefect_wrote_them(tmp_path):
    # Prefect 1's docs read a LocalResult file with cloudpickle.loads(f.read()); and a
    # file Prefect wrote (bare cloudpickle bytes) is read back, or found as a target.
    import cloudpickle

    with Flow("bare") as flow:
        a = one(task_args={"result": LocalResult(dir=str(tmp_path), location="{task_name}.prefect")})
    state = flow.run(record=False)
    with open(state.result[a]._result.location, "rb") as f:
        assert cloudpickle.loads(f.read()) == 41
    (tmp_path / "from-prefect.prefect").write_bytes(cloudpickle.dumps({"written": "by prefect"}))
    assert LocalResult(dir=str(tmp_path)).read("from-prefect.prefect").value == {"written": "by prefect"}
    calls = []

    @task(target="from-prefect.prefect", result=LocalResult(dir=str(tmp_path)))
    def produce():
        calls.append(1)

    with Flow("target") as flow:
        p = produce()
    cached = flow.run(record=False).result[p]
    assert type(cached).__name__ == "Cached" and cached.result == {"written": "by prefect"} and calls == []


def test_a_location_callable_is_taken_under_dir(tmp_path):
    def format_location(result_basepath, task_name, **kwargs):
        return f"{result_basepath}/{task_name}.prefect"

    with Flow("callable") as flow:
        a = one(task_args={"result": LocalResult(dir=str(tmp_path), location=format_location)})
    flow.add_task(Parameter("result_basepath", default="~"))
    state = flow.run(result_basepath="nested", record=False)
    assert state.result[a]._result.location == f"{tmp_path}/nested/one.prefect"
    assert os.path.isfile(tmp_path / "nested" / "one.prefect")
