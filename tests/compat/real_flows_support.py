"""What the real-flow tests of Prefect 1 (``tests/compat/test_real_flows.py``) and of
Prefect 2/3 (``tests/compat/eager/test_real_flows_p3.py``) share: the import table of a
migration page, the rewrite of a flow file's imports by it (what a user does when
moving a flow to ferroflow), and the comparison of two records.

Imported as ``tests.compat.real_flows_support`` (the repository root is on pytest's
path).
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

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


# ---------------------------------------------------------------------------
# comparing records
# ---------------------------------------------------------------------------

def differences(expected: Any, got: Any, where: str = "",
                ignore: frozenset[str] = frozenset()) -> list[str]:
    """Every place where ferroflow's record ``got`` differs from Prefect's
    ``expected``, as ``where: Prefect X, ferroflow Y`` (dict keys in ``ignore`` are not
    compared, at any depth)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out = []
        for key in sorted(set(expected) | set(got)):
            if key in ignore:
                continue
            here = f"{where}.{key}" if where else key
            if key not in got:
                out.append(f"{here}: Prefect {_short(expected[key])}, ferroflow has none")
            elif key not in expected:
                out.append(f"{here}: Prefect has none, ferroflow {_short(got[key])}")
            else:
                out.extend(differences(expected[key], got[key], here, ignore))
        return out
    if isinstance(expected, list) and isinstance(got, list):
        if len(expected) == len(got):
            out = []
            for i, (e, g) in enumerate(zip(expected, got, strict=True)):
                out.extend(differences(e, g, f"{where}[{i}]", ignore))
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


def flow_params(names: Iterable[str], known: dict[str, str]) -> list:
    """One pytest parameter per flow name, sorted; a flow in ``known`` (name -> why it
    differs) is a strict xfail with that reason."""
    import pytest

    return [pytest.param(n, id=n, marks=[pytest.mark.xfail(reason=known[n], strict=True)] if n in known else [])
            for n in sorted(names)]
