"""docs/plugins.md documents every hook kind, and its examples pass their conformance
kits (ferroflow.testing)."""

from __future__ import annotations

import inspect
import os
import re
import sys
import tempfile
import threading
import types
from pathlib import Path

import cloudpickle
import pytest

from ferroflow.plugins import hookspecs
from ferroflow.testing.conformance import executor_conformance
from ferroflow.testing.notifiers import NotifierConformance
from ferroflow.testing.result_stores import result_store_conformance
from ferroflow.testing.serializers import serializer_conformance

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "plugins.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
KITS = {
    "register_executors": "ExecutorConformance",
    "register_result_stores": "ResultStoreConformance",
    "register_serializers": "SerializerConformance",
    "register_notifiers": "NotifierConformance",
    "register_launchers": "LauncherConformance",
}


def _hookspecs() -> list[str]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return sorted(name for name, fn in vars(hookspecs).items() if inspect.isfunction(fn) and hasattr(fn, marker))


def _section(text: str, hook: str) -> str:
    start = text.index(f"### `{hook}(register)`")
    end = text.find("\n### ", start + 1)
    return text[start:end if end != -1 else None]


def test_the_hookspecs_are_found():
    assert set(_hookspecs()) >= set(KITS), _hookspecs()


@pytest.mark.parametrize("hook", _hookspecs())
def test_every_hookspec_is_documented_with_its_signature_example_and_kit(hook):
    text = PAGE.read_text()
    assert f"### `{hook}(register)`" in text, f"docs/plugins.md has no section on the hook {hook}"
    section = _section(text, hook)
    assert "register(name: str, factory: Callable[..., " in section, f"{hook}: the register signature is missing"
    assert "```python" in section or "writing-a-launcher.md" in section, f"{hook}: no example"
    assert hook in KITS, f"{hook} has no conformance kit in this test's KITS"
    assert f"Kit: `{KITS[hook]}`" in section, f"{hook}: the section does not name its kit"
    assert f"| `{hook}(register)` |" in text and KITS[hook] in text.split(f"| `{hook}(register)` |")[1].split("\n")[0]


# ----- the page's examples, run against their kits --------------------------------------

_lock = threading.Lock()
_module: list[types.ModuleType] = []


def _examples() -> types.ModuleType:
    """The page's python blocks as one module (run once, in a temporary directory, the
    first time a kit test asks); its classes pickle by value, so that worker processes
    need not import it."""
    with _lock:
        if not _module:
            blocks = [b for b in BLOCK.findall(PAGE.read_text()) if not b.startswith("# not run")]
            module = types.ModuleType("ferroflow_plugins_md_examples")
            module.__file__ = str(PAGE)
            sys.modules[module.__name__] = module
            cloudpickle.register_pickle_by_value(module)
            cwd = os.getcwd()
            os.chdir(tempfile.mkdtemp(prefix="plugins-md-"))
            try:
                exec(compile("\n".join(blocks), str(PAGE), "exec"), module.__dict__)
            finally:
                os.chdir(cwd)
            _module.append(module)
        return _module[0]


TestDocPoolExecutor = executor_conformance(lambda: _examples().PoolExecutor(workers=2), name="DocPool")

TestDocDirectoryStore = result_store_conformance(lambda **options: _examples().DirectoryStore(**options),
                                                 name="DocDirectory")

TestDocDirectoryStoreFsync = result_store_conformance(
    lambda **options: _examples().DirectoryStore(**options), name="DocDirectoryFsync",
    store_options={"fsync": True})

TestDocGzipSerializer = serializer_conformance(lambda: _examples().GzipSerializer(), name="DocGzip")


class TestDocJsonLinesNotifier(NotifierConformance):
    @pytest.fixture(autouse=True)
    def _destination(self, tmp_path):
        self.path = tmp_path / "events.jsonl"

    def make_notifier(self, **options):
        return _examples().JsonLinesNotifier(str(self.path), **options)

    def deliveries(self):
        return self.path.read_text().splitlines() if self.path.exists() else []
