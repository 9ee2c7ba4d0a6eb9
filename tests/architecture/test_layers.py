"""Layers only point down: each module of ``ferroflow`` imports only modules of its own
layer or of layers below it (imports made inside functions count too; imports under
``TYPE_CHECKING`` do not). The layers and the few upward calls allowed are listed in
``docs/architecture.md`` ("Layers"); this test keeps that page true."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import ferroflow

ROOT = Path(ferroflow.__file__).parent

#: Bottom to top; a module's layer is that of its top-level name under ``ferroflow``.
LAYERS = [
    {"_core", "errors"},
    {"states", "signals", "state_codes", "schedules", "redaction", "descriptions"},
    {"plugins", "store", "client", "secrets"},
    {"results", "cache_validators", "cache_policies"},
    {"runtime", "debug", "retries"},
    {"core", "triggers", "control_flow", "tasks", "notifications"},
    {"executors"},
    {"engine", "eager"},
    {"cli", "server", "launchers", "worker", "testing", "starter", "__main__", "ferroflow"},
]

#: Upward imports allowed, each made inside a function: (module, imported module).
ALLOWED_UP = {
    # Flow.run() and Flow.validate() hand the flow to the engine.
    ("ferroflow.core.flow", "ferroflow.engine"),
    ("ferroflow.core.flow", "ferroflow.engine.graph"),
}


def layer_of(module: str) -> int:
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "ferroflow"
    if not ((ROOT / name).is_dir() or (ROOT / f"{name}.py").exists() or name == "_core"):
        name = "ferroflow"  # a name the package itself exports (``from ferroflow import Flow``)
    for i, names in enumerate(LAYERS):
        if name in names:
            return i
    raise AssertionError(f"{module}: its package {name!r} is in no layer of LAYERS (add it, and to the doc)")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    return ".".join(rel.parts).removesuffix(".__init__")


def imports(tree: ast.AST):
    """(imported module, line) of every ferroflow import not under TYPE_CHECKING."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ferroflow":
            if node.module == "ferroflow":
                for alias in node.names:
                    yield f"ferroflow.{alias.name}", node.lineno
            else:
                yield node.module, node.lineno
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "ferroflow":
                    yield alias.name, node.lineno


def test_every_module_imports_only_its_layer_and_below():
    upward = []
    for path in sorted(ROOT.rglob("*.py")):
        module = module_name(path)
        own = layer_of(module)
        for target, line in imports(ast.parse(path.read_text(), str(path))):
            if target in ("ferroflow.__version__",):
                continue
            if layer_of(target) > own and (module, target) not in ALLOWED_UP:
                upward.append(f"{path.relative_to(ROOT.parent)}:{line}: {module} imports {target}")
    assert not upward, "imports pointing up a layer:\n" + "\n".join(upward)


def _printed(code: str) -> str:
    """What ``code`` prints, run in a fresh interpreter."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_import_ferroflow_loads_no_engine_store_or_executor():
    loaded = _printed("import sys, ferroflow\n"
                      "loaded = sorted(m for m in sys.modules if m.split('.')[:2] and m.split('.')[0] == 'ferroflow'"
                      " and len(m.split('.')) > 1 and m.split('.')[1] in ('engine', 'store', 'executors', 'cli'))\n"
                      "print(','.join(loaded))")
    assert loaded == "", f"import ferroflow loaded: {loaded}"


def test_import_ferroflow_loads_no_database_library():
    """SQLAlchemy, Alembic and psycopg load with the run store (a recorded run), not with
    ``import ferroflow`` nor an unrecorded run's store."""
    loaded = _printed("import sys, ferroflow\n"
                      "from ferroflow.store import NullRunStore, get_run_store\n"
                      "get_run_store(record=False)\n"
                      "print(','.join(sorted(m for m in ('sqlalchemy', 'alembic', 'psycopg') if m in sys.modules)))")
    assert loaded == "", f"loaded: {loaded}"
