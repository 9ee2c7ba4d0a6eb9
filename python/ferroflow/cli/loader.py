"""Load a flow from ``FILE.py[:FLOW_NAME]`` for ``ferroflow run``, or from a
deployment's entrypoint (``path/to/file.py:flow`` or ``package.module:flow``,
:func:`load_entrypoint`) for ``ferroflow deploy`` and launched runs.

The file is imported as a module (never as ``__main__``, so that an
``if __name__ == "__main__": flow.run()`` guard does not fire), with its directory
first on ``sys.path`` so it can import its neighbours. The module is registered in
``sys.modules`` under the file's stem when that name is free, so that process-based
executors can import the tasks it defines by reference.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from ferroflow.errors import FerroflowError

__all__ = ["FlowLoadError", "find_flows", "load_entrypoint", "load_flow", "load_module", "parse_flow_spec",
           "select_flow"]

_counter = itertools.count(1)


class FlowLoadError(FerroflowError):
    """A flow file could not be loaded, or does not define the flow asked for.

    ``path`` is the file (as given).
    """

    def __init__(self, message: str, path: str | None = None):
        super().__init__(message)
        self.path = path


def parse_flow_spec(spec: str) -> tuple[str, str | None]:
    """Split ``"FILE.py[:FLOW_NAME]"`` into ``(file, flow_name or None)``.

    A spec naming an existing file is taken whole (so ``C:\\flows\\etl.py`` works); else
    it is split at its last ``:`` when what follows contains no path separator.
    """
    if not spec or not spec.strip():
        raise FlowLoadError("No flow file given (expected FILE.py or FILE.py:FLOW_NAME)")
    if os.path.exists(spec):
        return spec, None
    path, sep, name = spec.rpartition(":")
    if sep and path and name and "/" not in name and "\\" not in name:
        return path, name
    if sep and path and not name:
        raise FlowLoadError(f"Empty flow name in {spec!r} (expected FILE.py:FLOW_NAME)", path)
    return spec, None


def load_module(path: str) -> ModuleType:
    """Import the Python file at ``path`` as a module (not ``__main__``) and return it.

    Raises:
        FlowLoadError: the file is missing, is a directory, has a syntax error, or
            raised while being imported (the original exception is chained).
    """
    file = Path(path)
    if not file.exists():
        raise FlowLoadError(f"Cannot load flows from {path!r}: no such file", path)
    if file.is_dir():
        raise FlowLoadError(f"Cannot load flows from {path!r}: it is a directory, not a Python file", path)
    file = file.resolve()
    directory = str(file.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)

    stem = file.stem
    by_reference = stem.isidentifier() and stem not in sys.modules
    module_name = stem if by_reference else f"__ferroflow_flow_{next(_counter)}_{_identifier(stem)}"
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise FlowLoadError(f"Cannot load flows from {path!r}: not a Python file", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(module_name, None)
        where = f"line {exc.lineno}" if exc.lineno else "unknown line"
        raise FlowLoadError(
            f"Cannot load flows from {path!r}: SyntaxError at {where}: {exc.msg}", path) from exc
    except (Exception, SystemExit) as exc:
        sys.modules.pop(module_name, None)
        text = str(exc).strip().splitlines()
        detail = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
        raise FlowLoadError(f"Error while importing {path!r}: {detail}", path) from exc
    if not by_reference:
        _pickle_by_value(module)
    return module


def find_flows(namespace: Mapping[str, Any], flow_class: type | tuple | None = None) -> list[tuple[str, Any]]:
    """Return ``(variable name, flow)`` for each flow bound at module level, in order.

    A flow bound to several names is listed once, under its first name. Private names
    (``_x``) are listed too: a flow is a flow.
    """
    if flow_class is None:
        flow_class = _flow_class()
    found: list[tuple[str, Any]] = []
    seen: set[int] = set()
    for variable, value in list(namespace.items()):
        if isinstance(value, flow_class) and id(value) not in seen:
            seen.add(id(value))
            found.append((variable, value))
    return found


def select_flow(flows: list[tuple[str, Any]], flow_name: str | None, path: str) -> Any:
    """Pick the flow to run: the only one, or the one whose variable or ``name`` is ``flow_name``.

    Raises:
        FlowLoadError: no flow, several flows and no name, or no flow of that name;
            the message names the file and lists the flows found.
    """
    if not flows:
        raise FlowLoadError(
            f"No flow found in {path!r}: assign a Flow to a module-level variable "
            f"(for instance `with Flow(\"etl\") as flow:`), or define an @flow function", path)
    listing = ", ".join(_describe(variable, flow) for variable, flow in flows)
    if flow_name is None:
        if len(flows) == 1:
            return flows[0][1]
        raise FlowLoadError(
            f"{path!r} defines {len(flows)} flows: {listing}; choose one with "
            f"{path}:FLOW_NAME", path)
    by_variable = [flow for variable, flow in flows if variable == flow_name]
    if by_variable:
        return by_variable[0]
    by_name = [flow for _, flow in flows if getattr(flow, "name", None) == flow_name]
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        raise FlowLoadError(
            f"{path!r} defines {len(by_name)} flows named {flow_name!r}: {listing}; "
            f"choose one by its variable name", path)
    raise FlowLoadError(f"No flow named {flow_name!r} in {path!r}; flows found: {listing}", path)


def load_flow(spec: str) -> Any:
    """Load ``FILE.py[:FLOW_NAME]`` and return the flow it names: a
    :class:`ferroflow.Flow`, or an ``@flow`` function (``FLOW_NAME`` is its variable,
    function or flow name).

    Raises:
        FlowLoadError: see :func:`load_module` and :func:`select_flow`.
    """
    path, flow_name = parse_flow_spec(spec)
    module = load_module(path)
    return select_flow(find_flows(vars(module), _flow_class()), flow_name, path)


def load_entrypoint(entrypoint: str) -> Any:
    """The flow a deployment's ``entrypoint`` names: ``path/to/file.py:flow`` (a file
    loaded as :func:`load_flow` does; a relative path is relative to the current
    directory) or ``package.module:flow`` (a module imported from ``sys.path``, and its
    attribute ``flow``, which must be a :class:`ferroflow.Flow`).

    Raises:
        FlowLoadError: the file or module cannot be loaded (the message names the
            entrypoint and the error, the original exception is chained), or has no
            such flow.
    """
    path, sep, attribute = entrypoint.rpartition(":")
    if sep and path and not path.endswith(".py"):
        import importlib

        try:
            module = importlib.import_module(path)
        except ImportError as exc:
            raise FlowLoadError(f"cannot import module {path!r}: {exc}", path) from exc
        except (Exception, SystemExit) as exc:
            text = str(exc).strip().splitlines()
            detail = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
            raise FlowLoadError(f"Error while importing module {path!r}: {detail}", path) from exc
        found = getattr(module, attribute, None)
        if found is None:
            raise FlowLoadError(f"module {path!r} has no flow {attribute!r}", path)
        if not isinstance(found, _flow_class()):
            raise FlowLoadError(f"{entrypoint!r} is a {type(found).__name__}, not a ferroflow Flow or @flow function",
                                  path)
        return found
    return load_flow(entrypoint)


def _flow_class() -> tuple:
    """What a flow is: a deferred :class:`ferroflow.Flow` or an ``@flow`` function
    (:class:`ferroflow.eager.flow.EagerFlow`)."""
    try:
        from ferroflow import Flow
        from ferroflow.eager.flow import EagerFlow
    except ImportError as exc:
        raise FlowLoadError(f"ferroflow.Flow cannot be imported: {exc}") from exc
    return (Flow, EagerFlow)


def _describe(variable: str, flow: Any) -> str:
    name = getattr(flow, "name", None)
    return variable if name in (None, variable) else f"{variable} (name {name!r})"


def _identifier(text: str) -> str:
    return "".join(c if c.isalnum() or c == "_" else "_" for c in text)


def _pickle_by_value(module: ModuleType) -> None:
    # The module is not importable under its name in another process, so ask
    # cloudpickle to ship its functions by value.
    try:
        import cloudpickle
    except ImportError:  # pragma: no cover - cloudpickle is a dependency
        return
    register = getattr(cloudpickle, "register_pickle_by_value", None)
    if register is not None:
        try:
            register(module)
        except Exception:  # best effort
            pass
