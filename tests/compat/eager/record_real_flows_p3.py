"""Record what Prefect 3.8 does with every real flow in ``real_flows/``.

Run with the Prefect 3 virtualenv (``make p3venv``), never with ferroflow's interpreter:

    /work/p3venv/bin/python tests/compat/eager/record_real_flows_p3.py           # write the JSON
    /work/p3venv/bin/python tests/compat/eager/record_real_flows_p3.py --check   # up to date?
    /work/p3venv/bin/python tests/compat/eager/record_real_flows_p3.py -k pacc_  # print some

Every flow file is a rewrite, deterministic and offline, of a Prefect 2 or 3 flow a
user wrote (its first comment names the source and the idioms it exercises). It is
written against ``prefect`` imports and defines:

* ``main()`` (or ``async def main()``): runs the flow the way its author did (plain
  calls, ``return_state=True``, several runs, ``asyncio.run``) and returns what it got;
  states, futures, exceptions and containers of them are normalized by ``scenarios.py``'s
  ``norm`` (a state as its type, name, message and result);
* optionally ``OBSERVED``: a list the flow's tasks and hooks fill while it runs.

The record of a flow (``run_flow_file``, shared with ``test_real_flows_p3.py``) is what
``main()`` returned or raised, ``OBSERVED``, the lines printed to stdout and the INFO+
lines the flow's own code logged through the run loggers (its ``get_run_logger()``
calls and, with ``log_prints``, its prints; never the engine's own messages). Printed
and logged lines are sorted: flows that submit tasks print from several threads.
Warnings are ignored. A module that fails to import is recorded as ``{"load": ...}``.

The file names differ from ``tests/compat/record_real_flows.py`` (Prefect 1's): with
pytest's default import mode two modules of one basename cannot be collected together.
The environment is ``record_prefect3.py``'s (a private, offline Prefect); every flow is
recorded twice and must give the same record both times. Writes
``real_flows_expected.json`` next to this file.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import io
import logging
import pathlib
import sys
import tempfile
import types
import warnings
from collections.abc import Callable, Iterator
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3]))  # (the repository root, for tests.compat)
from tests.compat.fixture_file import finish

HERE = pathlib.Path(__file__).resolve().parent
FLOWS_DIR = HERE / "real_flows"
FIXTURE = HERE / "real_flows_expected.json"


def _load(name: str, path: pathlib.Path) -> types.ModuleType:
    """The module at ``path`` under ``name``, imported once (the directories of the
    compat suite are no packages)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


#: ``scenarios.py`` of the eager compat suite (``norm``, ``exc_record``, ``clean``, the
#: namespaces), under the name ``test_prefect3_compat.py`` gives it.
SC = _load("ferroflow_eager_scenarios", HERE / "scenarios.py")
#: Prefect 1's real-flow recorder, for ``load_flow_module`` (a fresh module per run).
P1 = _load("record_real_flows", HERE.parent / "record_real_flows.py")
#: The Prefect 3 recorder, for its offline environment.
P3 = _load("record_prefect3", HERE / "record_prefect3.py")


def flow_files() -> dict[str, pathlib.Path]:
    """Every flow file of ``real_flows/``, by name (the file's stem)."""
    return {p.stem: p for p in sorted(FLOWS_DIR.glob("*.py")) if not p.name.startswith("_")}


class _OwnLines(logging.Handler):
    """The lines of the records ``keep(record)`` accepts (a record of several lines
    gives one entry per non-empty line: Prefect logs a multi-line print as one record,
    ferroflow as one record per line)."""

    def __init__(self, keep: Callable[[logging.LogRecord], bool]) -> None:
        super().__init__(logging.INFO)
        self.keep = keep
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if self.keep(record):
            self.lines += [f"{record.levelname}:{SC.clean(line)}"
                           for line in record.getMessage().splitlines() if line.strip()]


@contextlib.contextmanager
def _captured(pf: Any, keep: Callable[[logging.LogRecord], bool]) -> Iterator[dict[str, list[str]]]:
    """stdout and the kept INFO+ lines of ``pf.run_loggers`` while the block runs."""
    handler = _OwnLines(keep)
    loggers = [logging.getLogger(n) for n in pf.run_loggers]
    levels = [lg.level for lg in loggers]
    out = io.StringIO()
    got: dict[str, list[str]] = {}
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.INFO)
    try:
        with contextlib.redirect_stdout(out):
            yield got
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.removeHandler(handler)
            lg.setLevel(level)
        got["stdout"] = sorted(SC.clean(line) for line in out.getvalue().splitlines())
        got["logs"] = sorted(handler.lines)


def run_flow_file(pf: Any, name: str, source: str, filename: str,
                  keep: Callable[[logging.LogRecord], bool]) -> dict[str, Any]:
    """Load ``source`` (flow file ``name``) as a fresh module and run its ``main()`` with
    the library of namespace ``pf``, in an empty result/cache store; its record.
    ``keep(record)`` tells the flow's own log records from the engine's."""
    with warnings.catch_warnings(), pf.fresh_cache():
        warnings.simplefilter("ignore")
        try:
            module = P1.load_flow_module(name, source, filename)
        except Exception as exc:  # recorded: an import the library lacks, say
            return {"load": SC.exc_record(exc)}
        with _captured(pf, keep) as output:
            try:
                value = module.main()
                if asyncio.iscoroutine(value):
                    value = asyncio.run(value)
                outcome = {"returned": SC.norm(value)}
            except Exception as exc:  # recorded
                outcome = {"raised": SC.exc_record(exc)}
        return {"value": outcome, "observed": SC.norm(getattr(module, "OBSERVED", None)), **output}


# ---------------------------------------------------------------------------
# Prefect side
# ---------------------------------------------------------------------------

def prefect_keeps(record: logging.LogRecord) -> bool:
    """A record the flow's code emitted (``get_run_logger().info`` from the flow file;
    on Python 3.11+ Prefect's ``print_as_log`` reports its caller, the flow file, too):
    not one from Prefect's own modules."""
    import prefect

    return not record.pathname.startswith(str(pathlib.Path(prefect.__file__).parent))


def _quiet_prefect_console() -> None:
    """Configure Prefect's logging now and drop its console handler (on the root
    logger): the flows' own records are captured by ``run_flow_file``, the rest is noise
    on the terminal."""
    from prefect.logging.configuration import setup_logging
    from prefect.logging.handlers import PrefectConsoleHandler

    setup_logging()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, PrefectConsoleHandler)]:
        root.removeHandler(handler)


def record_all(pf: Any, only: list[str] | None = None) -> dict[str, Any]:
    return {name: run_flow_file(pf, name, path.read_text(), str(path), prefect_keeps)
            for name, path in flow_files().items() if not only or any(k in name for k in only)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="re-record and fail if the fixture differs")
    ap.add_argument("-k", action="append", default=[],
                    help="only flows whose name contains this (prints, no write)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="p3-real-flows-home-") as home:
        P3.prepare_environment(home)
        import prefect

        if not prefect.__version__.startswith(P3.PREFECT_SERIES):
            raise SystemExit(f"needs Prefect {P3.PREFECT_SERIES}x, found {prefect.__version__}")
        logging.getLogger("prefect").setLevel(logging.CRITICAL)
        _quiet_prefect_console()
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        pf = SC.prefect_namespace()
        # As record_prefect3.py: heartbeats would cost every flow run up to a second.
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            first = record_all(pf, args.k)
            second = record_all(pf, args.k)
    return finish(first, second, FIXTURE, key="flows", version=prefect.__version__, subset=args.k,
                  check=args.check, what="flows")


if __name__ == "__main__":
    sys.exit(main())
