"""``ferroflow plugin new``: the starter kit refuses what it cannot write safely, and
each kind's package installs (offline, outside the shared virtualenv) and passes its own
tests, the kind's conformance kit included."""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import re
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: tomli, a dependency of ferroflow there
    import tomli as tomllib

import ferroflow
from ferroflow import starter
from ferroflow.cli import get_version, main
from ferroflow.plugins import hookimpl, registered_plugin
from ferroflow.starter import KINDS, StarterError, package_files, write_package

#: The directory holding the ``ferroflow`` package these tests import.
PACKAGE_ROOT = Path(ferroflow.__file__).parents[1]

#: A name per kind for the packages built and tested below.
NAMES = {"executor": "kit-pool", "notifier": "kit-jsonl", "result-store": "kit-dir", "serializer": "kit-gz"}

HOSTILE = [
    "", "My-Pool", "MYPOOL", "my_pool", "my--pool", "-pool", "pool-", "1pool", "my pool",
    "../evil", "..", "a/b", "a\\b", "/abs", "po'ol", 'po"ol', "po`ol", "pool;rm",
    "p\u043eol",  # a Cyrillic o
    "pool\u200b",  # a zero-width space
    "pool\n", "pool\x00", "ｐool",  # fullwidth p
    "class", "import", "none-x" * 8,  # keywords; too long
    "ferroflow", "ferroflow-pool",
]


def _written(root: Path) -> list[str]:
    """Every path under ``root``, directories included."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# ----- refusals -------------------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_are_refused_and_nothing_is_written(name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["plugin", "new", "notifier", "--", name]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ferroflow: error: ") and err.count("\n") == 1, err
    assert _written(tmp_path) == []


def test_the_refusal_shows_what_a_terminal_would_hide(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["plugin", "new", "serializer", "p\u043eol"]) == 2
    assert "p\\u043eol" in capsys.readouterr().err
    assert main(["plugin", "new", "serializer", "my_pool"]) == 2
    assert "single dashes" in capsys.readouterr().err
    assert main(["plugin", "new", "serializer", "ferroflow-pool"]) == 2
    assert "without the ferroflow- prefix" in capsys.readouterr().err
    assert main(["plugin", "new", "serializer", "class"]) == 2
    assert "Python keyword" in capsys.readouterr().err


@pytest.mark.parametrize(("kind", "name"), [("executor", "local"), ("executor", "threads"),
                                            ("result-store", "memory"), ("serializer", "json")])
def test_names_of_built_in_plugins_of_the_kind_are_refused(kind, name, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["plugin", "new", kind, name]) == 2
    assert "built-in" in capsys.readouterr().err
    assert _written(tmp_path) == []


def test_a_name_another_distribution_registers_is_refused(tmp_path, monkeypatch, capsys):
    class Other:
        @hookimpl
        def register_notifiers(self, register):
            register("taken-here", object)

    monkeypatch.chdir(tmp_path)
    with registered_plugin(Other(), name="other"):
        assert main(["plugin", "new", "notifier", "taken-here"]) == 2
        assert "would make the name ambiguous" in capsys.readouterr().err
        assert main(["plugin", "new", "serializer", "taken-here"]) == 0  # another kind: free
    assert _written(tmp_path) != []


def test_a_name_installed_already_is_refused(tmp_path, monkeypatch, capsys):
    installed = next(d.metadata["Name"] for d in importlib.metadata.distributions()
                     if (d.metadata["Name"] or "").startswith("ferroflow-"))
    monkeypatch.chdir(tmp_path)
    # (as a serializer: none of ferroflow's plugins registers one, so it is the distribution that is refused)
    assert main(["plugin", "new", "serializer", installed.removeprefix("ferroflow-")]) == 2
    assert "is already installed here" in capsys.readouterr().err
    assert _written(tmp_path) == []


@pytest.mark.parametrize("kind", ["launcher", "executors", "Executor", ""])
def test_unknown_kinds_are_refused(kind, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["plugin", "new", kind, "fine"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert _written(tmp_path) == []
    with pytest.raises(StarterError, match="unknown plugin kind"):
        package_files(kind, "fine", "0.1.0")


def test_plugin_alone_needs_a_subcommand(capsys):
    assert main(["plugin"]) == 2
    assert "SUBCOMMAND" in capsys.readouterr().err


def test_a_non_empty_directory_needs_force_which_keeps_other_files(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "ferroflow-mine"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    (target / "README.md").write_text("old readme")
    assert main(["plugin", "new", "serializer", "mine"]) == 2
    assert "not empty" in capsys.readouterr().err
    assert _files(target) == ["README.md", "notes.txt"] and (target / "README.md").read_text() == "old readme"

    assert main(["plugin", "new", "serializer", "mine", "--force"]) == 0
    assert (target / "notes.txt").read_text() == "mine"
    assert (target / "README.md").read_text().startswith("# ferroflow-mine")
    assert (target / "src" / "ferroflow_mine" / "__init__.py").is_file()
    assert not [p for p in target.rglob("*.tmp")]


def test_an_empty_directory_is_filled_and_a_file_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert main(["plugin", "new", "notifier", "mine", "empty"]) == 0
    assert "tests/test_conformance.py" in _written(tmp_path / "empty")
    (tmp_path / "a-file").write_text("x")
    assert main(["plugin", "new", "notifier", "mine", "a-file", "--force"]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert (tmp_path / "a-file").read_text() == "x"


def test_force_never_writes_through_a_symbolic_link(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "pkg"
    target.mkdir()
    (target / "tests").symlink_to(outside)
    assert main(["plugin", "new", "executor", "mine", "pkg", "--force"]) == 2
    assert "symbolic link" in capsys.readouterr().err
    assert _written(outside) == []
    (target / "tests").unlink()
    (target / "tests").mkdir()
    (target / "tests" / "conftest.py").symlink_to(outside / "victim.py")
    assert main(["plugin", "new", "executor", "mine", "pkg", "--force"]) == 2
    assert _written(outside) == []
    # Every path is checked before the first is written.
    assert _written(target) == ["tests", "tests/conftest.py"]


def test_an_interrupted_write_leaves_no_package_and_no_staging(tmp_path, monkeypatch):
    real = starter._write_inside
    calls = []

    def failing(root, relative, text):
        calls.append(relative)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(root, relative, text)

    monkeypatch.setattr(starter, "_write_inside", failing)
    with pytest.raises(KeyboardInterrupt):
        write_package(package_files("executor", "mine", "0.1.0"), tmp_path / "pkg")
    assert _written(tmp_path) == []


def test_a_writer_that_finished_first_keeps_its_package(tmp_path, monkeypatch):
    """Two commands writing one new directory at once: the second finds it filled when
    it renames its staging directory into place, and is refused; the first's stays."""
    first = package_files("serializer", "first", "0.1.0")
    second = package_files("serializer", "second", "0.1.0")
    real = starter._write_inside
    done = threading.Event()

    def racing(root, relative, text):
        real(root, relative, text)
        if not done.is_set():
            done.set()
            write_package(first, tmp_path / "pkg")  # the other command, finishing meanwhile

    monkeypatch.setattr(starter, "_write_inside", racing)
    with pytest.raises(StarterError, match="cannot write the package"):
        write_package(second, tmp_path / "pkg")
    assert _files(tmp_path / "pkg") == sorted(first)
    assert "ferroflow_first" in (tmp_path / "pkg" / "pyproject.toml").read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["pkg"]


def test_the_version_pin_needs_a_release_number():
    assert 'dependencies = ["ferroflow>=0.2.0"]' in package_files("notifier", "x", "0.2.0.dev3+g1234")["pyproject.toml"]
    with pytest.raises(StarterError, match="release number"):
        package_files("notifier", "x", "unknown")


# ----- what is written ------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_package_files(kind):
    files = package_files(kind, "my-thing", get_version())
    module = "ferroflow_my_thing"
    assert sorted(files) == sorted([".gitignore", "README.md", "pyproject.toml", f"src/{module}/__init__.py",
                                    "tests/conftest.py", "tests/test_conformance.py"])
    for path, text in files.items():
        assert "${" not in text, f"{path}: a placeholder was left"
        if path.endswith(".py"):
            compile(text, path, "exec")
    project = tomllib.loads(files["pyproject.toml"])
    assert project["project"]["name"] == "ferroflow-my-thing"
    release = re.match(r"\d+(\.\d+)*", get_version()).group(0)
    assert project["project"]["dependencies"] == [f"ferroflow>={release}"]
    assert project["project"]["entry-points"]["ferroflow"] == {"my-thing": module}
    assert project["project"]["optional-dependencies"]["test"] == ["pytest>=8"]
    assert project["build-system"]["build-backend"] == "setuptools.build_meta"
    plugin = files[f"src/{module}/__init__.py"]
    assert f"@hookimpl\ndef {KINDS[kind].hook}(register):" in plugin and 'register("my-thing", ' in plugin
    assert KINDS[kind].kit_class in files["tests/test_conformance.py"]
    assert "python -m pip install -e '.[test]'" in files["README.md"]


def test_the_command_prints_the_files_and_next_steps(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["plugin", "new", "result-store", "my-store"]) == 0
    out = capsys.readouterr().out
    assert "in ./ferroflow-my-store:" in out
    for path in package_files("result-store", "my-store", get_version()):
        assert f"  {path}\n" in out
        assert (tmp_path / "ferroflow-my-store" / path).is_file()
    assert "pip install -e '.[test]'" in out and "pytest" in out
    assert (tmp_path / "ferroflow-my-store" / "src").stat().st_mode & 0o777 == 0o777 & ~_umask()


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# ----- each kind, installed and tested ----------------------------------------------------


def _kit_tests(kind: str) -> int:
    spec = KINDS[kind]
    kit = getattr(importlib.import_module(spec.kit_module), spec.kit_class)
    count = len([n for n in dir(kit) if n.startswith("test_")])
    return 2 * count if kind == "result-store" else count  # the store is tested with and without fsync


def _clean_env(tmp_path: Path, pythonpath: list[str]) -> dict[str, str]:
    """The environment without ferroflow's and pytest's variables (the session's
    FERROFLOW_HOME among them): the kits must keep runs out of HOME by themselves."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FERROFLOW_", "PYTEST_"))}
    env["HOME"] = str(tmp_path / "home")
    env["PYTHONPATH"] = os.pathsep.join(pythonpath + ([os.environ["PYTHONPATH"]] if "PYTHONPATH" in os.environ else []))
    return env


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_installs_and_passes_its_own_tests(kind, tmp_path, run_ferroflow):
    name = NAMES[kind]
    made = run_ferroflow("plugin", "new", kind, name)
    assert made.returncode == 0, made.stderr
    package = tmp_path / f"ferroflow-{name}"
    (tmp_path / "home").mkdir()

    # Installed beside the shared virtualenv, never into it: offline, with its setuptools.
    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--target", str(site), str(package)],
        env=_clean_env(tmp_path, []), capture_output=True, text=True, timeout=240)
    assert install.returncode == 0, (
        f"{install.stdout}\n{install.stderr}\n(the build needs setuptools>=70.1 in the environment: "
        f"`pip install -e .[test]` installs it)")
    assert (site / f"ferroflow_{name.replace('-', '_')}" / "__init__.py").is_file()

    report = tmp_path / "report.xml"
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", f"--basetemp={tmp_path / 'basetemp'}",
         f"--junitxml={report}"],
        cwd=package, env=_clean_env(tmp_path, [str(site), str(PACKAGE_ROOT)]),
        capture_output=True, text=True, timeout=240)
    assert tested.returncode == 0, tested.stdout[-6000:] + tested.stderr[-3000:]
    root = ET.parse(report).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    assert suite is not None, ET.tostring(root)
    cases = suite.findall("testcase")
    assert int(suite.get("skipped")) == 0 and int(suite.get("failures")) == 0 and int(suite.get("errors")) == 0
    assert len(cases) == _kit_tests(kind) + 1, [c.get("name") for c in cases]
    assert "test_the_entry_point_registers_it" in {c.get("name") for c in cases}
    # Nothing recorded into ~/.ferroflow.
    assert not (tmp_path / "home" / ".ferroflow").exists(), _written(tmp_path / "home")
