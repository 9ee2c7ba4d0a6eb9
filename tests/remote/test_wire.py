"""The wire form of store items: every item kind round-trips exactly; anything else
is refused by name; malformed input is a ValueError, never a crash or a surprise."""

from __future__ import annotations

import math

import pytest

from ferroflow import _core
from ferroflow.store import items
from ferroflow.store.base import TaskList
from ferroflow.store.wire import decode, dumps, encode, loads


def every_kind() -> list:
    tasks = TaskList([0, 1, 2], ["load", "work", "<b>x</b>"], ["load-1", None, "x'; DROP TABLE runs;--"],
                     b"\x00\x01\x00", b"\x00\x00\x01")
    codes = bytes([_core.SUCCESS]) * 5 + bytes([_core.FAILED])
    return [
        items.start("a" * 32, "etl", {"n": 3, "when": "today", "odd": object()}, tasks, 1.5, None, pid=7,
                    token="t" * 32, hostname="h"),
        items.end("a" * 32, "Failed", "1 of 3 failed", 2.5),
        items.states("a" * 32, [(1, 4, _core.FAILED, 2, "boom", None)], now=3.0),
        items.report("a" * 32, [(0, None, _core.SUCCESS), (1, range(0, 6), codes, {5: ("boom", None, 1, "Tb")}),
                                (2, [3, 9], bytearray(b"\x01\x01"))],
                     {(1, 5): ("boom", "file:///x", 3, "Traceback ...")}, plain=True, now=4.0),
        items.width("a" * 32, 1, 6),
        items.logs("a" * 32, [(1, 5, 4.5, 40, "ferroflow.task", "héllo \u2603 \x00 end"), (None, -1, 5.0, "INFO", "f",
                                                                                          "flow")]),
    ]


@pytest.mark.parametrize("item", every_kind(), ids=lambda i: i[0])
def test_every_item_kind_round_trips(item):
    back = loads(dumps(item))
    assert back == item
    assert type(back) is tuple
    if item[0] == "report":
        assert type(back[2][1][1]) is range
        assert back[4] == {(1, 5): ("boom", "file:///x", 3, "Traceback ...")}
        assert list(back[4]) == [(1, 5)]  # tuple keys stay tuples


def test_values_of_the_user_are_refused_by_name():
    class Frame:
        pass

    with pytest.raises(TypeError, match="cannot hold a Frame"):
        encode(("logs", "r", [Frame()]))
    with pytest.raises(ValueError):
        dumps(("end", "r", "Failed", None, math.nan))  # not JSON


def test_subclasses_of_plain_types_travel_as_the_plain_type():
    import enum

    class Code(enum.IntEnum):
        A = 3

    assert encode(Code.A) == 3 and type(encode(Code.A)) is int


@pytest.mark.parametrize("data", [
    {"$b": "not base64!"},
    {"$b": 3},
    {"$r": [1, 2]},
    {"$r": ["a", 2, 1]},
    {"$d": [[1]]},
    {"$d": "x"},
    {"$t": "x"},
    {"$x": []},
    {"$t": [], "$b": ""},
])
def test_malformed_input_is_a_value_error(data):
    with pytest.raises(ValueError):
        decode(data)


def test_long_byte_strings_travel_compressed_and_come_back_whole():
    import json
    import os

    codes = bytes([_core.SUCCESS]) * 1_000_000 + bytes([_core.FAILED])
    noise = os.urandom(10_000)
    body = dumps(("report", "r", [(1, range(0, len(codes)), codes)], 1.0, None, True, noise))
    assert len(body) < 30_000  # (a million alike codes: a few KiB)
    back = loads(body)
    assert back[2][0][2] == codes and back[6] == noise
    assert '"$z"' in body.decode() and json.loads(body)


def test_a_compressed_value_may_not_expand_without_bound():
    import base64
    import zlib

    from ferroflow.store.wire import MAX_BYTES

    bomb = base64.b64encode(zlib.compress(bytes(MAX_BYTES + 1), 9)).decode()
    with pytest.raises(ValueError, match="expands past"):
        decode({"$z": bomb})
    with pytest.raises(ValueError, match="zlib"):
        decode({"$z": base64.b64encode(b"not zlib").decode()})
    cut = base64.b64encode(zlib.compress(b"x" * 10_000)[:-5]).decode()
    with pytest.raises(ValueError, match="cut short"):
        decode({"$z": cut})
