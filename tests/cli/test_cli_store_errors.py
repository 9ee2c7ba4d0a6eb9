"""Every command that reads the run store tells the truth when it cannot: a store it
may not read, a file that is not a database, a home that is not a directory is an
error naming the path and the reason (exit 1 for ``runs``/``logs``, whose convention
it is for a store that cannot be read; 2 for ``run --resume``, an environment error
before anything ran), never "No runs recorded yet"."""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import ferroflow.cli
from ferroflow import cli
from ferroflow.store import SQLiteRunStore

RUN_ID = "0123456789abcdef0123456789abcdef"
READERS = [("runs",), ("runs", "show", RUN_ID[:8]), ("runs", "reap"), ("logs", RUN_ID[:8])]

FLOW = """
from ferroflow import Flow, task

@task
def one():
    return 1

with Flow("tiny") as flow:
    one()
"""


def _record_a_run(home: Path) -> None:
    with SQLiteRunStore(home / "runs.db") as store:
        store.start_run(RUN_ID, "tiny", {}, [(0, "one", "one", False)])
        store.end_run(RUN_ID, "Success", "All reference tasks succeeded.")


def _unprivileged() -> list:
    """A command prefix that runs as a user file permissions apply to: nothing when
    this process is not root, else ``setpriv`` to ``nobody`` (root reads any file)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    try:
        pwd.getpwnam("nobody"), grp.getgrnam("nogroup")
    except KeyError:
        setpriv = None
    if setpriv is None:
        pytest.skip("running as root without setpriv and a nobody/nogroup user to drop privileges to")
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture
def shared_dir():
    """A directory other users may enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="ferroflow-perm-"))
    path.chmod(0o755)
    yield path
    for root, dirs, _ in os.walk(path):
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
    shutil.rmtree(path)


@pytest.mark.usefixtures("engine")
def test_a_home_the_user_may_not_read_is_an_error_naming_it(shared_dir):
    home = shared_dir / "home"
    home.mkdir()
    _record_a_run(home)
    flow = shared_dir / "tiny_flow.py"
    flow.write_text(FLOW)
    flow.chmod(0o644)
    home.chmod(0o000)
    env = dict(os.environ, FERROFLOW_HOME=str(home))
    env["PYTHONPATH"] = str(Path(ferroflow.cli.__file__).parents[2])
    prefix = _unprivileged()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, sys.executable, "-m", "ferroflow", *args], cwd=shared_dir, env=env,
                              capture_output=True, text=True, timeout=300)

    store = home / "runs.db"
    for args in READERS:
        proc = run(*args)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert proc.stdout == "", args
        assert proc.stderr == (f"ferroflow: error: permission denied: cannot read the run store {store} "
                               f"([Errno 13] Permission denied: '{store}')\n"), args

    resumed = run("run", str(flow), "--no-progress", "--resume", RUN_ID)
    assert resumed.returncode == 2, resumed.stderr
    assert resumed.stderr.startswith(f"ferroflow: error: permission denied: cannot open the run store {store} ")
    assert "Traceback" not in resumed.stderr

    unrecorded = run("run", str(flow), "--no-progress")  # runs, says it is not recorded
    assert unrecorded.returncode == 0, unrecorded.stderr
    assert unrecorded.stderr.startswith(
        f"ferroflow: warning: this run is not recorded: permission denied: cannot open the run store {store} ")
    assert "Flow run id" not in unrecorded.stdout


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_store_that_is_not_a_database_is_an_error(args, tmp_path, monkeypatch, capsys):
    store = tmp_path / "runs.db"
    store.write_bytes(b"this is a text file, not a SQLite database; " * 100)
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path))
    assert cli.main(list(args)) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"ferroflow: error: not a database: cannot open the run store {store}"
                   " (sqlite: file is not a database)\n")


@pytest.mark.usefixtures("engine")
def test_resuming_from_a_store_that_is_not_a_database_is_an_error(tmp_path, monkeypatch, capsys, flow_file):
    store = tmp_path / "runs.db"
    store.write_bytes(b"this is a text file, not a SQLite database; " * 100)
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path))
    assert cli.main(["run", str(flow_file(FLOW)), "--no-progress", "--resume", RUN_ID]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (f"ferroflow: error: not a database: cannot open the run store {store}"
                   " (sqlite: file is not a database)\n")


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_home_that_is_a_file_is_an_error(args, tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    home.write_text("a file where ferroflow's home directory should be")
    monkeypatch.setenv("FERROFLOW_HOME", str(home))
    assert cli.main(list(args)) == 1
    out, err = capsys.readouterr()
    assert out == ""
    store = home / "runs.db"
    assert err == (f"ferroflow: error: not a directory: cannot read the run store {store} "
                   f"([Errno 20] Not a directory: '{store}')\n")


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_store_that_does_not_exist_is_still_no_runs(args, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FERROFLOW_HOME", str(tmp_path / "never-created"))
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    if args[0] == "runs" and args[1:2] != ("show",):
        assert code == 0 and out.startswith("No runs recorded yet") and err == ""
    else:  # a run id that cannot be found: a usage error, as before
        assert code == 2 and err.startswith(f"ferroflow: error: no run with id {RUN_ID[:8]!r}: no run store at ")
    assert not (tmp_path / "never-created").exists()
