"""``ferroflow plugins``: the table of installed plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from ferroflow import cli, plugins


def table_rows(out: str) -> dict[str, list[str]]:
    """Table rows keyed by plugin name (note lines, indented, are skipped)."""
    rows = {}
    for line in out.splitlines()[1:]:
        if line.startswith(" "):
            continue
        cells = [c for c in line.split("  ") if c.strip()]
        rows[cells[0].strip()] = [c.strip() for c in cells]
    return rows


def test_plugins_table(install, capsys):
    install("good", "broken", "conflict")
    assert cli.main(["plugins"]) == 0  # a broken plugin does not fail the command
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SOURCE", "STATUS", "REGISTERS"]
    rows = table_rows(out)
    assert rows["good"] == ["good", "ferroflow-testgood 1.2.0", "ok",
                            "executors: ferroflow-testgood:good; serializers: ferroflow-testgood:goodser"]
    assert rows["broken"] == ["broken", "ferroflow-testbroken 0.1.0", "failed", "-"]
    assert rows["conflict"][2:] == ["ok", "executors: ferroflow-testconflict:good, ferroflow-testconflict:other"]
    # the broken plugin's error, last line only, right under its row
    broken_at = next(i for i, line in enumerate(lines) if line.startswith("broken "))
    assert lines[broken_at + 1] == (
        "    error: ModuleNotFoundError: No module named 'ferroflow_nonexistent_dependency_for_tests'")
    assert ("    warning: executor 'good' is registered by several distributions "
            "('ferroflow-testconflict:good', 'ferroflow-testgood:good'): use one of these names"
            in lines)
    assert any(line.startswith("ferroflow.executors.local ") and "executors: ferroflow:local" in line
               for line in lines)
    assert "Traceback" not in out


def test_plugins_verbose_shows_tracebacks(install, capsys):
    install("broken")
    assert cli.main(["plugins", "--verbose"]) == 0
    out = capsys.readouterr().out
    assert "Traceback (most recent call last)" in out
    assert "ferroflow_testbroken.py" in out


def test_plugins_strict_fails_on_a_broken_plugin(install, capsys):
    install("good")
    plugins.get_plugin_manager()
    statuses = {r.name: r.status for r in plugins.list_plugins()}
    builtin_ok = all(s == "ok" for s in statuses.values())
    assert cli.main(["plugins", "--strict"]) == (0 if builtin_ok else 1)
    install("good", "badsig")
    assert cli.main(["plugins", "--strict"]) == 1
    capsys.readouterr()


def test_plugins_disabled_are_listed(install, capsys, monkeypatch):
    monkeypatch.setenv(plugins.DISABLE_ENV, "good")
    install("good")
    assert cli.main(["plugins", "--strict"]) in (0, 1)
    rows = table_rows(capsys.readouterr().out)
    assert rows["good"][2:] == ["disabled", "-"]


def test_plugins_json(install, capsys):
    install("good", "broken")
    assert cli.main(["plugins", "--json"]) == 0
    data = {d["name"]: d for d in json.loads(capsys.readouterr().out)}
    assert data["good"]["status"] == "ok"
    assert data["good"]["registrations"] == {"executors": ["good"], "serializers": ["goodser"]}
    assert data["good"]["qualified"] == {"executors": [f"{data['good']['distribution']}:good"],
                                         "serializers": [f"{data['good']['distribution']}:goodser"]}
    assert data["broken"]["status"] == "failed"
    assert data["broken"]["error"].startswith("ModuleNotFoundError")
    assert data["broken"]["distribution"] == "ferroflow-testbroken"


def test_plugins_lists_the_builtins(capsys):
    assert cli.main(["plugins"]) == 0
    rows = table_rows(capsys.readouterr().out)
    assert rows["ferroflow.executors.local"][1] == "built-in"
    assert cli.main(["plugins", "--json"]) == 0
    data = {d["name"]: d for d in json.loads(capsys.readouterr().out)}
    assert data["ferroflow.executors.local"]["qualified"] == {"executors": ["ferroflow:local"]}


def test_plugins_in_a_subprocess_with_a_broken_plugin(install, tmp_path):
    install("broken", "good")
    package_root = Path(cli.__file__).parents[2]
    env = dict(os.environ)
    env.pop(plugins.DISABLE_ENV, None)
    env["PYTHONPATH"] = os.pathsep.join([str(package_root), *[str(p) for p in tmp_path.glob("site-*")]])
    env[plugins.TRACE_ENV] = "1"
    proc = subprocess.run([sys.executable, "-m", "ferroflow", "plugins"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "good" in table_rows(proc.stdout) and "broken" in table_rows(proc.stdout)
    # the warning reaches stderr through logging, and the trace shows each load
    assert "'broken' (ferroflow-testbroken 0.1.0) failed to load" in proc.stderr
    assert "loaded ferroflow plugin 'good' (ferroflow-testgood 1.2.0)" in proc.stderr
