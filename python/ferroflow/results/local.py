"""``LocalResult``: Prefect 1's ``LocalResult`` over ferroflow's :class:`Result`.

``LocalResult(dir="/data/results", location="{flow_name}/{task_name}.pkl")`` keeps
values in files under ``dir`` (default ``$FERROFLOW_HOME/results``); a location may
also be an absolute path. As in Prefect 1, the locations it reports are full paths
(``state._result.location``, ``write(...).location``), it has Prefect's
``read(location)``, ``write(value, **format_kwargs)`` and ``exists(location,
**format_kwargs)``, and its files hold the serializer's bytes alone (written
atomically, without ferroflow's record header and checksum): ``cloudpickle.loads``
reads them, and a ``LocalResult`` reads the files Prefect 1 wrote.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ferroflow.results.result import DefaultLocation, Result
from ferroflow.states import ResultValue

__all__ = ["LocalResult"]


def default_dir() -> str:
    """``$FERROFLOW_HOME/results`` (``~/.ferroflow/results``); the home is created
    readable by its owner only when missing (``store.config.make_home``)."""
    from ferroflow.store.config import make_home

    return str(make_home() / "results")


class _InDir:
    """A location callable whose relative locations are taken under ``directory``."""

    def __init__(self, fn: Callable[..., str], directory: str) -> None:
        self.fn = fn
        self.directory = directory
        self.__qualname__ = getattr(fn, "__qualname__", repr(fn))

    def __call__(self, **context: Any) -> str:
        location = self.fn(**context)
        if isinstance(location, str) and location and not location.startswith("/"):
            return f"{self.directory.rstrip('/')}/{location}"
        return location


class LocalResult(Result):
    """Values kept in local files under ``dir``.

    Args:
        dir: The directory (made absolute; created unless ``validate_dir=False``).
            Default ``$FERROFLOW_HOME/results``.
        validate_dir: Create ``dir`` now (default True).
        location: A template relative to ``dir`` or an absolute path (default
            :class:`~ferroflow.results.DefaultLocation` under ``dir``), or a callable
            returning either.
        serializer: As :class:`Result` (default ``cloudpickle``).

    Attributes:
        dir: The absolute directory.
    """

    def __init__(self, dir: str | None = None, validate_dir: bool = True,  # Prefect's name
                 location: str | Callable[..., str] | None = None, serializer: Any = None) -> None:
        directory = os.path.abspath(os.path.expanduser(dir if dir is not None else default_dir()))
        if validate_dir:
            os.makedirs(directory, exist_ok=True)
        self.dir = directory
        template = DefaultLocation(directory) if location is None else location
        # Full paths, as Prefect 1's LocalResult reports them.
        if isinstance(template, str) and not template.startswith("/"):
            template = directory.replace("{", "{{").replace("}", "}}").rstrip("/") + "/" + template
        elif callable(template) and not isinstance(template, str):
            template = _InDir(template, directory)
        super().__init__("fsspec", base=directory, serializer=serializer, location=template,
                         store_options={"absolute_paths": True, "framed": False})

    def read(self, location: str) -> ResultValue:
        """The value at ``location`` (relative to ``dir``, or absolute), with it.

        Raises:
            ResultNotFound, ResultCorrupt, ResultStoreError, SerializationError: As
            :meth:`Result.read_value`.
        """
        return ResultValue(self.read_value(location), location)

    def write(self, value: Any, /, **format_kwargs: Any) -> ResultValue:
        """Write ``value`` at the location formatted from ``format_kwargs``; return
        it with that (full) location.

        Raises:
            ResultLocationError, SerializationError, ResultStoreError: As
            :meth:`Result.write_value`.
        """
        return ResultValue(value, self.write_value(value, **format_kwargs))

    def exists(self, location: str, /, **format_kwargs: Any) -> bool:  # type: ignore[override]  # Prefect 1's
        """Whether a complete record is at ``location`` formatted with
        ``format_kwargs`` (relative to ``dir``, or absolute)."""
        return self.store.exists(location.format(**format_kwargs) if format_kwargs else location)

    def __repr__(self) -> str:
        return f"LocalResult(dir={self.dir!r}, location={self.location!r})"
