"""Contracts checked where ferroflow crosses into a plugin's code.

Each check is cheap and runs at a boundary (once per object built, once per
executor batch), never per task run. A broken contract raises
:class:`ferroflow.errors.PluginContractError` naming the thing, its plugin's
distribution (and version) and the rule; :func:`warn_broken` logs the same text
where raising would do more harm than the broken rule (an executor's
``shutdown()`` that raises must not turn a finished run Failed).
``docs/plugin-contracts.md`` lists every check.
"""

from __future__ import annotations

import importlib.metadata
import logging
from typing import Any

from ferroflow.errors import PluginContractError, one_line

__all__ = [
    "ORIGIN_ATTRIBUTE",
    "REQUIRED_METHODS",
    "check_built",
    "check_dumped",
    "check_read",
    "check_slots",
    "checked_wait",
    "contract_error",
    "origin_of",
    "tag_origin",
    "warn_broken",
]

logger = logging.getLogger("ferroflow.plugins")

#: Attribute set on an object a registered factory built: its qualified name,
#: distribution and version (see :func:`tag_origin`).
ORIGIN_ATTRIBUTE = "_ferroflow_plugin_origin"

#: Registry kind -> methods an object of that kind must have.
REQUIRED_METHODS: dict[str, tuple[str, ...]] = {
    "executors": ("submit", "wait"),
    "result_stores": ("write", "read", "exists"),
    "serializers": ("dumps", "loads"),
    "notifiers": ("notify",),
    "launchers": ("launch",),
}

_NOUNS = {"executors": "executor", "result_stores": "result store", "serializers": "serializer",
          "notifiers": "notifier", "launchers": "launcher"}


def tag_origin(obj: Any, name: str, distribution: str | None, version: str | None) -> None:
    """Remember on ``obj`` where it came from, for the messages of later checks (an
    object that refuses attributes is left alone: its class then names it)."""
    try:
        setattr(obj, ORIGIN_ATTRIBUTE, (name, distribution, version))
    except Exception:  # __slots__, a frozen object...
        pass


def origin_of(obj: Any) -> tuple[str, str | None, str | None]:
    """``(name, distribution, version)`` of ``obj``: as tagged when a registered
    factory built it, else its class and the distribution its module belongs to.
    Only called to word an error, so the metadata lookup costs nothing on a good run."""
    cls = obj if isinstance(obj, type) else type(obj)
    module = getattr(cls, "__module__", "") or ""
    tagged = getattr(obj, ORIGIN_ATTRIBUTE, None)
    if isinstance(tagged, tuple) and len(tagged) == 3 and tagged[1] is not None:
        return tagged
    if isinstance(tagged, tuple) and len(tagged) == 3:  # registered at runtime
        shown = tagged[0]
    else:
        name = getattr(obj, "name", None)
        shown = name if isinstance(name, str) and name else f"{module}.{cls.__qualname__}"
    top = module.split(".", 1)[0]
    try:
        dists = importlib.metadata.packages_distributions().get(top, [])
    except Exception:  # broken metadata must not hide the real error
        dists = []
    if not dists:
        return shown, None, None
    dist = dists[0]
    try:
        version = importlib.metadata.version(dist)
    except Exception:
        version = None
    return shown, dist, version


def contract_error(kind: str, obj: Any, rule: str,
                   origin: tuple[str, str | None, str | None] | None = None) -> PluginContractError:
    """The :class:`PluginContractError` of ``obj`` (of registry ``kind``) for ``rule``;
    ``origin`` (name, distribution, version) when known better than :func:`origin_of`."""
    name, distribution, version = origin if origin is not None and origin[1] else origin_of(obj)
    if origin is not None and not origin[1]:
        name = origin[0]
    return PluginContractError(_NOUNS.get(kind, kind), name, distribution, version, rule)


def warn_broken(kind: str, obj: Any, rule: str) -> None:
    """Log, as a warning, the message :func:`contract_error` would raise."""
    logger.warning("%s", contract_error(kind, obj, rule))


def check_built(kind: str, obj: Any, factory: Any,
                origin: tuple[str, str | None, str | None] | None = None) -> None:
    """A registered factory of ``kind`` must build an object with that kind's methods
    (:data:`REQUIRED_METHODS`). ``origin``: the registration's (qualified name,
    distribution, version)."""
    missing = [m for m in REQUIRED_METHODS.get(kind, ()) if not callable(getattr(obj, m, None))]
    if missing:
        noun = _NOUNS[kind]
        article = "an" if noun[0] in "aeiou" else "a"
        raise contract_error(kind, obj, (
            f"its factory {getattr(factory, '__qualname__', factory)!r} must build {article} "
            f"{noun} (with {', '.join(m + '()' for m in missing)}); it returned "
            f"{type(obj).__name__} {_short(obj)}"), origin)


def check_slots(executor: Any) -> int:
    """``executor.slots()``, which must be an int of at least 1."""
    try:
        slots = executor.slots()
    except Exception as exc:
        raise contract_error("executors", executor, f"slots() raised {one_line(exc)}") from exc
    if type(slots) is bool or not isinstance(slots, int) or slots < 1:
        raise contract_error("executors", executor, (
            f"slots() must return an int of at least 1 (how many units it runs at once); "
            f"it returned {type(slots).__name__} {_short(slots)}"))
    return slots


def checked_wait(executor: Any, result_type: type) -> list:
    """``executor.wait()``, as a list of ``(unit, UnitResult)`` pairs.

    Checks the shape once per call (a list or tuple of 2-tuples whose second item is
    a ``result_type``, :class:`~ferroflow.runtime.unit.UnitResult`, given by the engine
    so that this layer imports nothing above it): one ``isinstance`` per unit, none per
    task run. ``wait()`` may raise (the engine then ends the run), but a unit used
    as a dict key or set member (units are not hashable) is a broken rule, said so."""
    try:
        finished = executor.wait()
    except TypeError as exc:
        if not any(f"unhashable type: '{kind}'" in str(exc) for kind in _UNIT_TYPES):
            raise
        raise contract_error("executors", executor, (
            "units are not hashable: keep them in a list of (unit, UnitResult) pairs, or key "
            f"them by id(unit) ({one_line(exc)})")) from exc
    if not isinstance(finished, (list, tuple)):
        raise contract_error("executors", executor, (
            f"wait() must return a list of (unit, UnitResult) pairs; it returned "
            f"{type(finished).__name__} {_short(finished)}"))
    for item in finished:
        if not (type(item) is tuple and len(item) == 2 and isinstance(item[1], result_type)):
            raise contract_error("executors", executor, (
                f"wait() must return a list of (unit, UnitResult) pairs, the unit being the "
                f"one given to submit(); an item was {type(item).__name__} {_short(item)}"))
    return finished if isinstance(finished, list) else list(finished)


#: Classes of the units the engine hands to executors.
_UNIT_TYPES = ("WorkUnit", "TaskRuns")


def check_dumped(serializer: Any, data: Any) -> bytes:
    """What ``serializer.dumps()`` returned, which must be bytes (bytearray and
    memoryview are taken as bytes)."""
    return _bytes_from("serializers", serializer, "dumps()", data)


def check_read(store: Any, data: Any) -> bytes:
    """What ``store.read()`` returned, which must be bytes (bytearray and
    memoryview are taken as bytes): what was written, as written."""
    return _bytes_from("result_stores", store, "read()", data)


def _bytes_from(kind: str, obj: Any, method: str, data: Any) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise contract_error(kind, obj, f"{method} must return bytes; it returned {type(data).__name__} {_short(data)}")


def _short(value: Any, limit: int = 80) -> str:
    try:
        text = repr(value)
    except Exception:
        return "(unprintable)"
    return text if len(text) <= limit else text[: limit - 3] + "..."
