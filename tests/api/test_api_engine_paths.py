"""Prefect 1's ``prefect.engine.<module>`` attribute paths after a bare ``import prefect``
(``prefect.engine.cache_validators.all_parameters``,
``prefect.engine.executors.LocalDaskExecutor``) reach ferroflow's own modules with
``import ferroflow as prefect``, imported on first use. Each check runs in a fresh
interpreter, so nothing imported by other tests makes a path work by accident."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_fresh(code: str) -> None:
    """Run ``code`` in a new interpreter; its asserts fail the test."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("path, module", [
    ("cache_validators", "ferroflow.cache_validators"),
    ("executors", "ferroflow.executors"),
    ("results", "ferroflow.results"),
    ("signals", "ferroflow.signals"),
    ("state", "ferroflow.states"),
])
def test_prefect_engine_paths_are_ferroflow_modules(path, module):
    run_fresh("import importlib\n"
              "import ferroflow as prefect\n"
              f"assert prefect.engine.{path} is importlib.import_module({module!r})\n")


def test_the_names_prefect_code_reaches_through_them():
    run_fresh("import ferroflow as prefect\n"
              "from ferroflow import cache_validators, executors, signals, states\n"
              "assert prefect.engine.cache_validators.all_parameters is cache_validators.all_parameters\n"
              "assert prefect.engine.executors.LocalDaskExecutor is executors.LocalDaskExecutor\n"
              "assert prefect.engine.signals.SKIP is signals.SKIP\n"
              "assert prefect.engine.state.Success is states.Success\n"
              "assert prefect.engine.results.LocalResult.__module__.startswith('ferroflow.results')\n")


def test_the_paths_are_imported_on_first_use_only():
    run_fresh("import sys\n"
              "import ferroflow\n"
              "assert 'ferroflow.cache_validators' not in sys.modules\n"
              "ferroflow.engine.cache_validators\n"
              "assert 'ferroflow.cache_validators' in sys.modules\n")


@pytest.mark.parametrize("name", ["flow_runner", "task_runner", "serializers", "result", "nothing"])
def test_paths_without_a_ferroflow_counterpart_stay_missing(name):
    run_fresh("import ferroflow as prefect\n"
              "try:\n"
              f"    prefect.engine.{name}\n"
              "except AttributeError as exc:\n"
              f"    assert str(exc) == \"module 'ferroflow.engine' has no attribute '{name}'\", exc\n"
              "else:\n"
              "    raise AssertionError('an attribute')\n")


def test_they_are_not_importable_submodules():
    # An import statement is rewritten by the migration guide's import table instead.
    with pytest.raises(ModuleNotFoundError):
        import ferroflow.engine.executors  # noqa: F401 - the import is what is tested
