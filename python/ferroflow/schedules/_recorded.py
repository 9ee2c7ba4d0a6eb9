"""The callable that filter and adjustment factories return (private).

``at_time(time(9))`` returns a :class:`Recorded`: it behaves exactly like the function it
wraps, and also remembers the factory's name and arguments so that
:mod:`ferroflow.schedules.spec` can write it as JSON and build it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Recorded:
    """A function built by a factory, with the factory's name and arguments.

    Attributes:
        name: the factory's name (``"at_time"``).
        args: the arguments it was called with, as given (a tuple).
    """

    __slots__ = ("name", "args", "_function")

    def __init__(self, name: str, args: tuple, function: Callable[[Any], Any]) -> None:
        self.name = name
        self.args = args
        self._function = function

    def __call__(self, dt: Any) -> Any:
        return self._function(dt)

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(repr(a) for a in self.args)})"
