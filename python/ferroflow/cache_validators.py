"""Cache validators: what a cached task run depends on.

A task with ``cache_for=`` reuses the value of an earlier run (of this or any flow, in
this or another process) while the entry has not expired and the run depends on the
same things. The validator says what those things are::

    from datetime import timedelta
    from ferroflow import task
    from ferroflow.cache_validators import all_inputs, task_source

    @task(cache_for=timedelta(hours=1), cache_validator=all_inputs + task_source)
    def fetch(url):
        ...

The names are Prefect 1's (``ferroflow.cache_validators.all_inputs`` for
``prefect.engine.cache_validators.all_inputs``); unlike Prefect 1, these validators are
not called on candidate entries one by one: each decides what goes into the cache
*key* (:func:`ferroflow.results.cache_key_for`), so finding a valid entry is one read
from the result store, and entries survive the process.

They can still be called as Prefect 1's functions are, ``all_inputs(state, inputs,
parameters) -> bool`` on a ``Cached`` state, so a validator of your own may combine
them. A validator of your own is any callable with that signature (a function, or an
object with ``__call__``: it must pickle with cloudpickle to run in worker processes).
It is called as Prefect 1 calls it: on each unexpired entry stored for the task (for
a mapped task, for that child), oldest first, as a ``Cached`` state with the entry's
message, value, ``hashed_inputs``, ``cached_parameters`` and
``cached_result_expiration``, with the task run's inputs and the flow run's parameters
(defaults included); the first entry it accepts is used. See ``docs/caching.md``.

* :data:`never_use` -- never reuse (and never store).
* :data:`duration_only` -- reuse any unexpired entry of the key (the default).
* :data:`all_inputs` / :data:`all_parameters` -- only when every input / every flow
  parameter is equal.
* :func:`partial_inputs_only` / :func:`partial_parameters_only` -- only the named ones.
* :data:`task_source` -- only while the task's source code is unchanged (as Prefect
  2/3's ``TASK_SOURCE`` policy); combine with ``+``.

A mapped child's entry is its own (the key includes its map index) unless the
validator keys on inputs, in which case children with equal inputs share an entry.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CacheValidator",
    "never_use",
    "duration_only",
    "all_inputs",
    "all_parameters",
    "partial_inputs_only",
    "partial_parameters_only",
    "task_source",
]

#: ``None``: not a dependency; ``"all"``: all of them; a frozenset: those names.
Selection = None | str | frozenset


@dataclass(frozen=True)
class CacheValidator:
    """What cached task runs depend on (see the module docstring).

    Attributes:
        name: For messages (``"all_inputs + task_source"``).
        inputs: ``None``, ``"all"`` or a frozenset of input names.
        parameters: ``None``, ``"all"`` or a frozenset of parameter names.
        source: Whether the task's source code is part of the key.
        use: False only for :data:`never_use`.
    """

    name: str
    inputs: Selection = None
    parameters: Selection = None
    source: bool = False
    use: bool = True

    def __add__(self, other: CacheValidator) -> CacheValidator:
        if not isinstance(other, CacheValidator):
            return NotImplemented
        if not (self.use and other.use):
            raise ValueError("never_use cannot be combined with another cache validator")
        return CacheValidator(
            f"{self.name} + {other.name}",
            _union(self.inputs, other.inputs),
            _union(self.parameters, other.parameters),
            self.source or other.source,
        )

    def __call__(self, state: Any, inputs: Mapping[str, Any] | None,
                 parameters: Mapping[str, Any] | None) -> bool:
        """Prefect 1's call: whether the cached ``state`` may stand for a task run
        with ``inputs`` in a flow run with ``parameters``. Unexpired (its
        ``cached_result_expiration`` is None or later than now) and, as selected, the
        same inputs (compared by ``state.hashed_inputs``, else by
        ``state.cached_inputs``) and parameters (``state.cached_parameters``).

        Raises:
            TypeError: The validator keys on the task's source (``task_source``), which
                a state does not carry.
        """
        if not self.use:
            return False
        if self.source:
            raise TypeError(f"{self.name} cannot be called on a state: it keys on the task's source code, "
                            "which a state does not carry; use it as cache_validator= only")
        expiration = getattr(state, "cached_result_expiration", None)
        if expiration is not None and _aware(expiration) <= datetime.datetime.now(datetime.timezone.utc):
            return False
        if self.inputs is not None and not _same_inputs(state, dict(inputs or {}), self.inputs):
            return False
        if self.parameters is not None:
            cached = getattr(state, "cached_parameters", None)
            if self.parameters == "all":
                return cached == dict(parameters or {})
            return _pick(cached or {}, self.parameters) == _pick(parameters or {}, self.parameters)
        return True

    def __repr__(self) -> str:
        return f"<cache validator {self.name}>"


def _pick(values: Mapping[str, Any], selection: Selection) -> dict:
    """The entries of ``values`` a selection names (all of them for ``"all"``)."""
    if selection == "all":
        return dict(values)
    return {k: v for k, v in values.items() if k in selection}  # type: ignore[operator]  # names, never None


def _same_inputs(state: Any, inputs: dict, selection: Selection) -> bool:
    """Whether ``state`` was cached for the same (selected) inputs: by its
    ``hashed_inputs`` when it has them, else by its ``cached_inputs`` values (a
    ``Result``'s ``.value`` or the value itself; none known: ``{}``)."""
    hashed = getattr(state, "hashed_inputs", None)
    if hashed is not None:
        from ferroflow.results import hash_inputs

        return _pick(hashed, selection) == hash_inputs(_pick(inputs, selection))
    cached = getattr(state, "cached_inputs", None) or {}
    values = {k: getattr(v, "value", v) for k, v in cached.items()}
    return _pick(values, selection) == _pick(inputs, selection)


def _aware(when: datetime.datetime) -> datetime.datetime:
    """``when``, a naive datetime taken as UTC."""
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.timezone.utc)


def _union(a: Selection, b: Selection) -> Selection:
    if a is None:
        return b
    if b is None:
        return a
    if a == "all" or b == "all":
        return "all"
    return a | b  # type: ignore[operator]  # two frozensets of names here


def _names(what: str, validate_on: Iterable[str] | None) -> frozenset:
    if isinstance(validate_on, str) or validate_on is None:
        raise TypeError(f"{what}(validate_on=...) takes a list of names, got {validate_on!r}")
    names = frozenset(validate_on)
    bad = [n for n in names if not isinstance(n, str)]
    if bad or not names:
        raise TypeError(f"{what}(validate_on=...) takes a non-empty list of names, got {validate_on!r}")
    return names


never_use = CacheValidator("never_use", use=False)
duration_only = CacheValidator("duration_only")
all_inputs = CacheValidator("all_inputs", inputs="all")
all_parameters = CacheValidator("all_parameters", parameters="all")
task_source = CacheValidator("task_source", source=True)


def partial_inputs_only(validate_on: Iterable[str]) -> CacheValidator:
    """Reuse an entry only while the named inputs are equal."""
    names = _names("partial_inputs_only", validate_on)
    return CacheValidator(f"partial_inputs_only({sorted(names)})", inputs=names)


def partial_parameters_only(validate_on: Iterable[str]) -> CacheValidator:
    """Reuse an entry only while the named flow parameters are equal."""
    names = _names("partial_parameters_only", validate_on)
    return CacheValidator(f"partial_parameters_only({sorted(names)})", parameters=names)
