"""The core's state codes and what ferroflow's Python layer derives from them.

The compiled core numbers the states of task runs (``ferroflow._core.SUCCESS``, ...)
and names them (``_core.STATE_NAMES[code]``); :data:`ferroflow.states.STATE_CLASSES`
gives each code its State class. Every other table that maps a state code or name to a
name or a category (finished, failed, the order displays list them in) is built here
from those, so the engine, the run store and the CLI cannot disagree about them::

    >>> from ferroflow import _core, state_codes
    >>> state_codes.state_name(_core.TIMED_OUT)
    'TimedOut'
    >>> _core.TIMED_OUT in state_codes.FAILED_CODES
    True
"""

from __future__ import annotations

from ferroflow import _core, states
from ferroflow.states import STATE_CLASSES

__all__ = [
    "CODES",
    "DISPLAY_ORDER",
    "FAILED_CODES",
    "FAILED_NAMES",
    "FINISHED_CODES",
    "FINISHED_NAMES",
    "NAMES",
    "STATE_CLASSES",
    "state_name",
]

#: Every state name, indexed by its code (``NAMES[_core.SUCCESS] == "Success"``).
NAMES: tuple[str, ...] = tuple(_core.STATE_NAMES)

#: State name -> code.
CODES: dict[str, int] = {name: code for code, name in enumerate(NAMES)}

# STATE_CLASSES (code -> the :mod:`ferroflow.states` class of that name) is defined
# with the classes, in ferroflow.states; the categories below are read from it.

#: Codes of the states that count as failed (Prefect 1's ``is_failed()``): the
#: subclasses of :class:`~ferroflow.states.Failed`.
FAILED_CODES: frozenset[int] = frozenset(code for code, cls in STATE_CLASSES.items()
                                         if issubclass(cls, states.Failed))

#: Codes of the terminal states (the subclasses of :class:`~ferroflow.states.Finished`):
#: a task run in one of them is done.
FINISHED_CODES: frozenset[int] = frozenset(code for code, cls in STATE_CLASSES.items()
                                           if issubclass(cls, states.Finished))

FAILED_NAMES: frozenset[str] = frozenset(NAMES[code] for code in FAILED_CODES)
FINISHED_NAMES: frozenset[str] = frozenset(NAMES[code] for code in FINISHED_CODES)

#: The order in which displays list states: not started (``Pending``, ``Paused``), then
#: under way, then finished, successes before failures (the core's order, with
#: ``Paused`` moved next to ``Pending``).
DISPLAY_ORDER: tuple[str, ...] = tuple(NAMES[code] for code in (
    _core.PENDING, _core.PAUSED, _core.RUNNING, _core.RETRYING,
    *(code for code in range(len(NAMES)) if code in FINISHED_CODES),
))


def state_name(code: int | None) -> str | None:
    """The state name of a core state code (``4`` -> ``"Success"``); ``"Unknown(N)"``
    for a code the core does not define, None for None."""
    if code is None:
        return None
    return NAMES[code] if 0 <= code < len(NAMES) else f"Unknown({code})"
