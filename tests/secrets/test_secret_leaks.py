"""A secret's value never leaves the process that reads it in clear: a run whose tasks
read a secret, print it, log it, pass it on and raise with it is recorded, and every
column of every table of every database, every file the run wrote and everything it
printed is searched for the value (its random core, so every escaped form of it too):
it is nowhere, and ``********`` is where it would have been. In this process, on the
``processes`` executor (the secret read in a worker process), through ``ferroflow
run``, in notifications and in a run's parameters."""

from __future__ import annotations

import io
import logging
import os
import re
import secrets as random_secrets
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from ferroflow import Flow, Parameter, get_logger, redaction, secrets, task, unmapped
from ferroflow.engine.resume import ResumeError
from ferroflow.notifications import as_state_handler
from ferroflow.store.database import make_engine
from ferroflow.store.secret_store import KEY_ENV, new_key
from ferroflow.tasks import Secret
from ferroflow.testing.fixtures import http_server, no_proxy  # noqa: F401 - fixtures of this module
from tests.support.notifiers import PostNotifier

MASK = redaction.MASK
#: The random core of the secret: any form of the value (raw, in a repr, in JSON, escaped
#: twice) holds it unchanged, so finding it nowhere finds no form anywhere.
CORE = random_secrets.token_hex(16)
#: The value: quotes, a backslash and a non-ASCII letter, so that its escaped forms differ.
VALUE = f"s3cr3t-{CORE}-'q\"ü\\z"


# ----- the flow ------------------------------------------------------------------------


@task(log_stdout=True)
def reveal(token):
    print("the token is", token)
    print(repr(token))
    get_logger().warning("logged: %s / %r", token, token)
    logging.getLogger("ferroflow.anything").error("another logger of ferroflow: %s", token)
    try:
        raise KeyError(token)
    except KeyError:
        get_logger().exception("caught an error")  # its traceback names the token
    return len(token)


@task
def explode(token):
    raise ValueError(f"bad token {token!r}: {token}")


@task
def pieces(token, n):
    if n == 1:
        raise RuntimeError(f"child {n} fails with {token}")
    return n


def leaky_flow():
    with Flow("leaky") as flow:
        token = Secret("TOKEN")()
        shown = reveal(token)
        failed = explode(token)
        mapped = pieces.map(unmapped(token), [0, 1, 2])
    return flow, token, shown, failed, mapped


# ----- searching everything ------------------------------------------------------------


def _texts(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, bytes):
        return [value.decode("utf-8", "replace"), value.decode("latin-1")]
    return [str(value)]


def database_cells(url: str) -> list[tuple[str, str, str]]:
    """``(table, column, text)`` of every cell of every table of the database at ``url``."""
    engine = make_engine(url)
    try:
        inspector = inspect(engine)
        cells = []
        with engine.connect() as conn:
            for table_name in inspector.get_table_names():
                from sqlalchemy import MetaData, Table

                table = Table(table_name, MetaData(), autoload_with=conn)
                for row in conn.execute(select(table)):
                    for column, value in zip(table.columns.keys(), row, strict=True):
                        cells.extend((table_name, column, text) for text in _texts(value))
        return cells
    finally:
        engine.dispose()


def sqlite_cells(path: Path) -> list[tuple[str, str, str]]:
    """Every cell of every table of an SQLite file."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        cells = []
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            cursor = conn.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            for row in cursor:
                for column, value in zip(columns, row, strict=True):
                    cells.extend((table, column, text) for text in _texts(value))
        return cells
    finally:
        conn.close()


def search_everything(root: Path, database_url: str, printed: str = "") -> list[tuple[str, str, str]]:
    """Every cell of the secrets database and of every SQLite file under ``root``, and
    the bytes of every file under ``root``; assert the secret is in none of them (nor in
    ``printed``). Returns the cells."""
    from ferroflow.store.database import normalize_url, sqlite_path

    cells = database_cells(database_url)
    files = [p for p in root.rglob("*") if p.is_file()]
    read_already = sqlite_path(normalize_url(database_url))  # (runs record there too: read once)
    for path in files:
        if path.read_bytes()[:16] == b"SQLite format 3\x00" and str(path.resolve()) != read_already:
            cells.extend(sqlite_cells(path))
    leaks = [f"{table}.{column}: {text[:200]!r}" for table, column, text in cells if CORE in text]
    leaks += [f"file {path}" for path in files if CORE.encode() in path.read_bytes()]
    if CORE in printed:
        leaks.append(f"printed output: {printed[max(0, printed.find(CORE) - 100):][:300]!r}")
    assert not leaks, "the secret's value was found in:\n" + "\n".join(leaks)
    return cells


@pytest.fixture
def stored_secret(secret_env, tmp_path):
    """Secret TOKEN set to VALUE; this process then forgets it (the run reads it)."""
    secrets.set("TOKEN", VALUE)
    secrets.forget()
    redaction.clear()
    return secret_env


# ----- the runs -----------------------------------------------------------------------


@pytest.mark.parametrize("executor", ["local", "processes"])
def test_a_run_that_prints_logs_passes_and_raises_a_secret_records_it_nowhere(stored_secret, tmp_path, capfd,
                                                                              executor):
    flow, token, shown, failed, mapped = leaky_flow()
    yours = io.StringIO()  # a handler of the user's, on the task loggers
    handler = logging.StreamHandler(yours)
    logging.getLogger("ferroflow.task").addHandler(handler)
    try:
        state = flow.run(executor=executor)
    finally:
        logging.getLogger("ferroflow.task").removeHandler(handler)

    assert state.is_failed() and state.recorded
    # The user's own process keeps the real values in memory.
    assert state.result[token].result == VALUE and state.result[shown].result == len(VALUE)
    assert CORE in str(state.result[failed].result)
    # Logs and states show masks.
    shown_logs = [entry.message for entry in state.result[shown].logs]
    assert f"the token is {MASK}" in shown_logs and any(m.startswith("logged: ********") for m in shown_logs)
    assert f"another logger of ferroflow: {MASK}" in shown_logs
    assert f"the token is {MASK}\n" in yours.getvalue()
    assert f"KeyError: {MASK!r}" in yours.getvalue() or f'KeyError: "{MASK}"' in yours.getvalue()
    out, err = capfd.readouterr()
    cells = search_everything(tmp_path, stored_secret, out + err + yours.getvalue())

    texts = {(table, column): [] for table, column, _ in cells}
    for table, column, text in cells:
        texts[(table, column)].append(text)
    logs = texts[("logs", "message")]
    assert f"the token is {MASK}" in logs and any(MASK in line and "logged" in line for line in logs)
    assert any(line == f"another logger of ferroflow: {MASK}" for line in logs)
    messages = [m for m in texts[("task_runs", "message")] if m]
    assert any(m.startswith("Error during execution of task: ValueError(") and MASK in m for m in messages)
    assert any("child 1 fails with ********" in m for m in messages)  # the mapped child's


def test_a_secret_read_in_a_worker_process_is_known_to_the_flow_process(stored_secret):
    """The value travels back with the unit's results: the flow process scrubs the
    records of units run by other workers and its own, though it never read the secret."""

    @task
    def read_here():
        return len(secrets.get("TOKEN"))

    with Flow("worker reads") as flow:
        read_here()
    assert not redaction.active()
    state = flow.run(executor="processes")
    assert state.is_successful()
    assert redaction.scrub(VALUE) == MASK  # learnt from the worker


def test_a_value_read_here_is_scrubbed_in_worker_processes(stored_secret, capfd):
    """The flow process's values go with each unit: a worker scrubs what it prints
    itself (no ``log_stdout``: straight to its stdout), though it never read them."""
    value = secrets.get("TOKEN")

    @task
    def show(token, n):
        print(f"worker {n} prints {token}")
        return os.getpid()

    with Flow("told") as flow:
        pids = show.map(unmapped(Parameter("token")), [0, 1, 2, 3])
    state = flow.run(executor="processes", token=value)
    assert state.is_successful() and os.getpid() not in state.result[pids].result
    out, err = capfd.readouterr()
    # (worker processes share the stdout: their lines may interleave, so each is looked
    # for on its own rather than line by line)
    assert sorted(re.findall(r"worker (\d) prints " + re.escape(MASK), out)) == ["0", "1", "2", "3"]
    assert CORE not in out + err


FLOW_FILE = """
import sys
from ferroflow import Flow, task, unmapped
from ferroflow.tasks import Secret

@task
def show(token):
    print("plain print:", token)              # no log_stdout: straight to the process's stdout
    print("to stderr:", repr(token), file=sys.stderr)
    raise ValueError(f"failing with {token}")

@task
def later(token, n):
    print("later, in whichever worker:", token)
    return n

with Flow("cli-leak") as flow:
    token = Secret("TOKEN")()
    show(token)
    later.map(unmapped(token), [1, 2, 3, 4])
"""


@pytest.mark.parametrize("executor", [[], ["-e", "processes"]], ids=["local", "processes"])
def test_ferroflow_run_shows_masks_on_stdout_and_stderr(stored_secret, tmp_path, executor):
    path = tmp_path / "leak_flow.py"
    path.write_text(textwrap.dedent(FLOW_FILE))
    done = subprocess.run([sys.executable, "-m", "ferroflow", "run", str(path), "--no-progress", *executor],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    printed = done.stdout + done.stderr
    assert f"plain print: {MASK}" in done.stdout and f"to stderr: '{MASK}'" in done.stderr
    assert done.stdout.count(f"later, in whichever worker: {MASK}") == 4
    search_everything(tmp_path, stored_secret, printed)


@pytest.mark.parametrize("executor", ["local", "processes"])
def test_notifications_never_carry_the_value(stored_secret, http_server, no_proxy, executor):  # noqa: F811
    server = http_server()
    handler = as_state_handler(PostNotifier(server.url + "/hook", timeout=10))
    with Flow("notified") as flow:
        token = Secret("TOKEN", state_handlers=[handler])()
        explode.copy(state_handlers=[handler])(token)
    state = flow.run(executor=executor)
    assert state.is_failed()
    bodies = [request.body.decode("utf-8") for request in server.requests]
    events = [request.json() for request in server.requests]
    assert not [body for body in bodies if CORE in body]
    succeeded = [e for e in events if e["task_name"] == "TOKEN" and e["state"] == "Success"]
    assert [e["result"] for e in succeeded] == [f"'{MASK}'"]
    [failed] = [e for e in events if e["task_name"] == "explode" and e["state"] == "Failed"]
    assert MASK in failed["message"] and MASK in failed["result"] and MASK in failed["traceback"]


def test_a_wrong_key_fails_the_task_clearly(stored_secret, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, new_key())
    with Flow("wrong key") as flow:
        token = Secret("TOKEN")()
        reveal(token)
    state = flow.run()
    assert state.is_failed()
    message = state.result[token].message
    assert "SecretKeyError" in message
    assert "FERROFLOW_SECRET_KEY does not match the key it was encrypted with" in message
    assert "ffs1" not in message and "gAAAA" not in message  # no ciphertext
    search_everything(tmp_path, stored_secret)


def test_a_secret_given_as_a_parameter_is_masked_and_not_kept_for_resume(stored_secret, tmp_path):
    attempts = []

    @task
    def use(token):
        attempts.append(token)
        if len(attempts) == 1:
            raise RuntimeError("first attempt fails")
        return len(token)

    with Flow("parameterized") as flow:
        use(Parameter("token"))
    first = flow.run(token=secrets.get("TOKEN"))
    assert first.is_failed()
    cells = search_everything(tmp_path, stored_secret)
    parameters = [text for table, column, text in cells if (table, column) == ("runs", "parameters")]
    assert parameters and all(MASK in text for text in parameters)
    problems = [text for table, column, text in cells if (table, column) == ("run_parameters", "problem")]
    assert problems == ["it holds the value of a secret, which is never stored"]

    with pytest.raises(ResumeError, match="'token'.*secret.*Give 'token' again"):
        flow.run(resume=first.flow_run_id)
    second = flow.run(resume=first.flow_run_id, token=secrets.get("TOKEN"))
    assert second.is_successful() and attempts[-1] == VALUE
