"""Serializers: round trips, batch serialization, errors naming the type and serializer."""

from __future__ import annotations

import datetime
import pickle
import socket
import threading

import cloudpickle
import pytest

from ferroflow.errors import FerroflowError, PluginError
from ferroflow.results import (
    CloudpickleSerializer,
    JSONSerializer,
    ResultError,
    SerializationError,
    Serializer,
    get_serializer,
)

VALUES = [None, True, 3, 2.5, "text é", b"\x00bytes", [1, 2], {"a": [1, {"b": None}]}, (1, "x"),
          {1, 2}, datetime.date(2024, 1, 2), 10**400]


def _generator():
    yield 1


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_cloudpickle_round_trip(value):
    s = CloudpickleSerializer()
    assert s.loads(s.dumps(value)) == value


def test_cloudpickle_serializes_functions_by_value():
    s = CloudpickleSerializer()
    square = s.loads(s.dumps(lambda x: x * x))
    assert square(7) == 49


@pytest.mark.parametrize("value", [None, 1, "s", [1, "a"], {"k": [1.5, None]}, True])
def test_json_round_trip(value):
    s = JSONSerializer()
    assert s.loads(s.dumps(value)) == value


def test_json_turns_tuples_into_lists_and_takes_options():
    assert JSONSerializer().loads(JSONSerializer().dumps((1, 2))) == [1, 2]
    s = JSONSerializer(dumps_kwargs={"default": str, "sort_keys": True})
    assert s.dumps({"b": datetime.date(2024, 1, 2), "a": 1}) == b'{"a": 1, "b": "2024-01-02"}'


@pytest.mark.parametrize("value, type_name", [
    (threading.Lock(), "_thread.lock"),
    (_generator(), "generator"),
    ({"nested": threading.Lock()}, "dict"),
])
def test_cloudpickle_refuses_unpicklable_values(value, type_name):
    with pytest.raises(SerializationError) as info:
        CloudpickleSerializer().dumps(value)
    error = info.value
    assert error.serializer == "cloudpickle" and error.type_name == type_name
    assert error.operation == "serialize"
    message = str(error.with_task("extract", 4))
    assert f"type {type_name!r}" in message and "serializer 'cloudpickle'" in message
    assert message.endswith("(task 'extract', map index 4)")
    assert isinstance(error, (ResultError, FerroflowError))


def test_cloudpickle_refuses_a_socket():
    with socket.socket() as sock:
        with pytest.raises(SerializationError, match="type 'socket.socket'"):
            CloudpickleSerializer().dumps(sock)


def test_json_refuses_a_lambda():
    with pytest.raises(SerializationError) as info:
        JSONSerializer().dumps(lambda: 1)
    assert info.value.type_name == "function" and info.value.serializer == "json"
    assert "Cannot serialize a value of type 'function' with serializer 'json'" in str(info.value)
    assert "not JSON serializable" in str(info.value)


def test_json_refuses_circular_values():
    value: list = []
    value.append(value)
    with pytest.raises(SerializationError, match="Circular reference"):
        JSONSerializer().dumps(value)


@pytest.mark.parametrize("serializer", [CloudpickleSerializer(), JSONSerializer()], ids=repr)
def test_garbage_cannot_be_deserialized(serializer):
    with pytest.raises(SerializationError) as info:
        serializer.loads(b"\xff\xfe garbage")
    assert info.value.operation == "deserialize"
    assert f"Cannot deserialize with serializer {serializer.name!r}" in str(info.value)


def test_dumps_many_matches_dumps_and_isolates_failures():
    s = CloudpickleSerializer()
    values = [1, {"a": [1, 2]}, threading.Lock(), "after", lambda: 3, (1.5, None)]
    out = s.dumps_many(values)
    assert isinstance(out[2], SerializationError) and out[2].type_name == "_thread.lock"
    for value, blob in zip(values, out, strict=True):
        if not isinstance(blob, SerializationError) and not callable(value):
            assert blob == s.dumps(value) == cloudpickle.dumps(value)
    assert s.loads(out[4])() == 3
    assert s.loads(out[3]) == "after"


def test_default_dumps_many_for_other_serializers():
    out = JSONSerializer().dumps_many([1, object(), "x"])
    assert out[0] == b"1" and out[2] == b'"x"'
    assert isinstance(out[1], SerializationError) and out[1].type_name == "object"


def test_base_class_dumps_many_wraps_a_plugin_serializer_error():
    class Picky(Serializer):
        name = "picky"

        def dumps(self, value):
            if value == 2:
                raise RuntimeError("no twos")
            return b"ok"

    out = Picky().dumps_many([1, 2])
    assert out[0] == b"ok"
    assert isinstance(out[1], SerializationError)
    assert "serializer 'picky'" in str(out[1]) and "RuntimeError: no twos" in str(out[1])


def test_serialization_errors_pickle():
    try:
        CloudpickleSerializer().dumps(threading.Lock())
    except SerializationError as exc:
        error = exc.with_task("t", None)
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is SerializationError
    assert (clone.type_name, clone.serializer, clone.task_name) == ("_thread.lock", "cloudpickle", "t")
    assert str(clone) == str(error) and str(clone).endswith("(task 't')")


def test_protocol_option():
    assert CloudpickleSerializer(protocol=4).dumps(1)[:2] == b"\x80\x04"
    with pytest.raises(ValueError, match="protocol"):
        CloudpickleSerializer(protocol=99)


def test_get_serializer():
    assert isinstance(get_serializer(), CloudpickleSerializer)
    assert isinstance(get_serializer("json"), JSONSerializer)
    assert get_serializer("cloudpickle", protocol=4).protocol == 4
    own = JSONSerializer()
    assert get_serializer(own) is own
    assert isinstance(get_serializer(JSONSerializer), JSONSerializer)
    with pytest.raises(PluginError, match=r"Unknown serializer 'jsno'. Did you mean 'json'\?"):
        get_serializer("jsno")
    with pytest.raises(TypeError, match="not a serializer"):
        get_serializer(object())
