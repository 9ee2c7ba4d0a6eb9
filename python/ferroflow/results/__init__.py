"""Results: where task return values are kept, in what format, and cache records.

* :class:`Result` ties a result store, a serializer and a location template together:
  ``Result("fsspec", base="file:///data/results",
  location="{flow_name}/{task_name}/{map_index}.pkl")``.
* Result stores (:class:`ResultStore`): ``memory`` (:class:`MemoryResultStore`) and
  ``fsspec`` (:class:`FsspecResultStore`, any fsspec URL) are built in; plugins add
  more through the ``register_result_stores`` hook. Writes are atomic; records carry a
  checksum (:mod:`ferroflow.results.record`), so a truncated or altered record is a
  :class:`ResultCorrupt` error, never a wrong value.
* Serializers (:class:`Serializer`): ``cloudpickle`` (default) and ``json`` are built
  in; plugins add more through the ``register_serializers`` hook.
* :class:`LocalResult`: Prefect 1's ``LocalResult(dir=..., location=...)``, files
  under a directory (or at absolute paths), full paths as locations.
* :class:`PrefectResult`: Prefect 1's ``PrefectResult``, a JSON value kept in its own
  location string.
* :class:`ResultValue` and :data:`NoResult`: a value with the location it was kept
  at, as Prefect 1 code reads it from ``state._result``.
* Caching: :class:`CacheRecord`, :func:`cache_key_for`, :func:`hash_value`,
  :func:`task_source_hash`, :func:`save_cache_record`, :func:`load_cache_record`.

See ``docs/results.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ferroflow.results.cache import (
    CACHE_PREFIX,
    CacheRecord,
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
from ferroflow.results.errors import (
    ResultCorrupt,
    ResultError,
    ResultLocationError,
    ResultNotFound,
    ResultStoreError,
    SerializationError,
)
from ferroflow.results.inline import PrefectResult
from ferroflow.results.local import LocalResult
from ferroflow.results.result import (
    DEFAULT_LOCATION,
    DEFAULT_TASK_LOCATION,
    DefaultLocation,
    LocationTemplate,
    Result,
    template_context,
)
from ferroflow.results.serializers import (
    DEFAULT_SERIALIZER,
    CloudpickleSerializer,
    JSONSerializer,
    Serializer,
    get_serializer,
)
from ferroflow.results.stores import (
    MemoryResultStore,
    ResultStore,
    check_location,
    get_result_store,
)
from ferroflow.states import NoResult, ResultValue

if TYPE_CHECKING:  # pragma: no cover
    from ferroflow.results.filesystem import FsspecResultStore

__all__ = [
    "CACHE_PREFIX",
    "DEFAULT_LOCATION",
    "DEFAULT_SERIALIZER",
    "DEFAULT_TASK_LOCATION",
    "DefaultLocation",
    "CacheRecord",
    "CloudpickleSerializer",
    "FsspecResultStore",
    "JSONSerializer",
    "LocalResult",
    "LocationTemplate",
    "MemoryResultStore",
    "NoResult",
    "PrefectResult",
    "Result",
    "ResultCorrupt",
    "ResultError",
    "ResultLocationError",
    "ResultNotFound",
    "ResultStore",
    "ResultStoreError",
    "ResultValue",
    "SerializationError",
    "Serializer",
    "cache_key_for",
    "cache_key_from_hashes",
    "cache_record_location",
    "cache_value_location",
    "check_location",
    "get_result_store",
    "get_serializer",
    "hash_inputs",
    "hash_parameters",
    "hash_value",
    "load_cache_record",
    "save_cache_record",
    "task_source_hash",
    "template_context",
]


def __getattr__(name: str) -> Any:
    # FsspecResultStore is imported on first use: fsspec takes ~80 ms to import.
    if name == "FsspecResultStore":
        from ferroflow.results.filesystem import FsspecResultStore

        return FsspecResultStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
