"""Prefect 3's cache policies: ``@task(cache_policy=INPUTS)``.

A policy says what a task call's cache key is made of; two calls with the same key
share one cached value (kept in the cache's result store, as ferroflow's other caching:
``docs/caching.md``), for ``cache_expiration`` (default: forever). Policies add up:
``INPUTS + TASK_SOURCE``.

* :data:`INPUTS` -- the call's arguments (``INPUTS - "client"`` leaves one out);
* :data:`TASK_SOURCE` -- the task function's source code (editing it misses the cache);
* :data:`FLOW_PARAMETERS` -- the flow run's parameters;
* :data:`RUN_ID` -- the flow run (so a value is reused within a run only);
* :data:`DEFAULT` -- ``INPUTS + TASK_SOURCE + RUN_ID``, Prefect 3's default;
* :data:`NO_CACHE` -- never cache.

A policy becomes the task's ``cache_key_fn(context, inputs)``, so it works in deferred
flows too. :func:`ferroflow.tasks.task_input_hash` is Prefect's ``cache_key_fn`` of the
same name (the call's arguments, and in an eager flow the task's function). In an eager
flow keys are global, as in Prefect 3 (``docs/eager-flows.md``, "Caching"); in a
deferred flow each task's entries are its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ferroflow.results import hash_value, task_source_hash

__all__ = ["CachePolicy", "DEFAULT", "FLOW_PARAMETERS", "INPUTS", "NO_CACHE", "RUN_ID", "TASK_SOURCE", "as_key_fn"]


class CachePolicy:
    """What a cache key is made of: a set of parts (``"inputs"``, ``"source"``,
    ``"parameters"``, ``"run_id"``), and inputs left out. Add two with ``+``; leave an
    input out with ``INPUTS - "name"``."""

    __slots__ = ("parts", "excluded", "none")

    def __init__(self, parts: Iterable[str] = (), excluded: Iterable[str] = (), none: bool = False):
        self.parts = frozenset(parts)
        self.excluded = frozenset(excluded)
        #: NO_CACHE: no key at all.
        self.none = none

    def __add__(self, other: CachePolicy) -> CachePolicy:
        if not isinstance(other, CachePolicy):
            return NotImplemented
        if self.none or other.none:
            return NO_CACHE
        return CachePolicy(self.parts | other.parts, self.excluded | other.excluded)

    def __sub__(self, name: str) -> CachePolicy:
        if not isinstance(name, str):
            return NotImplemented
        return CachePolicy(self.parts, self.excluded | {name}, self.none)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, CachePolicy) and (self.parts, self.excluded, self.none)
                == (other.parts, other.excluded, other.none))

    def __hash__(self) -> int:
        return hash((self.parts, self.excluded, self.none))

    def __repr__(self) -> str:
        if self.none:
            return "NO_CACHE"
        names = " + ".join(_NAMES.get(p, p) for p in sorted(self.parts)) or "CachePolicy()"
        return names + "".join(f" - {n!r}" for n in sorted(self.excluded))

    def key(self, context: dict, inputs: dict, source: str | None) -> str | None:
        """The key of one call (None: not cached)."""
        if self.none:
            return None
        parts: list = []
        if "inputs" in self.parts:
            parts.append(("inputs", {k: hash_value(v) for k, v in sorted(inputs.items()) if k not in self.excluded}))
        if "source" in self.parts:
            parts.append(("source", source))
        if "parameters" in self.parts:
            parts.append(("parameters", hash_value(context.get("parameters") or {})))
        if "run_id" in self.parts:
            parts.append(("run_id", context.get("flow_run_id")))
        return hash_value(parts)


_NAMES = {"inputs": "INPUTS", "source": "TASK_SOURCE", "parameters": "FLOW_PARAMETERS", "run_id": "RUN_ID"}

INPUTS = CachePolicy({"inputs"})
TASK_SOURCE = CachePolicy({"source"})
FLOW_PARAMETERS = CachePolicy({"parameters"})
RUN_ID = CachePolicy({"run_id"})
DEFAULT = INPUTS + TASK_SOURCE + RUN_ID
NO_CACHE = CachePolicy(none=True)


def as_key_fn(policy: Any, owner: str, fn: Any = None) -> Callable[[dict, dict], str | None] | None:
    """A task's ``cache_key_fn`` from a cache ``policy`` (None for NO_CACHE); ``fn``
    is the task's function (for TASK_SOURCE)."""
    if not isinstance(policy, CachePolicy):
        raise TypeError(f"{owner}: cache_policy must be one of ferroflow.cache_policies (INPUTS, TASK_SOURCE, "
                        f"NO_CACHE...), got {policy!r}")
    if policy.none:
        return None
    source = task_source_hash(fn) if "source" in policy.parts and fn is not None else None

    def key_fn(context: dict, inputs: dict) -> str | None:
        return policy.key(context, inputs, source)

    key_fn.policy = policy  # type: ignore[attr-defined]  # (shown by docs and tests)
    return key_fn
