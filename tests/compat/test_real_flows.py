"""Real Prefect 1 flows, unchanged but for their imports, must end on ferroflow as they
ended on Prefect Core 1.4.1.

Each file of ``real_flows/`` is a flow a Prefect 1 user wrote (examples and docs of
Prefect 1.4.1, projects that ran Prefect 1), made deterministic and offline.
``record_real_flows.py`` ran each on Prefect 1.4.1 into ``real_flows_expected.json``.
Here every file's imports are rewritten by the import table of
``docs/migrating-from-prefect-1.md`` (parsed from the page, so the page and this test
cannot drift), the file runs on ferroflow through the same ``run_flow_module``, and the
two records must be equal: per run the flow's state and message, per task (by slug)
the state class, message, normalized result and mapped children, the ``after`` facts,
and what the flow's handlers and tasks ``OBSERVED``.

A flow that does not match yet is a strict xfail in ``KNOWN_MISMATCHES`` with the
cause; when a fix lands the test XPASSes (and fails, strict): delete its entry.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

# pytest puts this directory on sys.path (rootdir-relative "prepend" imports).
import record_real_flows as REC

from tests.compat.real_flows_support import ImportTable, differences, flow_params, rewrite_imports

HERE = pathlib.Path(__file__).resolve().parent
DOC = HERE.parent.parent / "docs" / "migrating-from-prefect-1.md"
EXPECTED = json.loads(REC.FIXTURE.read_text())["flows"]

# Rows these flows need that the doc's import table does not have yet, in the table's
# own format. Each must be missing from the doc (test_extra_rows_are_not_in_the_doc):
# once the doc has a row, delete it here.
EXTRA_ROWS = """
"""

# Flows that do not match Prefect 1.4.1 yet: name -> the cause (strict xfail).
KNOWN_MISMATCHES: dict[str, str] = {
    "docs_pause_for_approval": "deliberate: a manual_only task pauses the run (flow state Paused, resumed "
                               "with flow.run(resume=..., approve=...)); Prefect's flow.run asks at the "
                               "terminal and runs the task when the answer is 'y'",
    "iguazu_custom_signal_and_validator": "deliberate: SKIPRESULT's _state_cls (SkippedResult, the user's "
                                          "Success subclass) is recorded as Success, so the handler sees "
                                          "Success, not SkippedResult (migration guide, 'Where ferroflow "
                                          "deliberately differs'); everything else matches (its callable "
                                          "cache_validator included)",
}


TABLE = ImportTable.from_markdown(DOC.read_text(), EXTRA_ROWS)
NOT_COMPARED = frozenset({"warnings", "message_kind"})


def run_on_ferroflow(name: str) -> tuple[dict[str, Any], list[str]]:
    """Run flow file ``name`` on ferroflow, its imports rewritten; return its record and
    the imports the table could not place."""
    path = REC.flow_files()[name]
    source, unplaced = rewrite_imports(path.read_text(), TABLE)
    return REC.run_flow_module(lambda: REC.load_flow_module(name, source, str(path))), unplaced


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------

def _params() -> list:
    return flow_params(set(REC.flow_files()) | set(EXPECTED), KNOWN_MISMATCHES)


def test_fixture_matches_flow_files():
    """Every flow file is recorded and every recording has its file."""
    files, recorded = set(REC.flow_files()), set(EXPECTED)
    assert files == recorded, (
        f"real_flows_expected.json is out of date: not recorded {sorted(files - recorded)}, "
        f"no file for {sorted(recorded - files)}; run "
        "/work/p1venv/bin/python tests/compat/record_real_flows.py")


def test_known_mismatches_name_real_flows():
    assert not set(KNOWN_MISMATCHES) - set(REC.flow_files())


def test_extra_rows_are_not_in_the_doc():
    """An extra row the doc now has (for the same module or name) must go."""
    doc = ImportTable.from_markdown(DOC.read_text())
    extra = ImportTable.from_markdown(EXTRA_ROWS)
    covered = ([f"import {m}" for m in extra.imports if m in doc.imports]
               + [f"from {m} import ..." for m in extra.modules if m in doc.modules]
               + [f"from {m} import {n}" for m, n in extra.names if (m, n) in doc.names])
    assert not covered, f"{DOC.name} now has rows for {covered}: delete them from EXTRA_ROWS"


def test_import_rewriting():
    """The rewrite follows the table: names, whole modules, submodules, and leaves
    what the table does not place."""
    table = ImportTable.from_markdown(
        "| `from prefect import task, Flow` | `from ferroflow import task, Flow` |\n"
        "| `from prefect.engine import signals` | `from ferroflow import signals` |\n"
        "| `from prefect.exceptions import TimeoutSignal` | `from ferroflow.errors import Timeout as TimeoutSignal` |\n"
        "| `from prefect.engine.state import Success, ...` | `from ferroflow.states import Success, ...` |\n"
        "| `from prefect.schedules import clocks` | `from ferroflow.schedules import X, ...` |\n"
        "| `import prefect` | `import ferroflow as prefect` |\n")
    source = ("import prefect\n"
              "from prefect import task, Flow as F, Secret\n"
              "from prefect.engine.signals import SKIP\n"
              "from prefect.engine import state\n"
              "from prefect.exceptions import TimeoutSignal\n"
              "from prefect.schedules.clocks import CronClock\n"
              "def f():\n"
              "    from prefect.engine.state import (Failed,\n"
              "        Success)\n"
              "    return 1\n")
    assert rewrite_imports(source, table) == ((
        "import ferroflow as prefect\n"
        "from ferroflow import task, Flow as F; from prefect import Secret\n"
        "from ferroflow.signals import SKIP\n"
        "from ferroflow import states as state\n"
        "from ferroflow.errors import Timeout as TimeoutSignal\n"
        "from ferroflow.schedules.clocks import CronClock\n"
        "def f():\n"
        "    from ferroflow.states import Failed, Success\n"
        "    return 1\n"), ["from prefect import Secret"])


@pytest.mark.parametrize("name", _params())
def test_real_flow_matches_prefect1(name, monkeypatch, tmp_path):
    assert name in EXPECTED, f"{name} not recorded; re-run record_real_flows.py"
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path))  # a cache and run store of its own
    got, unplaced = run_on_ferroflow(name)
    problems = differences(EXPECTED[name], got, ignore=NOT_COMPARED)
    if unplaced:
        problems.insert(0, f"imports the table does not place: {unplaced}")
    assert not problems, (f"{name} differs from Prefect 1.4.1 ({len(problems)}):\n  "
                          + "\n  ".join(problems[:60])
                          + (f"\n  warnings on ferroflow: {got['warnings']}" if got.get("warnings") else ""))
