"""The import table of docs/migrating-from-prefect-1.md is exact: in every row whose
two cells are import statements, the ferroflow import runs and binds the same names as
the Prefect one, so rewriting a flow's imports by the table leaves its code working.
With Prefect 1.4.1 at /work/p1venv, the Prefect imports are run there too."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "migrating-from-prefect-1.md"
PREFECT_PYTHON = Path("/work/p1venv/bin/python")
IMPORT = re.compile(r"^`((?:from [\w.]+ )?import [\w., ]+?)`(?: \(.*\))?$")


def import_rows() -> list[tuple[str, str]]:
    """(Prefect import, ferroflow import) of each row of the page's tables whose
    cells are both a complete import statement (rows with ``...`` are not)."""
    rows = []
    for line in PAGE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2:
            continue
        matches = [IMPORT.match(c) for c in cells]
        if all(matches) and not any("..." in m.group(1) for m in matches):
            rows.append((matches[0].group(1), matches[1].group(1)))
    return rows


def bound_names(statement: str) -> list[str]:
    """The names an import statement binds."""
    names = statement.split(" import ", 1)[1] if statement.startswith("from ") else statement[len("import "):]
    out = []
    for part in names.split(","):
        words = part.split()
        out.append(words[-1] if "as" in words else words[0].split(".")[0])
    return sorted(out)


ROWS = import_rows()


def test_the_page_has_the_rows_of_prefect_1_names():
    prefect_side = {p for p, _ in ROWS}
    for statement in [
        "from prefect.executors import LocalDaskExecutor",
        "from prefect.engine.executors import DaskExecutor",
        "from prefect.exceptions import TaskTimeoutSignal",
        "from prefect.engine.results import LocalResult",
        "from prefect.engine.result import NoResult",
        "from prefect.tasks.control_flow import FilterTask",
        "from prefect.tasks.control_flow.conditional import CompareValue",
        "from prefect.tasks.control_flow.conditional import Merge",
        "from prefect.utilities.tasks import as_task",
    ]:
        assert statement in prefect_side, statement


@pytest.mark.parametrize("prefect, ferroflow", ROWS, ids=[p for p, _ in ROWS])
def test_the_ferroflow_import_binds_the_same_names(prefect, ferroflow):
    namespace: dict = {}
    exec(ferroflow, namespace)  # the page's own import statements
    bound = sorted(k for k in namespace if k != "__builtins__")
    assert bound == bound_names(prefect) == bound_names(ferroflow)


@pytest.mark.skipif(not PREFECT_PYTHON.exists(), reason="Prefect 1.4.1 is not installed at /work/p1venv")
def test_the_prefect_imports_are_real():
    script = (
        "import json, sys\n"
        "out = []\n"
        "for statement in json.loads(sys.argv[1]):\n"
        "    namespace = {}\n"
        "    try:\n"
        "        exec(statement, namespace)\n"
        "        out.append(sorted(k for k in namespace if k != '__builtins__'))\n"
        "    except Exception as exc:\n"
        "        out.append(repr(exc))\n"
        "print(json.dumps(out))\n"
    )
    statements = [p for p, _ in ROWS]
    done = subprocess.run([str(PREFECT_PYTHON), "-c", script, json.dumps(statements)],
                          capture_output=True, text=True, timeout=300, check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert dict(zip(statements, got, strict=True)) == {s: bound_names(s) for s in statements}
    assert sys.executable  # (the ferroflow side runs in this interpreter)


def test_subpackages_are_attributes_of_a_bare_import():
    # Prefect 1 code written as `import prefect` reaches prefect.schedules.CronSchedule;
    # with `import ferroflow as prefect` the subpackages answer the same way.
    code = ("import ferroflow as prefect\n"
            "assert prefect.schedules.CronSchedule('* * * * *')\n"
            "assert prefect.executors.LocalDaskExecutor().max_workers >= 1\n"
            "assert prefect.results.LocalResult and prefect.cache_validators.all_inputs\n"
            "assert prefect.errors.TaskTimeout\n"
            "try:\n"
            "    prefect.nothing_here\n"
            "except AttributeError as exc:\n"
            "    assert str(exc) == \"module 'ferroflow' has no attribute 'nothing_here'\"\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
