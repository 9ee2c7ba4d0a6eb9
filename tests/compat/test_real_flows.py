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

import ast
import difflib
import json
import pathlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

# pytest puts this directory on sys.path (rootdir-relative "prepend" imports).
import record_real_flows as REC

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


# ---------------------------------------------------------------------------
# the import table
# ---------------------------------------------------------------------------

_FROM = re.compile(r"^from\s+([\w.]+)\s+import\s+(.+)$")
_IMPORT = re.compile(r"^import\s+([\w.]+)(?:\s+as\s+(\w+))?$")


@dataclass
class ImportTable:
    """Where Prefect 1 names live in ferroflow, from rows of a Markdown import table.

    A row ``from A import x, y`` -> ``from B import x, y`` maps those names of ``A`` to
    ``B`` (``from B import z as x`` maps ``x`` to ``B.z``); a row with ``...`` on either
    side maps the whole module ``A`` (and its submodules) to ``B``; ``import A`` ->
    ``import B as A`` maps the statement.
    """

    names: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)
    imports: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_markdown(cls, *texts: str) -> ImportTable:
        """The table of every ``| `prefect ...` | `ferroflow ...` |`` row in ``texts``;
        an earlier text wins over a later one for the same name or module."""
        table = cls()
        for text in reversed(texts):
            for left, right in table_rows(text):
                table.add_row(left, right)
        return table

    def add_row(self, left: str, right: str) -> None:
        plain_l, plain_r = _IMPORT.match(left), _IMPORT.match(right)
        if plain_l and plain_r:
            self.imports[plain_l.group(1)] = plain_r.group(1)
            return
        from_l, from_r = _FROM.match(left), _FROM.match(right)
        if not (from_l and from_r):
            return
        module, target = from_l.group(1), from_r.group(1)
        names = [n.strip() for n in from_l.group(2).split(",")]
        targets = [n.strip() for n in from_r.group(2).split(",")]
        if "..." in names or "..." in targets:
            self.modules[module] = target
            return
        renamed = dict(reversed(t.split(" as ")) for t in targets if " as " in t)
        for name in names:
            self.names[(module, name)] = (target, renamed.get(name, name))

    def module(self, module: str) -> str | None:
        """ferroflow's module for Prefect's ``module`` (None: the table has none): a
        module row, or the module of a mapped name (``prefect.engine.signals`` from
        the ``from prefect.engine import signals`` row), or a submodule of either."""
        if module in self.modules:
            return self.modules[module]
        parent, _, last = module.rpartition(".")
        if not parent:
            return None
        if (parent, last) in self.names:
            return ".".join(self.names[(parent, last)])
        base = self.module(parent)
        return f"{base}.{last}" if base is not None else None

    def name(self, module: str, name: str) -> tuple[str, str] | None:
        """``(ferroflow module, name)`` to import for ``from module import name``."""
        if (module, name) in self.names:
            return self.names[(module, name)]
        target = self.module(f"{module}.{name}")
        if target is None:
            return None
        parent, _, last = target.rpartition(".")
        return parent, last


def table_rows(text: str) -> Iterable[tuple[str, str]]:
    """``(prefect code, ferroflow code)`` of every Markdown table row whose first cell
    is code starting with ``from prefect`` or ``import prefect``."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2:
            continue
        left, right = _first_code(cells[0]), _first_code(cells[1])
        if left and right and re.match(r"^(from|import)\s+prefect\b", left):
            yield left, right


def _first_code(cell: str) -> str | None:
    match = re.search(r"`([^`]+)`", cell)
    return match.group(1).strip() if match else None


def rewrite_imports(source: str, table: ImportTable) -> tuple[str, list[str]]:
    """``source`` with every Prefect import rewritten by ``table``, and the imports the
    table does not place (left importing from Prefect, so they fail on ferroflow)."""
    lines = source.splitlines(keepends=True)
    unplaced: list[str] = []
    nodes = [n for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom))]
    for node in sorted(nodes, key=lambda n: n.lineno, reverse=True):
        new = _rewrite_node(node, table, unplaced)
        if new is None:
            continue
        first = lines[node.lineno - 1]
        indent = first[: len(first) - len(first.lstrip())]
        lines[node.lineno - 1: node.end_lineno] = [indent + "; ".join(new) + "\n"]
    return "".join(lines), sorted(unplaced)


def _alias(name: str, asname: str | None) -> str:
    return name if asname in (None, name) else f"{name} as {asname}"


def _rewrite_node(node: Any, table: ImportTable, unplaced: list[str]) -> list[str] | None:
    if isinstance(node, ast.Import):
        out, changed = [], False
        for alias in node.names:
            target = table.imports.get(alias.name)
            if target is not None and (alias.asname or "." not in alias.name):
                out.append(f"import {target} as {alias.asname or alias.name}")
                changed = True
            else:
                out.append(f"import {_alias(alias.name, alias.asname)}")
                if alias.name.split(".")[0] == "prefect":
                    unplaced.append(f"import {alias.name}")
        return out if changed else None
    if node.level or not node.module or node.module.split(".")[0] != "prefect":
        return None
    grouped: dict[str, list[str]] = {}
    for alias in node.names:
        placed = table.name(node.module, alias.name)
        if placed is None:
            unplaced.append(f"from {node.module} import {alias.name}")
        module, name = placed if placed else (node.module, alias.name)
        grouped.setdefault(module, []).append(_alias(name, alias.asname or alias.name))
    return [f"from {module} import {', '.join(names)}" for module, names in grouped.items()]


TABLE = ImportTable.from_markdown(DOC.read_text(), EXTRA_ROWS)


# ---------------------------------------------------------------------------
# comparing records
# ---------------------------------------------------------------------------

NOT_COMPARED = {"warnings", "message_kind"}


def differences(expected: Any, got: Any, where: str = "") -> list[str]:
    """Every place where ferroflow's record ``got`` differs from Prefect's
    ``expected``, as ``where: Prefect X, ferroflow Y``."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out = []
        for key in sorted(set(expected) | set(got)):
            if key in NOT_COMPARED:
                continue
            here = f"{where}.{key}" if where else key
            if key not in got:
                out.append(f"{here}: Prefect {_short(expected[key])}, ferroflow has none")
            elif key not in expected:
                out.append(f"{here}: Prefect has none, ferroflow {_short(got[key])}")
            else:
                out.extend(differences(expected[key], got[key], here))
        return out
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) == len(got):
            out = []
            for i, (e, g) in enumerate(zip(expected, got, strict=True)):
                out.extend(differences(e, g, f"{where}[{i}]"))
            return out
        return _list_differences(expected, got, where)
    if expected != got:
        return [f"{where}: Prefect {_short(expected)}, ferroflow {_short(got)}"]
    return []


def _list_differences(expected: list, got: list, where: str) -> list[str]:
    """Items only Prefect's list has and items only ferroflow's has (lists of
    different lengths: handler transitions, log lines)."""
    keys = [[json.dumps(v, sort_keys=True) for v in seq] for seq in (expected, got)]
    out = [f"{where}: Prefect has {len(expected)} items, ferroflow {len(got)}"]
    matcher = difflib.SequenceMatcher(a=keys[0], b=keys[1], autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("delete", "replace"):
            out += [f"{where}[{i}] only on Prefect: {_short(expected[i])}" for i in range(i1, i2)]
        if op in ("insert", "replace"):
            out += [f"{where}[{j}] only on ferroflow: {_short(got[j])}" for j in range(j1, j2)]
    return out


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
    names = sorted(set(REC.flow_files()) | set(EXPECTED))
    return [pytest.param(n, id=n, marks=[pytest.mark.xfail(reason=KNOWN_MISMATCHES[n], strict=True)]
                         if n in KNOWN_MISMATCHES else []) for n in names]


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
    problems = differences(EXPECTED[name], got)
    if unplaced:
        problems.insert(0, f"imports the table does not place: {unplaced}")
    assert not problems, (f"{name} differs from Prefect 1.4.1 ({len(problems)}):\n  "
                          + "\n  ".join(problems[:60])
                          + (f"\n  warnings on ferroflow: {got['warnings']}" if got.get("warnings") else ""))
