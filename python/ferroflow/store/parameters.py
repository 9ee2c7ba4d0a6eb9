"""A run's parameters as the run store keeps them: twice.

* A readable JSON object, for display (``ferroflow runs show``, ``RunSummary.parameters``):
  each parameter on its own, its JSON value when JSON can hold it, else its ``repr``
  (a date, a tuple-keyed dict, a list that contains itself). One such parameter never
  turns the others into strings.
* Per parameter, the value pickled with cloudpickle: what resuming the run uses, so a
  resumed task gets a ``datetime.date`` back, not the text of one. A value that cannot
  be pickled (a lock, an open file) is kept as the reason instead, and resuming refuses
  to guess it (:func:`restore`).

A parameter whose value holds a registered secret (:mod:`ferroflow.redaction`: a value
read with ``ferroflow.secrets.get`` and passed on as a parameter) is shown with
``********`` in its place and is not pickled: resuming the run asks for it again.

Unpickling runs code named by the pickle: the run store is trusted like the results
a run checkpoints, and should be writable only by its owner.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ferroflow import redaction

__all__ = ["readable", "pickled", "restore", "short_repr"]


def short_repr(value: Any) -> str:
    """``repr(value)``, at most 1,000 characters (a broken ``__repr__`` says so)."""
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not stop recording
        text = f"<{type(value).__name__} object: repr() raised {type(exc).__name__}>"
    return text if len(text) <= 1000 else text[:997] + "..."


def _one(value: Any) -> str:
    """One parameter as JSON text: its JSON value, else its repr as a JSON string."""
    try:
        return json.dumps(value, default=short_repr)
    except (TypeError, ValueError, RecursionError):  # keys JSON cannot hold, a cycle, too deep
        return json.dumps(short_repr(value))


def readable(parameters: Mapping[str, Any] | None) -> str:
    """The parameters as one JSON object, for display (see the module docstring), with
    registered secret values scrubbed."""
    items = (f"{json.dumps(str(name))}: {_one(value)}" for name, value in (parameters or {}).items())
    return redaction.scrub("{" + ", ".join(items) + "}")


def pickled(parameters: Mapping[str, Any] | None) -> list:
    """``[(name, pickled bytes or None, problem or None), ...]``: each value pickled with
    cloudpickle on its own; ``problem`` says why one could not be (``TypeError: cannot
    pickle '_thread.lock' object``). A value that holds a registered secret is not kept
    (``problem`` says so)."""
    import cloudpickle

    out: list[tuple[str, bytes | None, str | None]] = []
    for name, value in (parameters or {}).items():
        try:
            data = cloudpickle.dumps(value)
        except Exception as exc:  # any failure is this parameter's alone
            out.append((str(name), None, redaction.scrub(f"{type(exc).__name__}: {exc}")))
            continue
        if redaction.contains(data):
            out.append((str(name), None, "it holds the value of a secret, which is never stored"))
        else:
            out.append((str(name), data, None))
    return out


def restore(name: str, data: bytes | None, problem: str | None) -> Any:
    """The value of a recorded parameter; a ValueError naming it when it cannot be
    restored (it could not be pickled when recorded, or unpickling it fails now)."""
    if data is None:
        raise ValueError(f"parameter {name!r} could not be recorded ({problem or 'no value kept'})")
    import cloudpickle

    try:
        return cloudpickle.loads(data)
    except Exception as exc:  # whatever the pickle's code raised
        raise ValueError(f"parameter {name!r} cannot be restored: unpickling it raised "
                         f"{type(exc).__name__}: {exc}") from exc
