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

import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE / "prefect1_control_flow_expected.json"


def main(argv=None):
    import record_prefect1  # this directory is on sys.path: the script's own

    sc = record_prefect1.load_scenarios("scenarios_control_flow.py", "ferroflow_compat_control_flow")
    return record_prefect1.main(argv, sc=sc, fixture=FIXTURE, description=__doc__.splitlines()[0])


if __name__ == "__main__":
    sys.exit(main())
