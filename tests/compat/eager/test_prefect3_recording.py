"""The Prefect 3 recording itself: it covers exactly the registered scenarios, the
scenario module imports neither library, and (when the Prefect 3 virtualenv of ``make
p3venv`` exists) the recorder still reproduces a committed entry."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE / "prefect3_expected.json"
P3VENV = pathlib.Path(os.environ.get("FERROFLOW_P3VENV", "/work/p3venv"))
P3PYTHON = P3VENV / "bin" / "python"


def _scenario_names_and_modules() -> dict:
    """Load scenarios.py in a fresh interpreter: its names and whether importing it
    imported prefect or ferroflow."""
    code = (
        "import importlib.util, json, sys\n"
        f"spec = importlib.util.spec_from_file_location('sc', {str(HERE / 'scenarios.py')!r})\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        "print(json.dumps({'names': sorted(mod.SCENARIOS), 'imported': sorted(\n"
        "    m for m in sys.modules if m.split('.')[0] in ('prefect', 'ferroflow'))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout)


def test_fixture_matches_registry():
    """Every registered scenario has a recording and vice versa (else re-run
    ``record_prefect3.py`` with Prefect 3.8: see tests/compat/README.md)."""
    loaded = _scenario_names_and_modules()
    recorded = json.loads(FIXTURE.read_text())
    assert recorded["prefect_version"].startswith("3.8.")
    names, expected = set(loaded["names"]), set(recorded["scenarios"])
    assert names == expected, (
        f"prefect3_expected.json is out of date: not recorded {sorted(names - expected)}, "
        f"no longer registered {sorted(expected - names)}; run "
        f"{P3PYTHON} tests/compat/eager/record_prefect3.py")
    assert len(names) >= 60


def test_scenarios_import_neither_library():
    assert _scenario_names_and_modules()["imported"] == []


@pytest.mark.skipif(not P3PYTHON.exists(),
                    reason=f"no Prefect 3 virtualenv at {P3VENV} (make p3venv)")
def test_recorder_reproduces_committed_entries():
    """The recorder, run on Prefect 3 now, writes the committed records (a few cheap
    scenarios; the full ``--check`` takes minutes)."""
    pick = ["basic/task_value", "cache/inputs_within_run", "fail/returned_list_of_states"]
    args = [str(P3PYTHON), str(HERE / "record_prefect3.py")]
    for name in pick:
        args += ["-k", name]
    out = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-4000:]
    got = json.loads(out.stdout)["scenarios"]
    committed = json.loads(FIXTURE.read_text())["scenarios"]
    assert set(got) == set(pick)
    for name in pick:
        assert got[name] == committed[name], name
