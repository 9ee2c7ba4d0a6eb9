"""An eager flow's arguments: bound to its function's signature, then checked against
its type hints with pydantic (and coerced, as Prefect 3 does: ``"3"`` for an ``int``
becomes ``3``) before anything runs.

A call that does not bind raises :class:`~ferroflow.errors.ParameterBindError`; an
argument that does not fit its hint raises :class:`~ferroflow.errors.ParameterTypeError`
naming every parameter at fault. ``@flow(validate_parameters=False)`` skips the check.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

from ferroflow.errors import ParameterBindError, ParameterTypeError

__all__ = ["Binder"]

_EMPTY = inspect.Parameter.empty


def bind_error(fn: Any, signature: inspect.Signature, args: tuple, kwargs: dict) -> ParameterBindError | None:
    """Prefect 3's :class:`ParameterBindError` for a call of ``fn`` with ``args`` and
    ``kwargs`` that ``signature`` cannot bind (None: it can)."""
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        function = getattr(fn, "__name__", repr(fn))
        return ParameterBindError(
            f"Error binding parameters for function '{function}': {exc}.\nFunction '{function}' has signature "
            f"'{str(signature)[1:-1]}' but received args: {args} and kwargs: {list(kwargs)}.")
    return None


def bind_task_call(task: Any, args: tuple, kwargs: dict) -> dict:
    """The inputs of a call of ``task`` in an eager flow, by name; arguments its
    function cannot take raise :class:`ParameterBindError` (as Prefect 3's task calls)."""
    try:
        return task._bind_arguments(args, kwargs)
    except TypeError:
        error = bind_error(task.run, task._run_info().signature, args, kwargs)
        if error is None:
            raise
        raise error from None


class Binder:
    """Binds and checks the arguments of one flow function (its pydantic adapters made
    on first use, once)."""

    def __init__(self, fn: Any, name: str, validate: bool = True):
        self.fn = fn
        self.name = name
        self.signature = inspect.signature(fn)
        self.validate = validate
        self._adapters: dict | None = None

    def bind(self, args: tuple, kwargs: dict) -> inspect.BoundArguments:
        """The arguments bound, defaults applied, checked and coerced."""
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:
            raise bind_error(self.fn, self.signature, args, kwargs) or RuntimeError("binding failed") from None
        bound.apply_defaults()
        if self.validate:
            self._check(bound)
        return bound

    def _check(self, bound: inspect.BoundArguments) -> None:
        adapters = self._adapters
        if adapters is None:
            adapters = self._adapters = self._make_adapters()
        if not adapters:
            return
        from pydantic import ValidationError

        errors = []
        for name, adapter in adapters.items():
            if name not in bound.arguments:
                continue
            try:
                bound.arguments[name] = adapter.validate_python(bound.arguments[name])
            except ValidationError as exc:
                for error in exc.errors():
                    where = ".".join([name, *(str(part) for part in error["loc"])])
                    errors.append(f" - {where}: {error['msg']}")
        if errors:
            raise ParameterTypeError("Flow run received invalid parameters:\n" + "\n".join(errors))

    def _make_adapters(self) -> dict:
        """A pydantic TypeAdapter per annotated parameter (*args and **kwargs excepted)."""
        try:
            hints = typing.get_type_hints(self.fn)
        except Exception:  # a hint that names what cannot be found: left unchecked
            hints = {}
        wanted = {name: hints[name] for name, p in self.signature.parameters.items()
                  if name in hints and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and hints[name] is not Any}
        if not wanted:
            return {}
        from pydantic import ConfigDict, TypeAdapter

        config = ConfigDict(arbitrary_types_allowed=True)
        adapters: dict[str, Any] = {}
        for name, hint in wanted.items():
            try:  # (a model, dataclass or TypedDict brings its own config: given one, pydantic refuses)
                adapters[name] = TypeAdapter(hint)
            except Exception:
                try:  # a hint with classes of the user's inside (list[Connection]): taken as they are
                    adapters[name] = TypeAdapter(hint, config=config)
                except Exception:  # a type pydantic cannot check (a class of the user's): an isinstance check
                    if isinstance(hint, type):
                        adapters[name] = _InstanceOf(hint)
        return adapters


class _InstanceOf:
    """An adapter for a hint pydantic cannot build one for: ``isinstance`` only."""

    def __init__(self, cls: type):
        self.cls = cls

    def validate_python(self, value: Any) -> Any:
        if isinstance(value, self.cls):
            return value
        from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

        error = PydanticCustomError("is_instance_of", "Input should be an instance of {cls}",
                                    {"cls": self.cls.__name__})
        raise ValidationError.from_exception_data(self.cls.__name__, [InitErrorDetails(type=error, input=value)])

