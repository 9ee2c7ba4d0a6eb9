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

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE / "prefect1_constants_caching_expected.json"


def main(argv=None):
    import record_prefect1  # this directory is on sys.path: the script's own

    sc = record_prefect1.load_scenarios("scenarios_constants_caching.py", "ferroflow_compat_constants_caching")
    return record_prefect1.main(argv, sc=sc, fixture=FIXTURE, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
