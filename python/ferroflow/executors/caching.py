"""Persisted caching inside a work unit (``cache_for=``, ``cache_validator=``,
``cache_key=``, ``cache_key_fn=``).

Before a task run, its cache key is computed from what the validator says it depends
on (see :mod:`ferroflow.cache_validators`); an unexpired record under that key in the
cache's result store makes the run ``Cached`` with the stored value. After a
successful run, the value and a record are written. A cache that cannot be read or
written is a warning: the task runs (or its result stands) as if there were no cache.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from typing import Any, Callable, Optional

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

__all__ = ["Cache"]

log = logging.getLogger("ferroflow.cache")


@dataclasses.dataclass(frozen=True)
class Cache:
    """The caching of one task: where (``result``), for how long, keyed on what."""

    name: str
    result: Result
    validator: Any
    cache_for: Optional[datetime.timedelta]
    key_fn: Optional[Callable[..., Any]] = None
    mapped: bool = False
    source: Optional[str] = None  # the task's source hash, when the validator keys on it

    def key(self, context: dict, inputs: dict, parameters: dict, map_index: Optional[int]) -> Optional[str]:
        """The cache key of one task run, or None when it is not to be cached."""
        if self.key_fn is not None:
            custom = self.key_fn(context, inputs)
            if custom is None:
                return None
            return cache_key_from_hashes(self.name, extra=hash_value(str(custom)))
        v = self.validator
        hashed_inputs = None if v.inputs is None else hash_inputs(_select(inputs, v.inputs))
        hashed_parameters = None if v.parameters is None else hash_parameters(_select(parameters, v.parameters))
        extra = None
        if self.mapped and v.inputs is None:
            extra = hash_value(map_index)  # each child its own entry
        return cache_key_from_hashes(self.name, hashed_inputs=hashed_inputs, hashed_parameters=hashed_parameters,
                                     source_hash=self.source, extra=extra)

    def lookup(self, key: str, label: str) -> tuple:
        """``(True, value)`` for a valid entry under ``key``, else ``(False, None)``."""
        store = self.result.store
        try:
            record = load_cache_record(store, key)
            if record is None or record.is_expired():
                return False, None
            return True, self.result.read_value(record.value_location)
        except ResultError as exc:
            log.warning("task %r: cache entry %s not used: %s", label, key, exc)
            return False, None

    def save(self, key: str, value: Any, label: str) -> None:
        """Store ``value`` under ``key`` (a warning if that fails)."""
        expiration = None
        if self.cache_for is not None:
            expiration = datetime.datetime.now(datetime.timezone.utc) + self.cache_for
        try:
            location = self.result.write_to(cache_value_location(key), value)
            save_cache_record(self.result.store, CacheRecord(
                cache_key=key, value_location=location, expiration=expiration,
                task_source_hash=self.source,
                serializer=getattr(self.result.serializer, "name", None)))
        except ResultError as exc:
            log.warning("task %r: result not cached: %s", label, exc)


def _select(values: dict, selection: Any) -> dict:
    if selection == "all":
        return values
    return {k: values[k] for k in selection if k in values}


def cache_of(task: Any, flow_name: str, slug: str, result: Optional[Result], mapped: bool) -> Optional[Cache]:
    """The :class:`Cache` of a task in a flow, or None when it does not cache."""
    if task.cache_for is None and task.cache_key_fn is None:
        return None
    from ferroflow.cache_validators import duration_only

    validator = task.cache_validator or duration_only
    if not validator.use:
        return None
    if result is None:
        from ferroflow.store import ferroflow_home

        result = Result(base=(ferroflow_home() / "cache").as_uri())
    source = task_source_hash(task.run) if validator.source else None
    return Cache(task.cache_key or f"{flow_name}.{slug}", result, validator, task.cache_for, task.cache_key_fn,
                 mapped, source)
