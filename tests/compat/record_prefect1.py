"""Record what Prefect Core 1.4.1 does for every scenario in ``scenarios.py``.

Run with the Prefect 1 virtualenv (never with ferroflow's interpreter):

    /work/p1venv/bin/python tests/compat/record_prefect1.py            # all scenarios
    /work/p1venv/bin/python tests/compat/record_prefect1.py --check    # verify fixture
    /work/p1venv/bin/python tests/compat/record_prefect1.py -k map/    # print a subset

Writes ``prefect1_expected.json`` next to this file (sorted keys, stable output), with
one entry per scenario: the flow's state class and message (or the exception
``flow.run`` raised) and, per labelled task, its state class, message, message kind,
normalized result and, for ``Mapped`` states, the same for every child.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import pathlib
import sys
import warnings

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))  # (the repository root, for tests.compat)
from tests.compat.fixture_file import finish

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE / "prefect1_expected.json"

# quiet, deterministic, local-only Prefect
os.environ.setdefault("PREFECT__LOGGING__LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT__FLOWS__CHECKPOINTING", "false")
os.environ.setdefault("PREFECT__BACKEND", "server")


def load_scenarios(file_name: str = "scenarios.py", module_name: str = "ferroflow_compat_scenarios"):
    """Import a scenario file of this directory (the recorders of the other suites use
    it too: ``record_prefect1_control_flow.py``, ``record_prefect1_constants_caching.py``)."""
    spec = importlib.util.spec_from_file_location(module_name, HERE / file_name)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def _check_names(sc, name, record):
    """Refuse to record a state class ferroflow does not have."""
    def visit(rec, where):
        state = rec.get("state")
        if state is not None and state not in sc.FERROFLOW_STATE_NAMES:
            raise SystemExit(f"{name}: {where} is in state {state!r}, which ferroflow "
                             f"does not define; change the scenario")
        for i, child in enumerate(rec.get("children", ())):
            visit(child, f"{where}[{i}]")

    if "state" in record["flow"]:
        visit(record["flow"], "flow")
    for label, rec in record["tasks"].items():
        visit(rec, label)


def record_all(sc, only=None):
    import prefect

    assert prefect.__version__ == "1.4.1", prefect.__version__
    logging.getLogger("prefect").setLevel(logging.CRITICAL)
    pf = sc.prefect_namespace()
    out = {}
    for name in sorted(sc.SCENARIOS):
        if only and not any(k in name for k in only):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            record = sc.run_scenario(pf, name)
        _check_names(sc, name, record)
        out[name] = record
    return out


def main(argv=None, sc=None, fixture=None, description=None):
    """Record ``sc``'s scenarios (default: ``scenarios.py``) into ``fixture``
    (default: ``prefect1_expected.json``); ``--check`` and ``-k`` as the help says."""
    ap = argparse.ArgumentParser(description=description or __doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="re-record and fail if the fixture differs")
    ap.add_argument("-k", action="append", default=[],
                    help="only scenarios whose name contains this (prints, no write)")
    args = ap.parse_args(argv)
    sc = sc if sc is not None else load_scenarios()
    fixture = fixture if fixture is not None else FIXTURE
    # record twice: every scenario must be deterministic
    first = record_all(sc, args.k)
    second = record_all(sc, args.k)
    return finish(first, second, fixture, key="scenarios", version="1.4.1", subset=args.k, check=args.check,
                  what="scenarios")


if __name__ == "__main__":
    sys.exit(main())
