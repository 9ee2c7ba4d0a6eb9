"""Cache records and cache keys: what persisted caching is built on.

A task run whose output may be reused later stores its value with its
:class:`~ferroflow.results.Result` and, next to it in the same store, a
:class:`CacheRecord` under a *cache key*. The key says what the cached value depends
on; a later run computes the key the same way and, when a valid record is there, reads
the value instead of running the task. Because both live in the result store, a cache
survives the process (unlike Prefect 1's in-memory ``prefect.context.caches``).

Keys are built by :func:`cache_key_for` from a name (the task's ``cache_key`` or
name) and whatever the cache depends on: inputs, parameters, the task's source code::

    key = cache_key_for("load", inputs={"x": 3}, source=load_fn)

so a different input, or an edit of the task's code, gives a different key. Each
distinct combination has its own record, found with one read (no listing).

Hashing (:func:`hash_value`) is stable across processes and machines for the usual
values: ``None``, bools, numbers, strings, bytes, and lists, tuples, dicts, sets and
frozensets of them are hashed structurally (dicts and sets regardless of order);
anything else is hashed from its cloudpickle bytes. A value that cannot be pickled is
hashed from its ``repr()``, with a warning on the ``ferroflow.results`` logger: equal
values whose ``repr()`` differ (or show a memory address, ``<Foo object at 0x...>``)
then never hit the cache. Inside :func:`strict_hashing` (eager flows' caching, as in
Prefect 3) such a value is not hashed at all: :func:`hash_value` raises
:class:`UnhashableValue`, and the call is not cached.

Source hashing (:func:`task_source_hash`) reads the function's source with
:func:`inspect.getsource` and normalizes it (comments, blank lines and indentation
width do not count), so reformatting keeps the key and editing the code changes it.
Only the function's own source counts, not the functions it calls.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime
import functools
import hashlib
import inspect
import io
import json
import logging
import re
import textwrap
import tokenize
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import cloudpickle

from ferroflow.errors import one_line
from ferroflow.results.errors import ResultCorrupt, ResultNotFound
from ferroflow.results.stores import ResultStore

__all__ = [
    "CACHE_PREFIX",
    "CacheRecord",
    "UnhashableValue",
    "cache_key_for",
    "cache_key_from_hashes",
    "cache_candidates_location",
    "cache_record_location",
    "cache_value_location",
    "hash_value",
    "hash_inputs",
    "hash_parameters",
    "task_source_hash",
    "load_cache_candidates",
    "load_cache_record",
    "save_cache_candidates",
    "save_cache_record",
    "strict_hashing",
]

logger = logging.getLogger("ferroflow.results")

#: Location prefix of cache records (and of cached values, by default) in a store.
CACHE_PREFIX = "ferroflow-cache"

_DIGEST_SIZE = 16

#: The message of a task run that returned normally, and of a cache record that does
#: not say otherwise.
SUCCEEDED = "Task run succeeded."


def _new_hasher() -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=_DIGEST_SIZE)


# ---------------------------------------------------------------------------
# hashing values
# ---------------------------------------------------------------------------

_warned_types: set[str] = set()

#: Whether a value that cannot be pickled raises instead of being hashed from its repr().
_STRICT: contextvars.ContextVar[bool] = contextvars.ContextVar("ferroflow_strict_hashing", default=False)


class UnhashableValue(TypeError):
    """A value that cannot be pickled was hashed inside :func:`strict_hashing`."""


@contextlib.contextmanager
def strict_hashing() -> Iterator[None]:
    """Within the block, :func:`hash_value` raises :class:`UnhashableValue` for a value
    it cannot pickle, instead of hashing its ``repr()``."""
    token = _STRICT.set(True)
    try:
        yield
    finally:
        _STRICT.reset(token)


def hash_value(value: Any) -> str:
    """A stable hex digest (32 characters) of ``value``; see the module docstring."""
    hasher = _new_hasher()
    _feed(hasher, value, set())
    return hasher.hexdigest()


def hash_inputs(inputs: Mapping[str, Any]) -> dict[str, str]:
    """``{name: hash_value(value)}`` for a task's inputs, sorted by name."""
    return {str(name): hash_value(inputs[name]) for name in sorted(inputs, key=str)}


def hash_parameters(parameters: Mapping[str, Any]) -> dict[str, str]:
    """``{name: hash_value(value)}`` for a flow run's parameters, sorted by name."""
    return hash_inputs(parameters)


def _length(hasher: Any, tag: bytes, n: int) -> None:
    hasher.update(tag + str(n).encode() + b":")


def _feed(hasher: Any, value: Any, active: set[int]) -> None:
    t = type(value)
    if value is None:
        hasher.update(b"N")
    elif t is bool:
        hasher.update(b"T" if value else b"F")
    elif t is int:
        hasher.update(b"i" + format(value, "x").encode() + b";")  # hex: no digit limit
    elif t is float:
        hasher.update(b"f" + value.hex().encode() + b";")
    elif t is complex:
        hasher.update(b"c" + value.real.hex().encode() + b"," + value.imag.hex().encode() + b";")
    elif t is str:
        data = value.encode("utf-8", "surrogatepass")
        _length(hasher, b"s", len(data))
        hasher.update(data)
    elif t is bytes or t is bytearray:
        _length(hasher, b"b" if t is bytes else b"B", len(value))
        hasher.update(value)
    elif t in (list, tuple, dict, set, frozenset):
        if id(value) in active:  # a cycle: let pickle describe it
            _feed_pickle(hasher, value)
            return
        active.add(id(value))
        try:
            if t is list or t is tuple:
                _length(hasher, b"l" if t is list else b"t", len(value))
                for item in value:
                    _feed(hasher, item, active)
            elif t is dict:
                pairs = sorted(_digest(k, active) + _digest(v, active) for k, v in value.items())
                _length(hasher, b"d", len(pairs))
                for pair in pairs:
                    hasher.update(pair)
            else:
                digests = sorted(_digest(item, active) for item in value)
                _length(hasher, b"S" if t is set else b"z", len(digests))
                for digest in digests:
                    hasher.update(digest)
        finally:
            active.discard(id(value))
    else:
        _feed_pickle(hasher, value)


def _digest(value: Any, active: set[int]) -> bytes:
    hasher = _new_hasher()
    _feed(hasher, value, active)
    return hasher.digest()


def _feed_pickle(hasher: Any, value: Any) -> None:
    try:
        data = cloudpickle.dumps(value, protocol=5)
    except Exception as exc:  # unpicklable: fall back to repr
        type_name = f"{type(value).__module__}.{type(value).__qualname__}"
        if _STRICT.get():
            raise UnhashableValue(f"a value of type {type_name!r} cannot be hashed: {one_line(exc)}") from exc
        if type_name not in _warned_types:
            _warned_types.add(type_name)
            logger.warning(
                "ferroflow: a value of type %r cannot be pickled for a cache key (%s); "
                "hashing its repr() instead. Equal values with different repr() will not "
                "share a cache entry, and a repr() showing a memory address never does.",
                type_name, one_line(exc))
        try:
            text = repr(value)
        except Exception as exc2:
            text = f"<unrepresentable {type_name}: {one_line(exc2)}>"
        data = text.encode("utf-8", "surrogatepass")
        _length(hasher, b"r", len(data))
        hasher.update(data)
        return
    _length(hasher, b"p", len(data))
    hasher.update(data)


# ---------------------------------------------------------------------------
# hashing source code
# ---------------------------------------------------------------------------

_source_cache: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def task_source_hash(obj: Any) -> str:
    """A hex digest of the source code of a task or function.

    Accepts a function, a ``@task``-decorated function (its function is hashed), a
    :class:`~ferroflow.Task` subclass instance (its class's source is hashed), a
    bound method, a ``functools.partial`` or a callable object. Comments, blank lines,
    line continuation and indentation width are ignored; anything else that changes
    the source (code, names, literals, decorator arguments) changes the digest.
    Functions whose source is unavailable (defined in a REPL, built in C) are hashed
    from their bytecode and constants, which are stable for one Python version only.

    Raises:
        TypeError: ``obj`` has neither source nor bytecode (a builtin).
    """
    target = _source_target(obj)
    try:
        cached = _source_cache.get(target)
    except TypeError:  # not weakly referenceable
        cached = None
    if cached is not None:
        return cached
    try:
        source = inspect.getsource(target)
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        if inspect.isclass(target):
            digest = _class_fallback_hash(target)
        elif code is None:
            raise TypeError(f"Cannot hash the source of {obj!r}: no source code and no "
                            f"bytecode (a builtin?)") from None
        else:
            hasher = _new_hasher()
            hasher.update(b"code:")
            _feed_code(hasher, code)
            digest = hasher.hexdigest()
    else:
        hasher = _new_hasher()
        hasher.update(b"source:" + _normalize_source(source).encode("utf-8", "surrogatepass"))
        digest = hasher.hexdigest()
    try:
        _source_cache[target] = digest
    except TypeError:
        pass
    return digest


def _class_fallback_hash(cls: type) -> str:
    # A class whose source cannot be found (its module is not importable by name):
    # hash its own functions, which carry their file and line.
    hasher = _new_hasher()
    hasher.update(b"class:" + cls.__qualname__.encode())
    for name, member in sorted(vars(cls).items()):
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if inspect.isfunction(member):
            hasher.update(name.encode() + b"=" + task_source_hash(member).encode())
    return hasher.hexdigest()


def _source_target(obj: Any) -> Any:
    seen = 0
    while seen < 100:
        seen += 1
        if isinstance(obj, functools.partial):
            obj = obj.func
        elif inspect.ismethod(obj):
            obj = obj.__func__
        elif isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
        elif inspect.isfunction(obj) or inspect.isclass(obj):
            return inspect.unwrap(obj)
        elif inspect.isbuiltin(obj) or inspect.ismethoddescriptor(obj):
            return obj
        elif getattr(obj, "__wrapped__", None) is not None:  # @task: a FunctionTask
            obj = obj.__wrapped__
        else:  # a Task subclass instance, or any callable object: its class
            return type(obj)
    return obj


def _normalize_source(source: str) -> str:
    source = textwrap.dedent(source)
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
    parts = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in skip:
                continue
            if tok.type == tokenize.INDENT:
                parts.append("<indent>")
            elif tok.type == tokenize.DEDENT:
                parts.append("<dedent>")
            elif tok.type == tokenize.NEWLINE:
                parts.append("\n")
            else:
                parts.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        lines = [line.strip() for line in source.splitlines()]
        return "\n".join(line for line in lines if line and not line.startswith("#"))
    return " ".join(parts)


def _feed_code(hasher: Any, code: Any) -> None:
    hasher.update(code.co_code)
    hasher.update(repr(code.co_names).encode())
    hasher.update(repr(code.co_varnames).encode())
    for const in code.co_consts:
        if inspect.iscode(const):
            _feed_code(hasher, const)
        else:
            hasher.update(repr(const).encode("utf-8", "surrogatepass"))


# ---------------------------------------------------------------------------
# keys
# ---------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def cache_key_from_hashes(name: str, *, hashed_inputs: Mapping[str, str] | None = None,
                          hashed_parameters: Mapping[str, str] | None = None,
                          source_hash: str | None = None,
                          extra: str | None = None) -> str:
    """The cache key for already-computed hashes (see :func:`cache_key_for`)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"A cache key needs a non-empty name, got {name!r}")
    parts = {
        "name": name,
        "inputs": None if hashed_inputs is None else dict(sorted(hashed_inputs.items())),
        "parameters": None if hashed_parameters is None else dict(sorted(hashed_parameters.items())),
        "source": source_hash,
        "extra": extra,
    }
    hasher = _new_hasher()
    hasher.update(json.dumps(parts, sort_keys=True, separators=(",", ":")).encode())
    safe = _UNSAFE.sub("_", name).strip("._-")[:64] or "key"
    return f"{safe}-{hasher.hexdigest()}"


def cache_key_for(name: str, *, inputs: Mapping[str, Any] | None = None,
                  parameters: Mapping[str, Any] | None = None,
                  source: Callable[..., Any] | str | None = None,
                  extra: Any = None) -> str:
    """A cache key: ``"<name>-<32 hex digits>"``, usable as a location.

    Args:
        name: What is cached: a task's ``cache_key`` (shared by tasks and flows that
            use the same one) or its name or slug.
        inputs: The task's inputs the cache depends on (all of them for
            ``all_inputs``, some for ``partial_inputs_only``); ``None`` when it does
            not depend on inputs.
        parameters: Likewise for the flow's parameters.
        source: A task or function whose source the cache depends on (its
            :func:`task_source_hash`), or a digest already computed.
        extra: Anything else to key on (a version string, a date).

    Equal arguments give equal keys in any process; ``inputs={}`` and
    ``inputs=None`` differ (an empty input set is still a dependency).
    """
    return cache_key_from_hashes(
        name,
        hashed_inputs=None if inputs is None else hash_inputs(inputs),
        hashed_parameters=None if parameters is None else hash_parameters(parameters),
        source_hash=source if isinstance(source, str) or source is None else task_source_hash(source),
        extra=None if extra is None else hash_value(extra),
    )


def cache_record_location(cache_key: str) -> str:
    """Where the record of ``cache_key`` is kept: ``"ferroflow-cache/<key>.json"``."""
    return f"{CACHE_PREFIX}/{cache_key}.json"


def cache_candidates_location(cache_key: str) -> str:
    """Where the candidate entries of ``cache_key`` are kept (a task whose cache
    validator is a callable of the user's): ``"ferroflow-cache/<key>.candidates.json"``."""
    return f"{CACHE_PREFIX}/{cache_key}.candidates.json"


def cache_value_location(cache_key: str) -> str:
    """A location for the cached value of ``cache_key`` when the task's result has no
    location of its own: ``"ferroflow-cache/<key>.value"``."""
    return f"{CACHE_PREFIX}/{cache_key}.value"


# ---------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _check_aware(name: str, value: datetime.datetime | None) -> None:
    if value is None:
        return
    if not isinstance(value, datetime.datetime):
        raise TypeError(f"CacheRecord.{name} must be a datetime or None, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"CacheRecord.{name} must be timezone-aware (e.g. "
                         f"datetime.now(timezone.utc)), got the naive {value!r}")


@dataclasses.dataclass(frozen=True)
class CacheRecord:
    """What a cache entry says about a cached value.

    Attributes:
        cache_key: The key it is stored under (:func:`cache_key_for`).
        value_location: The location of the value in the same result store.
        expiration: When the entry stops being valid (timezone-aware), or ``None``
            for never (a ``target=``-like entry).
        hashed_inputs: ``{input name: digest}`` of the inputs, or ``None``.
        hashed_parameters: ``{parameter name: digest}``, or ``None``.
        task_source_hash: :func:`task_source_hash` of the task, or ``None``.
        serializer: The name of the serializer the value was written with.
        created: When the entry was written (timezone-aware).
        message: The message of the state that filled the entry (a task run that
            reuses it reports it again, as Prefect 1 does): ``"Task run succeeded."``
            unless the task ended with a ``SUCCESS`` signal's own message (or None).
    """

    cache_key: str
    value_location: str
    expiration: datetime.datetime | None = None
    hashed_inputs: Mapping[str, str] | None = None
    hashed_parameters: Mapping[str, str] | None = None
    task_source_hash: str | None = None
    serializer: str | None = None
    created: datetime.datetime = dataclasses.field(default_factory=_utcnow)
    message: str | None = SUCCEEDED

    #: Version of the JSON layout written by :meth:`to_bytes`.
    FORMAT_VERSION = 1

    def __post_init__(self) -> None:
        _check_aware("expiration", self.expiration)
        _check_aware("created", self.created)

    def is_expired(self, now: datetime.datetime | None = None) -> bool:
        """Whether ``now`` (default: the current time) is at or past the expiration."""
        if self.expiration is None:
            return False
        return (now or _utcnow()) >= self.expiration

    def inputs_match(self, hashed_inputs: Mapping[str, str],
                     names: Any | None = None) -> bool:
        """Whether the recorded input hashes equal ``hashed_inputs`` (on ``names`` only,
        when given: ``partial_inputs_only(validate_on=names)``)."""
        return _match(self.hashed_inputs, hashed_inputs, names)

    def parameters_match(self, hashed_parameters: Mapping[str, str],
                         names: Any | None = None) -> bool:
        """Like :meth:`inputs_match`, for parameters."""
        return _match(self.hashed_parameters, hashed_parameters, names)

    def to_bytes(self) -> bytes:
        """The record as UTF-8 JSON (what the store holds, inside its framing)."""
        return json.dumps(self.to_dict(), sort_keys=True).encode("utf-8")

    def to_dict(self) -> dict:
        """The record as a JSON object (see :meth:`to_bytes`)."""
        return {
            "format": self.FORMAT_VERSION,
            "cache_key": self.cache_key,
            "value_location": self.value_location,
            "expiration": None if self.expiration is None else self.expiration.isoformat(),
            "hashed_inputs": None if self.hashed_inputs is None else dict(self.hashed_inputs),
            "hashed_parameters": (None if self.hashed_parameters is None
                                  else dict(self.hashed_parameters)),
            "task_source_hash": self.task_source_hash,
            "serializer": self.serializer,
            "created": self.created.isoformat(),
            "message": self.message,
        }

    @classmethod
    def from_bytes(cls, data: bytes) -> CacheRecord:
        """Parse :meth:`to_bytes` output.

        Raises:
            ValueError: Not a cache record of a known format.
        """
        try:
            raw = json.loads(data)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not a ferroflow cache record: {one_line(exc)}") from None
        return cls.from_dict(raw)

    @classmethod
    def from_dict(cls, raw: Any) -> CacheRecord:
        """Parse :meth:`to_dict` output.

        Raises:
            ValueError: Not a cache record of a known format.
        """
        try:
            if not isinstance(raw, dict) or raw.get("format") != cls.FORMAT_VERSION:
                raise ValueError(f"unknown cache record format {raw.get('format') if isinstance(raw, dict) else raw!r}")
            return cls(
                cache_key=raw["cache_key"],
                value_location=raw["value_location"],
                expiration=_parse_time(raw["expiration"]),
                hashed_inputs=raw["hashed_inputs"],
                hashed_parameters=raw["hashed_parameters"],
                task_source_hash=raw["task_source_hash"],
                serializer=raw["serializer"],
                created=_parse_time(raw["created"]) or _utcnow(),
                message=raw.get("message", SUCCEEDED),  # absent from records written before it was kept
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a ferroflow cache record: {one_line(exc)}") from None


def _parse_time(text: str | None) -> datetime.datetime | None:
    return None if text is None else datetime.datetime.fromisoformat(text)


def _match(recorded: Mapping[str, str] | None, current: Mapping[str, str],
           names: Any | None) -> bool:
    if recorded is None:
        return False
    if names is None:
        return dict(recorded) == dict(current)
    return all(recorded.get(n) == current.get(n) for n in names)


def save_cache_record(store: ResultStore, record: CacheRecord) -> str:
    """Write ``record`` to ``store`` at :func:`cache_record_location`; return the location.

    Raises:
        ResultStoreError: As the store's ``write``.
    """
    location = cache_record_location(record.cache_key)
    store.write(location, record.to_bytes())
    return location


def save_cache_candidates(store: ResultStore, cache_key: str, records: list) -> str:
    """Write the candidate entries ``records`` (:class:`CacheRecord`, oldest first) of
    ``cache_key`` to ``store`` at :func:`cache_candidates_location`; return the
    location.

    Raises:
        ResultStoreError: As the store's ``write``.
    """
    location = cache_candidates_location(cache_key)
    data = {"format": CacheRecord.FORMAT_VERSION, "cache_key": cache_key,
            "candidates": [record.to_dict() for record in records]}
    store.write(location, json.dumps(data, sort_keys=True).encode("utf-8"))
    return location


def _read_or_none(store: ResultStore, location: str, what: str) -> bytes | None:
    """The bytes at ``location``, or None when nothing is there or the record is corrupt
    (a warning says so: it counts as none, and the task runs and replaces it)."""
    try:
        return store.read(location)
    except ResultNotFound:
        return None
    except ResultCorrupt as exc:
        logger.warning("ferroflow: ignoring %s: %s", what, exc)
        return None


def load_cache_candidates(store: ResultStore, cache_key: str) -> list:
    """The candidate entries of ``cache_key`` in ``store``, oldest first (``[]`` when
    there are none). Corrupt or unreadable candidates count as none (a warning is
    logged), as for :func:`load_cache_record`; expiration is not checked here.

    Raises:
        ResultStoreError: The store failed otherwise (permission, network).
    """
    location = cache_candidates_location(cache_key)
    data = _read_or_none(store, location, "cache candidates")
    if data is None:
        return []
    try:
        raw = json.loads(data)
        if not isinstance(raw, dict) or raw.get("format") != CacheRecord.FORMAT_VERSION:
            raise ValueError("unknown format")
        if raw.get("cache_key") != cache_key:
            raise ValueError(f"they are for key {raw.get('cache_key')!r}")
        return [CacheRecord.from_dict(entry) for entry in raw["candidates"]]
    except (KeyError, TypeError, ValueError) as exc:
        logger.warning("ferroflow: ignoring cache candidates %s: %s", store.url(location), one_line(exc))
        return []


def load_cache_record(store: ResultStore, cache_key: str) -> CacheRecord | None:
    """The record of ``cache_key`` in ``store``, or ``None`` when there is none.

    A corrupt or unreadable record counts as none (a warning is logged) so that the
    task runs and replaces it. Expiration is not checked here: see
    :meth:`CacheRecord.is_expired`.

    Raises:
        ResultStoreError: The store failed otherwise (permission, network).
    """
    location = cache_record_location(cache_key)
    data = _read_or_none(store, location, "cache record")
    if data is None:
        return None
    try:
        record = CacheRecord.from_bytes(data)
    except ValueError as exc:
        logger.warning("ferroflow: ignoring cache record %s: %s", store.url(location), exc)
        return None
    if record.cache_key != cache_key:
        logger.warning("ferroflow: ignoring cache record %s: it is for key %r",
                       store.url(location), record.cache_key)
        return None
    return record
