"""Parameters: named inputs of a flow run, supplied by ``flow.run(name=value)``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ferroflow import signals
from ferroflow.core.collections import NO_DEFAULT
from ferroflow.core.task import Task

if TYPE_CHECKING:  # pragma: no cover
    from ferroflow.core.flow import Flow

__all__ = ["Parameter", "NO_DEFAULT"]


class Parameter(Task):
    """A flow input named ``name``: a root task whose result is the value given to
    ``flow.run()``, or ``default``.

    ``required`` defaults to "no default was given" (a required parameter missing from
    the run is an error). The slug is the name, so a flow holds at most one parameter
    of each name; parameters never have upstream dependencies.
    """

    def __init__(
        self,
        name: str,
        default: Any = NO_DEFAULT,
        required: bool | None = None,
        tags: Iterable[str] | None = None,
    ):
        if not isinstance(name, str) or not name:
            raise TypeError(f"A Parameter's name must be a non-empty str, got {name!r}")
        if required is None:
            required = default is NO_DEFAULT
        self.required = bool(required)
        self.default = None if default is NO_DEFAULT else default
        super().__init__(name=name, slug=name, tags=tags)

    def __repr__(self) -> str:
        return f"<Parameter: {self.name}>"

    def __call__(self, flow: Flow | None = None) -> Parameter:  # type: ignore[override]  # a parameter has no inputs
        """Add this parameter (not a copy) to ``flow`` or the active flow; returns it."""
        result = self.bind(flow=flow)
        assert isinstance(result, Parameter)
        return result

    def copy(self, name: str | None = None, **task_args: Any) -> Parameter:
        """A copy under a new ``name`` (which is also its slug): a flow cannot hold
        two parameters of the same name."""
        if name is None:
            raise TypeError(
                f"Parameter {self.name!r}: copy() needs a new name, since a parameter's "
                "name is its unique slug"
            )
        new = super().copy(name=name, slug=name, **task_args)
        assert isinstance(new, Parameter)
        return new

    def run(self) -> Any:
        """Return the default. The engine supplies run values itself and does not call
        this; a required parameter without a value fails."""
        if self.required:
            raise signals.FAIL(f'Parameter "{self.name}" is required but was not provided.')
        return self.default
