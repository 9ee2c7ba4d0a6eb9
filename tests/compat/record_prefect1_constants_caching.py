"""Record what Prefect Core 1.4.1 does for every scenario in
``scenarios_constants_caching.py`` (constant tasks, caching and the state handler
transitions around them).

Run with the Prefect 1 virtualenv (never with ferroflow's interpreter)::

    /work/p1venv/bin/python tests/compat/record_prefect1_constants_caching.py           # write
    /work/p1venv/bin/python tests/compat/record_prefect1_constants_caching.py --check   # verify
    /work/p1venv/bin/python tests/compat/record_prefect1_constants_caching.py -k cache/ # print

Writes ``prefect1_constants_caching_expected.json`` next to this file, the way
``record_prefect1.py`` (whose functions it reuses) writes the base set: every scenario
runs twice and must give the same record both times, and state classes ferroflow does
not define are refused.
"""

from __future__ import annotations

import importlib.util
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE / "prefect1_constants_caching_expected.json"


def _load(name: str, path: pathlib.Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def main(argv=None):
    recorder = _load("ferroflow_compat_recorder", HERE / "record_prefect1.py")
    sc = _load("ferroflow_compat_constants_caching", HERE / "scenarios_constants_caching.py")
    return recorder.main(argv, sc=sc, fixture=FIXTURE, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
