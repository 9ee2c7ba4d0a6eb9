"""Records as they travel from a flow run to the server: JSON, losslessly.

A batch of records is the list of store items (:mod:`ferroflow.store.items`) a run
store's writer would apply, encoded as JSON. Items hold what JSON has no form for, so
these are tagged, each as a one-key object:

* bytes (a task's codes, pickled parameters): ``{"$b": base64}``, or, from
  :data:`COMPRESS_FROM` bytes on, ``{"$z": base64 of zlib}`` (a million children's codes,
  mostly alike, become a few KiB); a compressed value may not expand past
  :data:`MAX_BYTES` (a small body cannot become a huge one);
* a ``range`` of child indices: ``{"$r": [start, stop, step]}``;
* a dict, whose keys may be ints or tuples (a report's details by child index, the
  round's details by ``(task_id, index)``): ``{"$d": [[key, value], ...]}``;
* a tuple: ``{"$t": [...]}`` (kept apart from a list, which some items hold).

Any other object is refused with a :class:`TypeError` naming it: a record never holds a
value of the user's (values stay in result stores; a record holds their locations).
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

__all__ = ["COMPRESS_FROM", "MAX_BYTES", "encode", "decode", "dumps", "loads", "batch_body"]

#: Byte strings at least this long travel compressed.
COMPRESS_FROM = 4096
#: The largest byte string a compressed one may expand to (64 MiB: the codes of 64
#: million children).
MAX_BYTES = 64 << 20


def encode(value: Any) -> Any:
    """``value`` as JSON-able data (see the module docstring)."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is float or kind is bool:
        return value
    if kind is list:
        return [encode(v) for v in value]
    if kind is tuple:
        return {"$t": [encode(v) for v in value]}
    if kind is bytes or kind is bytearray or kind is memoryview:
        if len(value) >= COMPRESS_FROM:
            return {"$z": base64.b64encode(zlib.compress(value, 1)).decode("ascii")}
        return {"$b": base64.b64encode(value).decode("ascii")}
    if kind is range:
        return {"$r": [value.start, value.stop, value.step]}
    if isinstance(value, dict):
        return {"$d": [[encode(k), encode(v)] for k, v in value.items()]}
    for plain in (int, float, str):  # a subclass (an IntEnum code, a numpy-free str subclass)
        if isinstance(value, plain):
            return plain(value)
    raise TypeError(f"a store record cannot hold a {kind.__name__} ({value!r:.80})")


def decode(data: Any) -> Any:
    """The value :func:`encode` gave ``data`` for. Raises ValueError on a malformed tag."""
    if type(data) is list:
        return [decode(v) for v in data]
    if type(data) is not dict:
        return data
    if len(data) != 1:
        raise ValueError(f"a tagged value has one key, got {sorted(data)[:5]}")
    (tag, body), = data.items()
    if tag == "$t":
        return tuple(decode(v) for v in _list(body, tag))
    if tag == "$b":
        if not isinstance(body, str):
            raise ValueError("$b holds a base64 string")
        return base64.b64decode(body, validate=True)
    if tag == "$z":
        if not isinstance(body, str):
            raise ValueError("$z holds a base64 string")
        inflate = zlib.decompressobj()
        try:
            inflated = inflate.decompress(base64.b64decode(body, validate=True), MAX_BYTES)
        except zlib.error as exc:
            raise ValueError(f"$z does not hold zlib data: {exc}") from None
        if inflate.unconsumed_tail or not inflate.eof:
            raise ValueError(f"$z expands past {MAX_BYTES:,} bytes, or is cut short")
        return inflated
    if tag == "$r":
        parts = _list(body, tag)
        if len(parts) != 3 or not all(type(p) is int for p in parts):
            raise ValueError("$r holds [start, stop, step] integers")
        return range(*parts)
    if tag == "$d":
        out = {}
        for pair in _list(body, tag):
            if type(pair) is not list or len(pair) != 2:
                raise ValueError("$d holds [key, value] pairs")
            out[decode(pair[0])] = decode(pair[1])
        return out
    raise ValueError(f"unknown tag {tag!r}")


def _list(body: Any, tag: str) -> list:
    if type(body) is not list:
        raise ValueError(f"{tag} holds a list")
    return body


def dumps(value: Any) -> bytes:
    """``value`` encoded, as compact UTF-8 JSON."""
    return json.dumps(encode(value), separators=(",", ":"), allow_nan=False).encode()


def loads(data: bytes | str) -> Any:
    """The value :func:`dumps` gave ``data`` for."""
    return decode(json.loads(data))


def batch_body(batch_id: str, tokens: dict, items: list) -> bytes:
    """The body of ``POST /api/v1/records``: a JSON object with the batch's id, the lease
    tokens of its runs and its items (each in the wire form)."""
    return json.dumps({"batch_id": batch_id, "tokens": tokens, "items": [encode(item) for item in items]},
                      separators=(",", ":"), allow_nan=False).encode()
