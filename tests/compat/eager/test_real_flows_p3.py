"""Real Prefect 2/3 flows, unchanged but for their imports, must end on ferroflow's eager
flows as they ended on Prefect 3.8.

Each file of ``real_flows/`` is a flow a Prefect 2 or 3 user wrote (course material,
example collections, demos, projects), made deterministic and offline; its first
comment names the source and the idioms it exercises. ``record_real_flows_p3.py`` ran
each on Prefect 3.8.8 into ``real_flows_expected.json``. Here every file's imports are
rewritten by the import table of ``docs/migrating-from-prefect-2-3.md`` (parsed from the
page, as a user would edit the import lines), the file runs on ferroflow through the same
``run_flow_file``, and the two records must be equal: what ``main()`` returned or raised
(states as type, name, message and result), what the tasks and hooks ``OBSERVED``, the
printed lines and the lines the flow's code logged.

A flow that does not match yet is a strict xfail in ``KNOWN_MISMATCHES`` with the cause;
when a fix lands the test XPASSes (and fails, strict): delete its entry.
"""

from __future__ import annotations

import json
import logging
import pathlib
from typing import Any

import pytest

pytest.importorskip("ferroflow.eager", reason="ferroflow's eager flows are not importable")

# pytest puts this directory on sys.path (rootdir-relative "prepend" imports).
import record_real_flows_p3 as REC

from tests.compat.real_flows_support import ImportTable, differences, flow_params, rewrite_imports, table_rows

HERE = pathlib.Path(__file__).resolve().parent
DOC = HERE.parent.parent.parent / "docs" / "migrating-from-prefect-2-3.md"
EXPECTED = json.loads(REC.FIXTURE.read_text())["flows"]
TABLE = ImportTable.from_markdown(DOC.read_text())

# Flows that do not match Prefect 3.8 yet: name -> the cause (strict xfail).
KNOWN_MISMATCHES: dict[str, str] = {
    "cellarity_static_keys_transaction":
        "unsupported: prefect.transactions.transaction (the migration page lists "
        "transactions as not carried over); the import is left unplaced",
}


def ferroflow_keeps(record: logging.LogRecord) -> bool:
    """A record the flow's code emitted: not one from ferroflow's own modules, except
    the lines ``log_prints`` forwards (``StdoutToLogger`` in ``ferroflow/runtime/logs.py``
    emits them)."""
    import ferroflow
    from ferroflow.runtime import logs

    if record.pathname == logs.__file__ and record.funcName in ("write", "flush"):
        return True
    return not record.pathname.startswith(str(pathlib.Path(ferroflow.__file__).parent))


def run_on_ferroflow(name: str) -> tuple[dict[str, Any], list[str]]:
    """Run flow file ``name`` on ferroflow, its imports rewritten; its record and the
    imports the table could not place (left importing from ``prefect``)."""
    path = REC.flow_files()[name]
    source, unplaced = rewrite_imports(path.read_text(), TABLE)
    pf = REC.SC.ferroflow_namespace()
    return REC.run_flow_file(pf, name, source, str(path), ferroflow_keeps), unplaced


def _params() -> list:
    return flow_params(set(REC.flow_files()) | set(EXPECTED), KNOWN_MISMATCHES)


def test_fixture_matches_flow_files():
    """Every flow file is recorded and every recording has its file."""
    files, recorded = set(REC.flow_files()), set(EXPECTED)
    assert files == recorded, (
        f"real_flows_expected.json is out of date: not recorded {sorted(files - recorded)}, "
        f"no file for {sorted(recorded - files)}; run "
        "/work/p3venv/bin/python tests/compat/eager/record_real_flows_p3.py")
    assert 20 <= len(files) <= 40


def test_known_mismatches_name_real_flows():
    assert not set(KNOWN_MISMATCHES) - set(REC.flow_files())


def test_flow_files_name_their_source_and_idioms():
    """Each file starts with ``# Source:`` and lists its idioms, and imports Prefect."""
    for name, path in REC.flow_files().items():
        text = path.read_text()
        assert text.startswith("# Source: "), name
        assert "# Idioms: " in text.split("\nfrom ", 1)[0].split("\nimport ", 1)[0], name
        assert "from prefect" in text, name


def test_import_table_of_the_migration_page():
    """The page's table places the common Prefect 3 imports (parsed, not copied)."""
    source = ("from prefect import flow, task, get_run_logger\n"
              "from prefect.states import Completed\n"
              "from prefect.runtime import flow_run\n")
    assert rewrite_imports(source, TABLE) == ((
        "from ferroflow import flow, task, get_run_logger\n"
        "from ferroflow.eager.states import Completed\n"
        "from ferroflow.runtime import flow_run\n"), [])


def test_every_row_of_the_table_imports():
    """Every ferroflow import the page's table names works (a flow rewritten by it
    fails only on behaviour, never on a name the table promised)."""
    rows = [right for left, right in table_rows(DOC.read_text()) if left.startswith("from ")]
    assert len(rows) >= 8
    for row in rows:
        exec(compile(row, DOC.name, "exec"), {})  # the page's own import lines


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", _params())
def test_real_flow_matches_prefect3(name):
    assert name in EXPECTED, f"{name} not recorded; re-run record_real_flows_p3.py"
    got, unplaced = run_on_ferroflow(name)
    got = json.loads(json.dumps(got))
    problems = differences(EXPECTED[name], got)
    if unplaced:
        problems.insert(0, f"imports the table does not place: {unplaced}")
    assert not problems, (f"{name} differs from Prefect 3.8 ({len(problems)}):\n  "
                          + "\n  ".join(problems[:60]))
