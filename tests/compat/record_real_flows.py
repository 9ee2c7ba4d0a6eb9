"""Record what Prefect Core 1.4.1 does with every real flow in ``real_flows/``.

Run with the Prefect 1 virtualenv (never with ferroflow's interpreter)::

    /work/p1venv/bin/python tests/compat/record_real_flows.py          # write the JSON
    /work/p1venv/bin/python tests/compat/record_real_flows.py --check  # is it up to date?
    /work/p1venv/bin/python tests/compat/record_real_flows.py -k etl   # print some, no write

Every flow file is a rewrite, deterministic and offline, of a flow a Prefect 1 user
wrote (its first comment names the source). It is written against ``prefect`` imports
and defines:

* ``build()`` or ``build(tmp)`` -> ``(flow, runs)``. ``tmp`` is a fresh temporary
  directory (a ``pathlib.Path``) for result files. ``runs`` is one run or a list of
  runs of the same flow, in order; a run is a dict of ``flow.run`` keyword arguments
  or a callable ``run(flow) -> state`` (for ``with prefect.context(...): flow.run()``
  and the like).
* optionally ``after(flow, state)``: what the original code did with the final state
  (asserts, ``state.result[t]._result.location``, ...) as JSON-able facts, recorded
  per run;
* optionally ``OBSERVED``: a list or dict the flow's handlers and tasks fill while it
  runs (state handler transitions, log records), recorded after the last run;
* optionally ``PREFECT_CONFIG``: Prefect config values the original user ran with
  (``{"flows.checkpointing": True}`` stands for ``PREFECT__FLOWS__CHECKPOINTING=true``),
  applied around the flow's runs by this recorder only: ferroflow has no such switch.

The record of a flow (``run_flow_module``, shared with ``test_real_flows.py``) holds,
per run, the flow's state class and message (or the exception ``flow.run`` raised) and,
for every task in ``flow_state.result`` under its slug, the state class, message,
normalized result and mapped children (the records of ``scenarios.py``), plus the
``after`` facts; then ``OBSERVED``. An exception while importing or building the flow
is recorded instead. Warnings are kept for information and never compared.

Writes ``real_flows_expected.json`` next to this file. Every flow is recorded twice
and must give the same record both times.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import inspect
import io
import logging
import os
import pathlib
import sys
import tempfile
import types
import warnings
from collections.abc import Callable
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # (the repository root, for tests.compat)
from tests.compat.fixture_file import finish

HERE = pathlib.Path(__file__).resolve().parent
FLOWS_DIR = HERE / "real_flows"
FIXTURE = HERE / "real_flows_expected.json"


def _scenarios():
    """``scenarios.py`` (for ``normalize`` and the state records), imported once under
    the name the other compat modules use."""
    name = "ferroflow_compat_scenarios"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "scenarios.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


SC = _scenarios()


def flow_files() -> dict[str, pathlib.Path]:
    """Every flow file of ``real_flows/``, by name (the file's stem)."""
    return {p.stem: p for p in sorted(FLOWS_DIR.glob("*.py")) if not p.name.startswith("_")}


def load_flow_module(name: str, source: str, filename: str) -> types.ModuleType:
    """Execute ``source`` as a fresh module (a new one on every call, so module-level
    tasks and lists start clean)."""
    module = types.ModuleType(f"real_flow_{name}")
    module.__file__ = filename
    code = compile(source, filename, "exec")
    exec(code, module.__dict__)  # the flow files are this suite's own
    return module


def _raised(exc: BaseException) -> dict[str, Any]:
    return {"raises": {"type": type(exc).__name__, "message": str(exc)}}


def _task_states(flow: Any, flow_state: Any) -> dict[str, Any]:
    """Every task of ``flow_state.result`` under its slug in the flow."""
    result = flow_state.result
    if not (hasattr(result, "items") and hasattr(result, "get")):
        return {}
    out = {}
    for task, state in result.items():
        label = flow.slugs.get(task) or f"<no slug: {getattr(task, 'name', task)!r}>"
        out[label] = SC._state_record(state)
    return dict(sorted(out.items()))


def _run_record(module: types.ModuleType, flow: Any, run: Any) -> dict[str, Any]:
    try:
        flow_state = run(flow) if callable(run) else flow.run(**run)
    except Exception as exc:  # flow.run itself raised (or the user's run callable)
        return _raised(exc)
    record: dict[str, Any] = {
        "flow": {
            "state": type(flow_state).__name__,
            "message": flow_state.message if isinstance(flow_state.message, (str, type(None)))
            else repr(flow_state.message),
        },
        "tasks": _task_states(flow, flow_state),
    }
    if not (hasattr(flow_state.result, "items") and hasattr(flow_state.result, "get")):
        record["flow"]["result"] = SC.normalize(flow_state.result)
    after = getattr(module, "after", None)
    if after is not None:
        try:
            record["after"] = SC.normalize(after(flow, flow_state))
        except Exception as exc:
            record["after"] = _raised(exc)
    return record


def _build_and_run(module: types.ModuleType, tmp: pathlib.Path) -> dict[str, Any]:
    build = module.build
    try:
        flow, runs = build(tmp) if inspect.signature(build).parameters else build()
    except Exception as exc:
        return {"build": _raised(exc)}
    runs = [runs] if isinstance(runs, dict) or callable(runs) else list(runs)
    record: dict[str, Any] = {"runs": [_run_record(module, flow, run) for run in runs]}
    if hasattr(module, "OBSERVED"):
        record["observed"] = SC.normalize(module.OBSERVED)
    return record


def run_flow_module(load: Callable[[], types.ModuleType],
                    around: Callable[[types.ModuleType], Any] = lambda module: contextlib.nullcontext()
                    ) -> dict[str, Any]:
    """Import (``load()``), build and run one flow file, the build and the runs inside
    ``around(module)`` (a context manager); return the flow's record."""
    caught: list
    with warnings.catch_warnings(record=True) as caught, \
            tempfile.TemporaryDirectory(prefix="real-flow-") as tmp:
        warnings.simplefilter("always")
        record: dict[str, Any]
        try:
            module = load()
        except Exception as exc:
            record = {"build": _raised(exc)}
        else:
            with around(module):
                record = _build_and_run(module, pathlib.Path(tmp))
    record["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    return record


# ---------------------------------------------------------------------------
# Prefect side
# ---------------------------------------------------------------------------

@contextlib.contextmanager
def _prefect_config(values: dict[str, Any] | None):
    """Set dotted config keys for the duration (what the user's environment variables
    would have set), in ``prefect.config`` and in the copy ``prefect.context.config``
    that the runners read."""
    import prefect

    saved = []
    for config in (prefect.config, prefect.context.config):
        for dotted, value in (values or {}).items():
            *parents, key = dotted.split(".")
            node = config
            for part in parents:
                node = node[part]
            saved.append((node, key, node[key]))
            node[key] = value
    try:
        yield
    finally:
        for node, key, value in reversed(saved):
            node[key] = value


def record_prefect(path: pathlib.Path) -> dict[str, Any]:
    """Run one flow file on Prefect 1.4.1 with a clean in-memory task cache."""
    import prefect

    source = path.read_text()
    prefect.context.pop("caches", None)
    return run_flow_module(lambda: load_flow_module(path.stem, source, str(path)),
                           lambda module: _prefect_config(getattr(module, "PREFECT_CONFIG", None)))


def record_all(only=None) -> dict[str, Any]:
    import prefect

    assert prefect.__version__ == "1.4.1", prefect.__version__
    with contextlib.redirect_stdout(io.StringIO()):  # the flows' own prints
        return {name: record_prefect(path) for name, path in flow_files().items()
                if not only or any(k in name for k in only)}


def _quiet_prefect_logs() -> None:
    """Keep Prefect's log lines off the terminal without changing logger levels (flows
    that attach their own handlers still see every record Prefect would emit)."""
    logging.getLogger("prefect").handlers = [logging.NullHandler()]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="re-record and fail if the fixture differs")
    ap.add_argument("-k", action="append", default=[],
                    help="only flows whose name contains this (prints, no write)")
    args = ap.parse_args(argv)
    os.environ.setdefault("PREFECT__FLOWS__CHECKPOINTING", "false")
    os.environ.setdefault("PREFECT__BACKEND", "server")
    import prefect  # noqa: F401 - configures its loggers

    _quiet_prefect_logs()
    first = record_all(args.k)
    second = record_all(args.k)
    return finish(first, second, FIXTURE, key="flows", version="1.4.1", subset=args.k, check=args.check,
                  what="flows")


if __name__ == "__main__":
    sys.exit(main())
