"""Record what Prefect 3.8 does for every scenario in ``scenarios.py``.

Run with the Prefect 3 virtualenv (``make p3venv``), never with ferroflow's interpreter:

    /work/p3venv/bin/python tests/compat/eager/record_prefect3.py            # all scenarios
    /work/p3venv/bin/python tests/compat/eager/record_prefect3.py --check    # verify fixture
    /work/p3venv/bin/python tests/compat/eager/record_prefect3.py -k cache/  # print a subset

Prefect 3 talks to an API; with no ``PREFECT_API_URL`` it starts a temporary local
server on 127.0.0.1 on first use. The recorder gives it a fresh ``PREFECT_HOME`` in a
temporary directory (its SQLite database, profiles and result storage), turns off
analytics, logs sent to the API and version checks, so nothing leaves the machine, turns
off flow-run heartbeats (see ``main``), and runs every scenario twice in one process
(refusing any whose record differs). Writes ``prefect3_expected.json`` next to this
file (sorted keys, stable output).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import pathlib
import sys
import tempfile
import time
import warnings

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3]))  # (the repository root, for tests.compat)
from tests.compat.fixture_file import finish

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE / "prefect3_expected.json"
PREFECT_SERIES = "3.8."

# Settings read when prefect is first imported (so set before importing it).
QUIET_OFFLINE = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_TO_API_ENABLED": "false",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED": "false",
    "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
    "PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS": "false",
    "PREFECT_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_SERVER_LEVEL": "CRITICAL",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    "DO_NOT_TRACK": "1",
}


def prepare_environment(home: str) -> None:
    """A private, offline Prefect: fresh home, no API URL or key inherited."""
    for key in ("PREFECT_API_URL", "PREFECT_API_KEY", "PREFECT_PROFILE"):
        os.environ.pop(key, None)
    os.environ["PREFECT_HOME"] = home
    os.environ.update(QUIET_OFFLINE)


def load_scenarios():
    spec = importlib.util.spec_from_file_location("ferroflow_eager_scenarios",
                                                  HERE / "scenarios.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def record_all(sc, pf, only=None) -> dict:
    out = {}
    for name in sorted(sc.SCENARIOS):
        if only and not any(k in name for k in only):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[name] = sc.run_scenario(pf, name)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true",
                    help="re-record and fail if the fixture differs")
    ap.add_argument("-k", action="append", default=[],
                    help="only scenarios whose name contains this (prints, no write)")
    args = ap.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="p3-compat-home-") as home:
        prepare_environment(home)
        import prefect

        if not prefect.__version__.startswith(PREFECT_SERIES):
            raise SystemExit(f"needs Prefect {PREFECT_SERIES}x, found {prefect.__version__}")
        logging.getLogger("prefect").setLevel(logging.CRITICAL)
        from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

        sc = load_scenarios()
        pf = sc.prefect_namespace()
        # Flow-run heartbeats only serve crash detection by a worker; their thread
        # sleeps in 1 s steps and is joined when a flow run ends, which would cost
        # every flow run up to a second.
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            first = record_all(sc, pf, args.k)
            second = record_all(sc, pf, args.k)
    return finish(first, second, FIXTURE, key="scenarios", version=prefect.__version__, subset=args.k,
                  check=args.check, what="scenarios", took=f"{time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    sys.exit(main())
