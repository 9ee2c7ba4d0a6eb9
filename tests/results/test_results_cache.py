"""Cache keys and cache records: stable hashing of values and of task source code,
records stored in (and read back from) a result store."""

from __future__ import annotations

import datetime
import functools
import importlib.util
import json
import logging
import textwrap
import threading
from pathlib import Path

import pytest
from results_helpers import run_python

from ferroflow import Task, task
from ferroflow.results import (
    CACHE_PREFIX,
    CacheRecord,
    FsspecResultStore,
    MemoryResultStore,
    Result,
    ResultStoreError,
    cache_key_for,
    cache_key_from_hashes,
    cache_record_location,
    cache_value_location,
    hash_inputs,
    hash_parameters,
    hash_value,
    load_cache_record,
    save_cache_record,
    task_source_hash,
)
from ferroflow.results import cache as cache_module

UTC = datetime.timezone.utc

# -- hashing values -------------------------------------------------------------------


def test_hash_value_is_a_hex_digest():
    digest = hash_value({"a": 1})
    assert len(digest) == 32 and int(digest, 16) >= 0


@pytest.mark.parametrize("a, b", [
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}),
    ({"x", "y", "z"}, {"z", "y", "x"}),
    (frozenset({1, 2}), frozenset({2, 1})),
    ([{"k": {3, 4}}], [{"k": {4, 3}}]),
])
def test_equal_values_hash_equal_regardless_of_order(a, b):
    assert hash_value(a) == hash_value(b)


@pytest.mark.parametrize("a, b", [
    (1, 1.0), (1, True), (0, False), (1, "1"), ("a", b"a"), ((1, 2), [1, 2]),
    ([1, [2]], [[1], 2]), ({1, 2}, frozenset({1, 2})), ({"a": 1}, {"a": 2}),
    (["ab", "c"], ["a", "bc"]), (None, "None"), (b"x", bytearray(b"x")), (0.1, 0.1000001),
    (2**70, 2**70 + 1),
])
def test_different_values_hash_differently(a, b):
    assert hash_value(a) != hash_value(b)


def test_hashes_are_stable_across_processes():
    # set and dict orders depend on PYTHONHASHSEED; the hash must not
    code = ("from ferroflow.results import hash_value; "
            "print(hash_value([{'x', 'y', 'z', 'w'}, {'b': 1, 'a': {'q', 'r'}}, 'é', 1.5, 10**50]))")
    here = hash_value([{"x", "y", "z", "w"}, {"b": 1, "a": {"q", "r"}}, "é", 1.5, 10**50])
    for seed in ("1", "2", "12345"):
        proc = run_python(code, env={"PYTHONHASHSEED": seed})
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == here


def test_other_objects_hash_by_their_pickle():
    assert hash_value(datetime.date(2024, 1, 1)) == hash_value(datetime.date(2024, 1, 1))
    assert hash_value(datetime.date(2024, 1, 1)) != hash_value(datetime.date(2024, 1, 2))


def test_cycles_and_huge_ints_do_not_break_hashing():
    a: list = [1]
    a.append(a)
    assert hash_value(a) == hash_value(a)
    assert hash_value(10**5000) != hash_value(10**5000 + 1)


def test_unpicklable_values_fall_back_to_repr_with_a_warning(caplog, monkeypatch):
    monkeypatch.setattr(cache_module, "_warned_types", set())
    with caplog.at_level(logging.WARNING, logger="ferroflow.results"):
        first = hash_value({"lock": threading.Lock()})
        hash_value(threading.Lock())
    warnings = [r for r in caplog.records if "cannot be pickled" in r.getMessage()]
    assert len(warnings) == 1  # once per type
    message = warnings[0].getMessage()
    assert "'_thread.lock'" in message and "repr()" in message and "memory address" in message
    assert len(first) == 32


def test_hash_inputs_and_parameters():
    assert hash_inputs({"b": 2, "a": 1}) == {"a": hash_value(1), "b": hash_value(2)}
    assert list(hash_parameters({"z": 0, "y": 1})) == ["y", "z"]


# -- hashing source -------------------------------------------------------------------


def _load(tmp_path: Path, name: str, source: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BASE = """
    def work(x):
        y = x + 1
        return y * 2
"""

SAME = """
    # a comment
    def work(x):  # trailing comment


        y = x + 1    # more
        return y * \\
            2
"""

EDITED = """
    def work(x):
        y = x + 2
        return y * 2
"""


def test_source_hash_ignores_formatting_and_changes_with_the_code(tmp_path):
    base = _load(tmp_path, "m_base", BASE).work
    same = _load(tmp_path, "m_same", SAME).work
    edited = _load(tmp_path, "m_edit", EDITED).work
    assert task_source_hash(base) == task_source_hash(same)
    assert task_source_hash(base) != task_source_hash(edited)


def test_source_hash_of_tasks_methods_and_partials(tmp_path):
    module = _load(tmp_path, "m_tasks", """
        import functools
        from ferroflow import Task, task

        @task
        def decorated(x):
            return x

        class Mine(Task):
            def run(self, x):
                return x

        class Other(Task):
            def run(self, x):
                return x + 1

        def plain(x, y):
            return x
    """)
    assert task_source_hash(module.decorated) == task_source_hash(module.decorated.run)
    assert task_source_hash(module.Mine()) == task_source_hash(module.Mine)
    assert task_source_hash(module.Mine()) != task_source_hash(module.Other())
    assert task_source_hash(functools.partial(module.plain, 1)) == task_source_hash(module.plain)
    assert task_source_hash(module.Mine().run) == task_source_hash(module.Mine.run)


def test_source_hash_without_source_uses_bytecode():
    namespace: dict = {}
    exec("def f(x):\n    return x + 1\ndef g(x):\n    return x + 2\n", namespace)
    assert task_source_hash(namespace["f"]) == task_source_hash(namespace["f"])
    assert task_source_hash(namespace["f"]) != task_source_hash(namespace["g"])
    with pytest.raises(TypeError, match="no source code and no bytecode"):
        task_source_hash(len)


def test_the_ferroflow_task_objects_are_accepted():
    @task
    def here(x):
        return x

    assert task_source_hash(here) == task_source_hash(here.run)
    assert isinstance(here, Task)


# -- keys -----------------------------------------------------------------------------


def test_cache_keys():
    key = cache_key_for("load", inputs={"x": 1}, parameters={"n": 2}, source="abc")
    assert key.startswith("load-") and len(key) == len("load-") + 32
    assert key == cache_key_for("load", inputs={"x": 1}, parameters={"n": 2}, source="abc")
    others = {
        cache_key_for("load"),
        cache_key_for("load", inputs={}),
        cache_key_for("load", inputs={"x": 2}, parameters={"n": 2}, source="abc"),
        cache_key_for("load", inputs={"x": 1}, parameters={"n": 3}, source="abc"),
        cache_key_for("load", inputs={"x": 1}, parameters={"n": 2}, source="abd"),
        cache_key_for("load", inputs={"x": 1}, parameters={"n": 2}, source="abc", extra="v2"),
        cache_key_for("other", inputs={"x": 1}, parameters={"n": 2}, source="abc"),
    }
    assert key not in others and len(others) == 7


def test_cache_key_with_source_changes_when_the_task_is_edited(tmp_path):
    base = _load(tmp_path, "k_base", BASE).work
    edited = _load(tmp_path, "k_edit", EDITED).work
    assert cache_key_for("work", source=base) != cache_key_for("work", source=edited)
    assert cache_key_for("work", source=base) == cache_key_from_hashes(
        "work", source_hash=task_source_hash(base))


def test_cache_key_names_are_made_safe_for_locations():
    assert cache_key_for("my task/../x y").startswith("my_task_.._x_y-")
    assert cache_key_for("../..").startswith("key-")
    with pytest.raises(ValueError, match="non-empty name"):
        cache_key_for("")


def test_cache_locations():
    assert cache_record_location("k-1") == f"{CACHE_PREFIX}/k-1.json"
    assert cache_value_location("k-1") == f"{CACHE_PREFIX}/k-1.value"


# -- records --------------------------------------------------------------------------


def _record(**kw):
    base = dict(cache_key="load-abc", value_location="etl/load/3.pkl",
                expiration=datetime.datetime(2030, 1, 1, tzinfo=UTC),
                hashed_inputs={"x": "h1", "y": "h2"}, hashed_parameters={"n": "h3"},
                task_source_hash="src", serializer="cloudpickle")
    base.update(kw)
    return CacheRecord(**base)


def test_record_round_trip_through_bytes():
    rec = _record()
    assert CacheRecord.from_bytes(rec.to_bytes()) == rec
    never = _record(expiration=None, hashed_inputs=None)
    assert CacheRecord.from_bytes(never.to_bytes()) == never


@pytest.mark.parametrize("message", ["Task run succeeded.", "fine", None])
def test_a_record_keeps_the_message_of_the_state_that_filled_it(message):
    rec = _record(message=message)
    assert CacheRecord.from_bytes(rec.to_bytes()).message == message


def test_a_record_written_without_a_message_says_the_run_succeeded():
    raw = json.loads(_record(message="fine").to_bytes())
    del raw["message"]  # as written before records kept it
    assert CacheRecord.from_bytes(json.dumps(raw).encode()).message == "Task run succeeded."


def test_record_expiration():
    rec = _record(expiration=datetime.datetime(2030, 1, 1, tzinfo=UTC))
    assert not rec.is_expired(datetime.datetime(2029, 12, 31, tzinfo=UTC))
    assert rec.is_expired(datetime.datetime(2030, 1, 1, tzinfo=UTC))
    assert not _record(expiration=None).is_expired()
    past = datetime.datetime.now(UTC) - datetime.timedelta(seconds=1)
    assert _record(expiration=past).is_expired()
    with pytest.raises(ValueError, match="timezone-aware"):
        _record(expiration=datetime.datetime(2030, 1, 1))
    with pytest.raises(TypeError, match="datetime or None"):
        _record(expiration="2030")


def test_record_matching():
    rec = _record()
    assert rec.inputs_match({"x": "h1", "y": "h2"})
    assert not rec.inputs_match({"x": "h1", "y": "other"})
    assert rec.inputs_match({"x": "h1", "y": "other"}, names=["x"])
    assert rec.parameters_match({"n": "h3"}) and not rec.parameters_match({"n": "h4"})
    assert not _record(hashed_inputs=None).inputs_match({})


@pytest.mark.parametrize("data", [b"not json", b"[1]", b'{"format": 99}', b'{"format": 1}',
                                  b'{"format": 1, "cache_key": "k", "value_location": "v", '
                                  b'"expiration": "garbage", "hashed_inputs": null, '
                                  b'"hashed_parameters": null, "task_source_hash": null, '
                                  b'"serializer": null, "created": null}'])
def test_malformed_records_are_refused(data):
    with pytest.raises(ValueError, match="not a ferroflow cache record"):
        CacheRecord.from_bytes(data)


@pytest.fixture(params=["memory", "file"])
def store(request, tmp_path):
    return MemoryResultStore() if request.param == "memory" else FsspecResultStore(str(tmp_path))


def test_save_and_load_records(store):
    rec = _record()
    assert save_cache_record(store, rec) == cache_record_location("load-abc")
    assert load_cache_record(store, "load-abc") == rec
    assert load_cache_record(store, "load-other") is None


def test_unusable_records_count_as_missing(store, caplog):
    store.write(cache_record_location("k1"), b"garbage")
    store.write(cache_record_location("k2"), _record(cache_key="k3").to_bytes())
    with caplog.at_level(logging.WARNING, logger="ferroflow.results"):
        assert load_cache_record(store, "k1") is None
        assert load_cache_record(store, "k2") is None
    assert "not a ferroflow cache record" in caplog.text and "it is for key 'k3'" in caplog.text


def test_a_corrupt_record_file_counts_as_missing(tmp_path, caplog):
    store = FsspecResultStore(str(tmp_path))
    save_cache_record(store, _record())
    path = tmp_path / cache_record_location("load-abc")
    path.write_bytes(path.read_bytes()[:-3])
    with caplog.at_level(logging.WARNING, logger="ferroflow.results"):
        assert load_cache_record(store, "load-abc") is None
    assert "Corrupt result record" in caplog.text


def test_a_failing_store_is_an_error(faulty):
    import errno

    store = FsspecResultStore("faulty://c")
    faulty.fail("read", errno.EACCES)
    with pytest.raises(ResultStoreError, match="EACCES"):
        load_cache_record(store, "k")


def test_caching_a_value_end_to_end(tmp_path):
    # what the engine will do: key -> record -> value, across "processes" (new objects)
    def compute(x):
        return x * 10

    result = Result(base=str(tmp_path))
    key = cache_key_for("compute", inputs={"x": 4}, source=compute)
    assert load_cache_record(result.store, key) is None
    location = result.write_to(cache_value_location(key), compute(4))
    save_cache_record(result.store, CacheRecord(
        cache_key=key, value_location=location, hashed_inputs=hash_inputs({"x": 4}),
        task_source_hash=task_source_hash(compute), serializer=result.serializer.name,
        expiration=datetime.datetime.now(UTC) + datetime.timedelta(hours=1)))

    later = Result(base=str(tmp_path))
    rec = load_cache_record(later.store, cache_key_for("compute", inputs={"x": 4}, source=compute))
    assert rec is not None and not rec.is_expired()
    assert rec.inputs_match(hash_inputs({"x": 4}))
    assert later.read_value(rec.value_location) == 40
    assert rec.serializer == "cloudpickle"
