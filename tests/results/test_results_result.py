"""``Result``: location templates, values written and read through a store and a
serializer, batches of mapped children."""

from __future__ import annotations

import datetime
import errno
import pickle
import threading

import cloudpickle
import pytest

from ferroflow.errors import PluginError
from ferroflow.results import (
    DEFAULT_LOCATION,
    FsspecResultStore,
    JSONSerializer,
    LocationTemplate,
    MemoryResultStore,
    Result,
    ResultCorrupt,
    ResultError,
    ResultLocationError,
    ResultNotFound,
    ResultStoreError,
    SerializationError,
    template_context,
)

CTX = {"flow_name": "etl", "task_name": "load", "map_index": 3, "flow_run_id": "r1",
       "task_run_count": 1, "parameters": {"n": 10, "day": "mon"}}


# -- templates ------------------------------------------------------------------------


def test_format_uses_context_parameters_and_format_specs():
    r = Result(location="{flow_name}/{parameters[day]}/{task_name}-{map_index:04d}.pkl")
    assert r.format(**CTX) == "etl/mon/load-0003.pkl"
    r = Result(location="{when:%Y/%m/%d}/{task_name}")
    assert r.format(when=datetime.date(2024, 5, 6), task_name="t") == "2024/05/06/t"


def test_format_accepts_any_key_name():
    # the template's keys are keyword arguments: even "self" and "value" work
    r = Result(location="{self}/{value}")
    assert r.format(self="a", value="b") == "a/b"


def test_missing_key_names_the_template_the_key_and_what_is_available():
    r = Result(location="{flow_name}/{task_nme}.pkl")
    with pytest.raises(ResultLocationError) as info:
        r.format(**CTX)
    error = info.value
    assert error.key == "task_nme" and error.template == "{flow_name}/{task_nme}.pkl"
    message = str(error)
    assert "'{flow_name}/{task_nme}.pkl' needs key 'task_nme'" in message
    assert "available keys: flow_name, flow_run_id, map_index, parameters" in message


def test_missing_nested_key():
    r = Result(location="{parameters[missing]}/x")
    with pytest.raises(ResultLocationError, match=r"in \{parameters\[missing\]\}, key 'missing' is missing"):
        r.format(**CTX)
    r = Result(location="{flow_name.nope}")
    with pytest.raises(ResultLocationError, match="AttributeError"):
        r.format(**CTX)


@pytest.mark.parametrize("template, match", [
    ("{}/x", "positional field"),
    ("{0}/x", "positional field"),
    ("{task_name", "malformed"),
    ("task_name}", "malformed"),
    (42, "template string or a callable"),
])
def test_bad_templates_are_refused_at_construction(template, match):
    with pytest.raises(ResultLocationError, match=match):
        Result(location=template)


def test_bad_format_spec_is_a_location_error():
    with pytest.raises(ResultLocationError, match="cannot be formatted"):
        Result(location="{task_name:d}").format(task_name="x")


@pytest.mark.parametrize("day", ["../../etc", "/abs", ""])
def test_a_location_that_would_leave_the_store_is_refused(day):
    r = Result(location="{day}/x.pkl")
    with pytest.raises(ResultLocationError, match="Invalid result location") as info:
        r.format(day=day)
    assert "from location template '{day}/x.pkl'" in str(info.value)


def test_callable_locations():
    r = Result(location=lambda task_name, map_index, **_: f"{task_name}/{map_index}")
    assert r.format(**CTX) == "load/3"
    assert r.template.fields is None

    def boom(**_):
        raise KeyError("x")

    with pytest.raises(ResultLocationError, match="Location callable .*boom raised KeyError"):
        Result(location=boom).format()
    with pytest.raises(ResultLocationError, match="returned 3, not a str"):
        Result(location=lambda **_: 3).format()


def test_template_fields():
    t = LocationTemplate("{flow_name}/{parameters[n]}/{x.y}/{map_index:{width}}")
    assert t.fields == {"flow_name", "parameters", "x", "map_index", "width"}
    assert Result().template.fields == {"flow_name", "flow_run_id", "task_slug", "map_index"}
    assert Result().location == DEFAULT_LOCATION


def test_template_context_merges_as_prefect_1():
    merged = template_context({"task_name": "t", "n": "context"}, parameters={"n": 1, "p": 2},
                              inputs={"x": 5, "p": "input"})
    assert merged == {"n": "context", "p": "input", "task_name": "t", "x": 5,
                      "parameters": {"n": 1, "p": 2}}
    r = Result(location="{parameters[n]}/{n}/{p}/{x}")
    assert r.format(**merged) == "1/context/input/5"


# -- one value ------------------------------------------------------------------------


@pytest.fixture(params=["memory", "file", "fsspec-memory", "json"])
def result(request, tmp_path, memory_url):
    location = "{flow_name}/{task_name}/{map_index}.out"
    if request.param == "memory":
        return Result(location=location)
    if request.param == "file":
        return Result("fsspec", base=f"file://{tmp_path}", location=location)
    if request.param == "json":
        return Result(base=str(tmp_path), serializer="json", location=location)
    return Result(base=memory_url, location=location)


def test_write_and_read_a_value(result):
    value = {"rows": [1, 2, 3], "name": "x"}
    location = result.write_value(value, **CTX)
    assert location == "etl/load/3.out"
    assert result.read_value(location) == value
    assert result.exists(**CTX)
    assert not result.exists(**{**CTX, "map_index": 4})


def test_write_to_a_given_location(result):
    assert result.write_to("fixed/place", [1]) == "fixed/place"
    assert result.read_value("fixed/place") == [1]


def test_reading_a_missing_value(result):
    with pytest.raises(ResultNotFound) as info:
        result.read_value("etl/load/99.out")
    assert info.value.location == "etl/load/99.out"
    assert "etl/load/99.out" in str(info.value.with_task("load", 99))


def test_an_unserializable_value_is_not_written(result):
    with pytest.raises(SerializationError) as info:
        result.write_value(threading.Lock() if result.serializer.name == "cloudpickle"
                           else (lambda: 1), **CTX)
    assert info.value.location == "etl/load/3.out"
    assert info.value.type_name in ("_thread.lock", "function")
    assert not result.exists(**CTX)


def test_a_template_error_comes_before_serialization():
    with pytest.raises(ResultLocationError):
        Result(location="{nope}").write_value(threading.Lock())


def test_a_corrupt_value_names_the_location(tmp_path):
    r = Result(base=str(tmp_path), location="{task_name}.pkl")
    r.write_value(1, task_name="t")
    path = tmp_path / "t.pkl"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ResultCorrupt) as info:
        r.read_value("t.pkl")
    assert info.value.location == "t.pkl" and f"file://{path}" in str(info.value)


def test_bytes_the_serializer_cannot_read(tmp_path):
    FsspecResultStore(str(tmp_path)).write("x.json", b"not json")
    r = Result(base=str(tmp_path), serializer="json")
    with pytest.raises(SerializationError) as info:
        r.read_value("x.json")
    assert info.value.location == "x.json" and "(result location 'x.json')" in str(info.value)


def test_result_pickles_and_works_elsewhere(tmp_path):
    r = Result(base=str(tmp_path), location="{task_name}/{map_index}")
    clone = cloudpickle.loads(cloudpickle.dumps(r))
    location = clone.write_value("v", task_name="t", map_index=0)
    assert r.read_value(location) == "v"
    lam = cloudpickle.loads(cloudpickle.dumps(Result(location=lambda **k: "x")))
    assert lam.format() == "x"


def test_store_and_serializer_choices(tmp_path):
    assert isinstance(Result().store, MemoryResultStore)
    assert isinstance(Result(base=str(tmp_path)).store, FsspecResultStore)
    assert Result(f"file://{tmp_path}").store.base_url == f"file://{tmp_path}"
    assert Result(str(tmp_path)).store.base_url == f"file://{tmp_path}"
    own = MemoryResultStore()
    r = Result(own, serializer=JSONSerializer())
    assert r.store is own and r.serializer.name == "json"
    assert Result(base=str(tmp_path), store_options={"fsync": True}).store.fsync is True
    with pytest.raises(PluginError, match="Unknown result store 'memroy'. Did you mean 'memory'"):
        Result("memroy")
    with pytest.raises(PluginError, match="Options .* were given with an instance"):
        Result(own, base=str(tmp_path))
    with pytest.raises(PluginError, match="Could not create result store 'fsspec'.*base_url"):
        Result("fsspec")
    assert "MemoryResultStore" in repr(Result())


def test_third_party_store_errors_are_wrapped():
    class Flaky(MemoryResultStore):
        name = "flaky"

        def write(self, location, data):
            raise OSError(errno.EIO, "I/O error")

        def read(self, location):
            raise RuntimeError("backend down")

        def exists(self, location):
            raise TimeoutError("slow")

    r = Result(Flaky(), location="{task_name}")
    with pytest.raises(ResultStoreError, match=r"result store 'flaky'\): \[Errno 5 EIO\]"):
        r.write_value(1, task_name="t")
    with pytest.raises(ResultStoreError, match="RuntimeError: backend down"):
        r.read_value("t")
    with pytest.raises(ResultStoreError, match="TimeoutError: slow"):
        r.exists(task_name="t")


# -- many values ----------------------------------------------------------------------


def test_write_many_and_read_many(result):
    values = [{"i": i} for i in range(50)]
    contexts = [{"map_index": i} for i in range(50)]
    locations = result.write_many(values, contexts, flow_name="etl", task_name="load")
    assert locations == [f"etl/load/{i}.out" for i in range(50)]
    assert result.read_many(locations) == values


def test_write_many_reports_each_failure_in_place(faulty):
    r = Result(base="faulty://base", location="{task_name}/{map_index}")
    faulty.fail("write", errno.ENOSPC, path_contains="t/.4.")
    values = [0, 1, threading.Lock(), 3, 4, 5]
    contexts = [{"map_index": i} for i in range(6)]
    contexts[1] = {"map_index": "../escape"}
    out = r.write_many(values, contexts, task_name="t")
    assert [type(x).__name__ for x in out] == ["str", "ResultLocationError", "SerializationError",
                                               "str", "ResultStoreError", "str"]
    assert out[2].location == "t/2" and out[2].type_name == "_thread.lock"
    assert out[4].errno == errno.ENOSPC and out[4].location == "t/4"
    faulty.faults.clear()
    back = r.read_many(["t/0", "t/3", "t/4", "t/5"])
    assert back[0] == 0 and back[1] == 3 and isinstance(back[2], ResultNotFound) and back[3] == 5
    assert all(isinstance(x, ResultError) for x in out[1:5:3])


def test_write_many_checks_lengths():
    with pytest.raises(ValueError, match="2 values but 1 contexts"):
        Result().write_many([1, 2], [{}])


def test_write_many_with_a_store_that_raises():
    class Broken(MemoryResultStore):
        name = "broken"

        def write_many(self, items):
            raise RuntimeError("boom")

    out = Result(Broken(), location="{i}").write_many([1, 2], [{"i": 1}, {"i": 2}])
    assert [type(e) for e in out] == [ResultStoreError, ResultStoreError]
    assert "result store 'broken'" in str(out[0])


def test_read_many_reports_corrupt_and_undeserializable(tmp_path):
    r = Result(base=str(tmp_path), serializer="json", location="{i}")
    r.write_many([1, 2], [{"i": "a"}, {"i": "b"}])
    (tmp_path / "a").write_bytes(b"junk")
    FsspecResultStore(str(tmp_path)).write("c", b"{bad json")
    out = r.read_many(["a", "b", "c"])
    assert isinstance(out[0], ResultCorrupt) and out[1] == 2
    assert isinstance(out[2], SerializationError) and out[2].location == "c"


def test_result_errors_pickle_across_processes():
    error = ResultLocationError("bad", template="{x}", key="x").with_task("t", 1)
    clone = pickle.loads(pickle.dumps(error))
    assert (clone.template, clone.key, str(clone)) == ("{x}", "x", "bad (task 't', map index 1)")
    assert isinstance(clone, ValueError)
