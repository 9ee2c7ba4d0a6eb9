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

import argparse
import importlib.util
import json
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
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="re-record and fail if the fixture differs")
    ap.add_argument("-k", action="append", default=[],
                    help="only scenarios whose name contains this (prints, no write)")
    args = ap.parse_args(argv)
    recorder = _load("ferroflow_compat_recorder", HERE / "record_prefect1.py")
    sc = _load("ferroflow_compat_control_flow", HERE / "scenarios_control_flow.py")
    first = recorder.record_all(sc, args.k)
    second = recorder.record_all(sc, args.k)
    if first != second:
        bad = sorted(n for n in first if first[n] != second.get(n))
        raise SystemExit(f"non-deterministic scenarios: {bad}")
    text = json.dumps({"prefect_version": "1.4.1", "scenarios": first}, indent=1, sort_keys=True) + "\n"
    if args.k:
        sys.stdout.write(text)
        return 0
    if args.check:
        if not FIXTURE.exists() or FIXTURE.read_text() != text:
            print(f"{FIXTURE.name} is stale; re-run without --check", file=sys.stderr)
            return 1
        print(f"{FIXTURE.name} is up to date ({len(first)} scenarios)")
        return 0
    FIXTURE.write_text(text)
    print(f"wrote {FIXTURE} ({len(first)} scenarios)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
