"""Persisted caching inside a work unit (``cache_for=``, ``cache_validator=``,
``cache_key=``, ``cache_key_fn=``), with Prefect 1's states.

Before a task run, its cache key is computed from what the validator says it depends
on (see :mod:`ferroflow.cache_validators`); an unexpired record under that key in the
cache's result store makes the run ``Cached`` with the stored value and the message
of the state that filled the entry ("Task run succeeded.", or a ``SUCCESS`` signal's
message), without running it: its state handlers see ``Pending -> Cached``. A
successful run of a caching task ends ``Cached`` too, with its own message: its
handlers see ``Success -> Cached`` after ``Running -> Success``, and the value is
stored (unless a handler turned the state into something else). Skipped and failed
runs are neither cached nor stored. With ``never_use`` the runs still end ``Cached``
(as in Prefect 1) but nothing is read or stored.

A validator of the user's (a callable ``validator(state, inputs, parameters)``, as in
Prefect 1) is not a key: every stored entry of the task (of the child, for a mapped
task) is a *candidate* under one key, and each run offers the unexpired candidates to
the validator, oldest first, as ``Cached`` states (value, message, ``hashed_inputs``,
``cached_parameters``, ``cached_result_expiration``); the first it accepts is used. A
successful run adds itself as a candidate (its value written with the flow run's
parameters) and drops the expired ones. A Cached state given to
``flow.run(task_states=...)`` is offered to the validator first.

A cache that cannot be read or written is a warning: the task runs (or its result
stands) as if there were no cache.

In an eager flow (``@flow``) caching follows Prefect 3 instead (``Cache.eager``): keys
are not kept apart per task (two tasks whose key functions give one key share its
entry), a call that ran ends ``Completed`` and a hit ends ``Cached``, both with no
message; a key function that raises (an input that cannot be hashed) means the call
is not cached, and ``refresh_cache`` runs the call and overwrites its entry.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import uuid
from collections.abc import Callable
from typing import Any

from ferroflow import states
from ferroflow._core import CACHED, FAILED, SUCCESS
from ferroflow.errors import formatted_traceback
from ferroflow.results import (
    CacheRecord,
    Result,
    ResultError,
    cache_key_from_hashes,
    cache_value_location,
    hash_inputs,
    hash_parameters,
    hash_value,
    load_cache_record,
    save_cache_record,
    task_source_hash,
)
from ferroflow.results.cache import SUCCEEDED, load_cache_candidates, save_cache_candidates, strict_hashing
from ferroflow.runtime.context import frame_values, in_frame

__all__ = ["EAGER_KEYS", "Cache", "cache_of", "read_cache", "settle"]

#: The name every eager cache key is made with: eager keys are global, as in Prefect 3.
EAGER_KEYS = "eager"

log = logging.getLogger("ferroflow.cache")


@dataclasses.dataclass(frozen=True)
class Cache:
    """The caching of one task: where (``result``), for how long, keyed on what.

    ``validator`` is a :class:`~ferroflow.cache_validators.CacheValidator`, which says
    what the key is made of (one entry per key), or a callable of the user's,
    ``validator(state, inputs, parameters) -> bool`` as in Prefect 1: the entries of
    the task (of the child, for a mapped task) are then *candidates* kept under one
    key, offered to it one by one. ``given`` is a ``Cached`` state given to
    ``flow.run(task_states=...)``, offered to the validator first.

    ``eager``: Prefect 3's rules (see the module docstring); ``task_key`` (the task's
    function's qualified name and code hash) is then in the context its key function
    gets, and ``refresh`` says to run every call and overwrite its entry.
    """

    name: str
    result: Result | None  # None only with ``never_use``, which reads and writes nothing
    validator: Any
    cache_for: datetime.timedelta | None
    key_fn: Callable[..., Any] | None = None
    mapped: bool = False
    source: str | None = None  # the task's source hash, when the validator keys on it
    given: Any = None
    eager: bool = False
    refresh: bool = False
    task_key: str | None = None

    @property
    def _kept_in(self) -> Result:
        """``result``, for the methods that read or write entries (never called for a
        ``never_use`` cache, the one kind without it)."""
        if self.result is None:
            raise RuntimeError(f"cache {self.name!r} keeps nothing (never_use)")
        return self.result

    @property
    def used(self) -> bool:
        """Whether entries are read and stored at all (False for ``never_use``)."""
        return getattr(self.validator, "use", True)

    @property
    def chooses(self) -> bool:
        """Whether the validator is a callable of the user's, choosing among candidates."""
        return _chooses(self.validator)

    @property
    def needs_inputs(self) -> bool:
        """Whether looking up an entry needs the task run's inputs."""
        return (self.key_fn is not None or self.chooses or self.given is not None
                or self.validator.inputs is not None)

    def key(self, context: dict, inputs: dict, parameters: dict, map_index: int | None) -> str | None:
        """The cache key of one task run, or None when it is not to be cached."""
        if self.eager:
            return self._eager_key(context, inputs)
        if self.key_fn is not None:
            custom = self.key_fn(context, inputs)
            if custom is None:
                return None
            return cache_key_from_hashes(self.name, extra=hash_value(str(custom)))
        if self.chooses:  # one list of candidates per task (per child of a mapped one)
            candidates = hash_value(("candidates", map_index if self.mapped else None))
            return cache_key_from_hashes(self.name, extra=candidates)
        v = self.validator
        hashed_inputs = None if v.inputs is None else hash_inputs(_select(inputs, v.inputs))
        hashed_parameters = None if v.parameters is None else hash_parameters(_select(parameters, v.parameters))
        extra = None
        if self.mapped and v.inputs is None:
            extra = hash_value(map_index)  # each child its own entry
        return cache_key_from_hashes(self.name, hashed_inputs=hashed_inputs, hashed_parameters=hashed_parameters,
                                     source_hash=self.source, extra=extra)

    def _eager_key(self, context: dict, inputs: dict) -> str | None:
        """An eager call's key (global: not made with the task's name), None when the key
        function gives None or raises (a value it cannot hash, say), as in Prefect 3."""
        assert self.key_fn is not None  # (an eager cache always has one)
        try:
            with strict_hashing():
                from ferroflow.runtime.run_context import KeyContext

                custom = self.key_fn(KeyContext(context, task_key=self.task_key), inputs)
                if custom is None:
                    return None
                return cache_key_from_hashes(EAGER_KEYS, extra=hash_value(str(custom)))
        except Exception as exc:
            log.debug("task call not cached: its cache key could not be computed: %r", exc)
            return None

    def lookup(self, key: str, label: str) -> tuple | None:
        """``(value, message)`` of a valid entry under ``key``, else None."""
        store = self._kept_in.store
        try:
            record = load_cache_record(store, key)
            if record is None or record.is_expired():
                return None
            return self._kept_in.read_value(record.value_location), record.message
        except ResultError as exc:
            log.warning("task %r: cache entry %s not used: %s", label, key, exc)
            return None

    def choose(self, key: str, label: str, inputs: dict, parameters: dict) -> tuple | None:
        """``(value, message)`` of the first unexpired candidate under ``key`` (oldest
        first) that the user's validator accepts, else None. The validator's own
        error propagates."""
        try:
            records = [r for r in load_cache_candidates(self._kept_in.store, key) if not r.is_expired()]
            entries = self._kept_in.read_many([r.value_location for r in records])
        except ResultError as exc:
            log.warning("task %r: cache entries %s not used: %s", label, key, exc)
            return None
        for record, entry in zip(records, entries, strict=True):
            if isinstance(entry, ResultError):
                log.warning("task %r: cache entry %s not used: %s", label, record.value_location, entry)
                continue
            value, cached_parameters = entry
            candidate = states.Cached(record.message, value, cached_parameters=cached_parameters,
                                      cached_result_expiration=record.expiration, hashed_inputs=record.hashed_inputs)
            if self.validator(candidate, inputs, parameters):
                return value, record.message
        return None

    def save(self, key: str, value: Any, message: str | None, label: str,
             inputs: dict | None = None, parameters: dict | None = None) -> None:
        """Store ``value`` and the message of its state under ``key`` (a warning if
        that fails); for a validator of the user's, as one more candidate, with the
        hashes of ``inputs`` and the ``parameters`` it is offered with later."""
        expiration = None
        if self.cache_for is not None:
            expiration = datetime.datetime.now(datetime.timezone.utc) + self.cache_for
        message = None if message is None else str(message)
        try:
            if self.chooses:
                self._add_candidate(key, value, message, expiration, inputs or {}, parameters or {})
                return
            location = self._kept_in.write_to(cache_value_location(key), value)
            save_cache_record(self._kept_in.store, CacheRecord(
                cache_key=key, value_location=location, expiration=expiration,
                task_source_hash=self.source,
                serializer=getattr(self._kept_in.serializer, "name", None),
                message=message))
        except ResultError as exc:
            log.warning("task %r: result not cached: %s", label, exc)

    def _add_candidate(self, key: str, value: Any, message: str | None,
                       expiration: datetime.datetime | None, inputs: dict, parameters: dict) -> None:
        """Write ``value`` (with ``parameters``) as a new candidate under ``key``,
        dropping the expired ones (and their values)."""
        store = self._kept_in.store
        kept: list[CacheRecord] = []
        expired: list[CacheRecord] = []
        for record in load_cache_candidates(store, key):
            (expired if record.is_expired() else kept).append(record)
        location = self._kept_in.write_to(cache_value_location(f"{key}.{uuid.uuid4().hex}"), (value, parameters))
        kept.append(CacheRecord(cache_key=key, value_location=location, expiration=expiration,
                                hashed_inputs=hash_inputs(inputs),
                                serializer=getattr(self._kept_in.serializer, "name", None), message=message))
        save_cache_candidates(store, key, kept)
        for record in expired:
            try:
                store.delete(record.value_location)
            except Exception:  # a leftover file is only a leftover
                pass


def _chooses(validator: Any) -> bool:
    """Whether ``validator`` is a callable of the user's rather than one of
    :mod:`ferroflow.cache_validators` (imported on first use, not with ferroflow)."""
    from ferroflow.cache_validators import CacheValidator

    return not isinstance(validator, CacheValidator)


def _select(values: dict, selection: Any) -> dict:
    if selection == "all":
        return values
    return {k: values[k] for k in selection if k in values}


def cache_of(task: Any, flow_name: str, slug: str, result: Result | None, mapped: bool,
             eager_key_fn: Callable[..., Any] | None = None, refresh: bool = False) -> Cache | None:
    """The :class:`Cache` of a task in a flow, or None when it does not cache. A task
    called in an eager flow caches with ``eager_key_fn`` (the key function its options
    come to, see :func:`ferroflow.engine.persistence.checkpoint_of`) and Prefect 3's
    rules; ``refresh`` is its ``refresh_cache``."""
    if eager_key_fn is not None:
        if result is None:
            result = _home_cache()
        fn = task.run
        task_key = f"{getattr(fn, '__qualname__', task.name)}-{task_source_hash(fn)}"
        from ferroflow.cache_validators import duration_only

        return Cache(EAGER_KEYS, result, duration_only, task.cache_for, eager_key_fn, mapped, eager=True,
                     refresh=refresh, task_key=task_key)
    if task.cache_for is None and task.cache_key_fn is None:
        return None

    from ferroflow.cache_validators import duration_only

    validator = task.cache_validator or duration_only
    builtin = not _chooses(validator)
    if result is None and (not builtin or validator.use):
        result = _home_cache()
    source = task_source_hash(task.run) if builtin and validator.source else None
    return Cache(task.cache_key or f"{flow_name}.{slug}", result, validator, task.cache_for, task.cache_key_fn,
                 mapped, source)


def _home_cache() -> Result:
    """The result store of caches without a result of their own: ``$FERROFLOW_HOME/cache``."""
    from ferroflow.store import make_home

    return Result(base=(make_home() / "cache").as_uri())


# ---------------------------------------------------------------------------
# inside a work unit
# ---------------------------------------------------------------------------

def read_cache(unit: Any, cache: Cache, todo: list, keys: dict, codes: Any, values: list, details: dict) -> list:
    """Make ``Cached`` every task run among positions ``todo`` with a valid entry
    (through its state handlers: ``Pending -> Cached``); note in ``keys`` the key (None
    with ``never_use``) of each run that is to end ``Cached`` once it succeeds; return
    the positions left to run."""
    if not cache.used:
        keys.update(dict.fromkeys(todo))
        return todo
    with in_frame(unit.frame):
        return [j for j in todo if not _read_one(unit, cache, j, keys, codes, values, details)]


def _read_one(unit: Any, cache: Cache, j: int, keys: dict, codes: Any, values: list, details: dict) -> bool:
    """Look up task run ``j``'s entry; True when the run is decided (Cached, or failed
    computing its key). Only what the key is made of is worked out."""
    from ferroflow.runtime.unit import retry_rule, retryable

    frame = unit.frame
    frame.j = j
    uses_context = cache.key_fn is not None
    inputs = unit.inputs(j) if cache.needs_inputs else {}
    parameters = frame.run.parameters
    try:
        key = cache.key(frame_values(frame) if uses_context else {}, inputs, parameters, _index(unit, j))
    except Exception as exc:  # the user's cache_key_fn
        detail: tuple[str, str | None] = (f"Error computing the cache key of task {unit.label!r}: {exc!r}", None)
        codes[j], values[j], details[j] = retryable((FAILED, exc, detail), retry_rule(unit))
        return True
    try:
        found = None if cache.refresh else _given(cache, inputs, parameters)
        if found is None and key is not None and not cache.refresh:
            if cache.chooses:
                found = cache.choose(key, unit.label, inputs, parameters)
            else:
                found = cache.lookup(key, unit.label)
    except Exception as exc:  # the user's validator: Prefect 1's "Unexpected error"
        detail = (f"Unexpected error: {exc!r}", formatted_traceback(exc))
        codes[j], values[j], details[j] = retryable((FAILED, exc, detail), retry_rule(unit))
        return True
    if found is None:
        if key is not None:
            keys[j] = key
        return False
    value, message = found
    codes[j], values[j], details[j] = _observed(unit, j, None, _cached(message, value))[1]
    return True


def _given(cache: Cache, inputs: dict, parameters: dict) -> tuple | None:
    """``(value, message)`` of the Cached state given for the task
    (``flow.run(task_states=...)``) when its validator accepts it, else None."""
    given = cache.given
    if given is None or not cache.validator(given, inputs, parameters):
        return None
    return given.result, given.message


def settle(unit: Any, cache: Cache, keys: dict, codes: Any, values: list, details: dict) -> None:
    """Turn every successful task run of ``keys`` into ``Cached`` (through its state
    handlers: ``Success -> Cached``) and store the value of each that stays
    ``Cached``."""
    from ferroflow.runtime.unit import retry_rule, retryable

    if cache.eager:  # the calls that ran end Completed; their values are stored
        for j, key in keys.items():
            if codes[j] == SUCCESS and key is not None:
                cache.save(key, values[j], None, unit.label)
        return
    run_counts = unit.frame.run_counts
    with in_frame(unit.frame):
        for j, key in keys.items():
            if codes[j] != SUCCESS:
                continue
            detail = details.get(j)
            message = SUCCEEDED if detail is None else detail[0]
            old = states.Success(message, values[j])
            final, (code, value, detail) = _observed(unit, j, old, _cached(message, values[j]))
            if code != CACHED:
                # A handler chose another state: the run goes on to Prefect's retry check.
                outcome = retryable((code, value, detail), retry_rule(unit))
                code, value, detail = unit.check_for_retry(final, outcome, max(1, run_counts[j]) if run_counts else 1)
            codes[j], values[j], details[j] = code, value, detail
            if code == CACHED and key is not None:
                cache.save(key, value, detail[0], unit.label, unit.inputs(j) if cache.chooses else None,
                           unit.frame.run.parameters)


def _cached(message: str | None, value: Any) -> Any:

    return states.Cached(message, value)


def _observed(unit: Any, j: int, old: Any, new: Any) -> tuple:
    """``(final state, (code, value, (message, traceback)))`` of task run ``j`` moving
    from ``old`` (None: Pending) to ``new``, passed through the unit's state handlers
    (called in the unit's frame, which the caller made current)."""
    from ferroflow.runtime.handlers import call_handlers, outcome_of

    final = new
    if unit.handlers:
        unit.frame.j = j
        final = call_handlers(unit.owner, unit.handlers, states.Pending() if old is None else old, new)
    return final, outcome_of(final)


def _index(unit: Any, j: int) -> int | None:
    return None if unit.indices is None else unit.indices[j]
