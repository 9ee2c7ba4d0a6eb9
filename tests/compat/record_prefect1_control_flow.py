"""Record what Prefect Core 1.4.1 does for every scenario in
``scenarios_control_flow.py`` (case, merge, switch, ifelse, apply_map, LOOP).

Run with the Prefect 1 virtualenv (never with ferroflow's interpreter)::

    /work/p1venv/bin/python tests/compat/record_prefect1_control_flow.py          # write
    /work/p1venv/bin/python tests/compat/record_prefect1_control_flow.py --check  # verify
    /work/p1venv/bin/python tests/compat/record_prefect1_control_flow.py -k loop/ # print

Writes ``prefect1_control_flow_expected.json`` next to this file. Recording works as
in ``record_prefect1.py`` (whose functions it reuses): every scenario runs twice and
must give the same record both times; state classes ferroflow does not define are
refused. ``prefect1_expected.json`` is left alone.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE / "prefect1_control_flow_expected.json"


def _load(name: str, path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def main(argv=None):
    recorder = _load("ferroflow_compat_recorder", HERE / "record_prefect1.py")
    sc = _load("ferroflow_compat_control_flow", HERE / "scenarios_control_flow.py")
    return recorder.main(argv, sc=sc, fixture=FIXTURE, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
