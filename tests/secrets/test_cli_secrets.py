"""``ferroflow secret``: key, set (the value from standard input only), ls, rm and
rotate, on the default database and on one named with ``--database``."""

from __future__ import annotations

import io
import os

import pytest

from ferroflow import secrets
from ferroflow.cli import main
from ferroflow.store.database import make_engine
from ferroflow.store.migrations import migrate
from ferroflow.store.secret_store import KEY_ENV, get_secret, list_secrets, new_key, set_secret

VALUE = "cli-secret-value-0042"


@pytest.fixture
def engines():
    """``engine(url)``: a migrated engine, disposed after the test."""
    made = []

    def engine(url):
        made.append(make_engine(url))
        migrate(made[-1])
        return made[-1]

    yield engine
    for one in made:
        one.dispose()


def run(monkeypatch, capsys, *argv, stdin=""):
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_set_reads_the_value_from_stdin_and_strips_one_newline(secret_env, monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, "secret", "set", "TOKEN", stdin=VALUE + "\n\n")
    assert code == 0 and out == "Secret TOKEN set.\n" and err == ""
    assert secrets.get("TOKEN") == VALUE + "\n"  # one newline removed, not every one
    code, out, err = run(monkeypatch, capsys, "secret", "set", "CRLF", stdin=VALUE + "\r\n")
    secrets.forget()
    assert code == 0 and secrets.get("CRLF") == VALUE


def test_a_value_on_the_command_line_is_refused(secret_env, monkeypatch, capsys, engines):
    code, out, err = run(monkeypatch, capsys, "secret", "set", "TOKEN", VALUE)
    assert code == 2 and "unrecognized arguments" in err
    assert list_secrets(engines(secret_env)) == []


def test_ls_shows_names_and_times_never_values(secret_env, monkeypatch, capsys):
    assert run(monkeypatch, capsys, "secret", "ls")[1] == "No secrets.\n"
    for name in ["B_TOKEN", "A_TOKEN"]:
        run(monkeypatch, capsys, "secret", "set", name, stdin=VALUE)
    code, out, err = run(monkeypatch, capsys, "secret", "ls")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["NAME", "CREATED", "UPDATED"]
    assert [line.split()[0] for line in lines[1:]] == ["A_TOKEN", "B_TOKEN"]
    assert VALUE not in out


def test_rm(secret_env, monkeypatch, capsys):
    run(monkeypatch, capsys, "secret", "set", "TOKEN", stdin=VALUE)
    assert run(monkeypatch, capsys, "secret", "rm", "TOKEN")[:2] == (0, "Secret TOKEN deleted.\n")
    code, out, err = run(monkeypatch, capsys, "secret", "rm", "TOKEN")
    assert code == 2 and "no secret 'TOKEN'" in err


@pytest.mark.parametrize("argv, stdin, says", [
    (["set", "bad name"], VALUE, "not a valid secret name"),
    (["set", "TOKEN"], "abc\n", "at least 4"),
    (["rm", "a/b"], "", "not a valid secret name"),
])
def test_bad_input_is_a_usage_error(secret_env, monkeypatch, capsys, argv, stdin, says):
    code, out, err = run(monkeypatch, capsys, "secret", *argv, stdin=stdin)
    assert code == 2 and says in err


def test_a_wrong_key_is_an_error_that_says_so(secret_env, monkeypatch, capsys):
    run(monkeypatch, capsys, "secret", "set", "FIRST", stdin=VALUE)
    monkeypatch.setenv(KEY_ENV, new_key())
    code, out, err = run(monkeypatch, capsys, "secret", "set", "SECOND", stdin=VALUE)
    assert code == 1 and "does not match" in err and VALUE not in err
    monkeypatch.delenv(KEY_ENV)
    code, out, err = run(monkeypatch, capsys, "secret", "set", "SECOND", stdin=VALUE)
    assert code == 1 and f"{KEY_ENV} is not set" in err


def test_key_prints_a_new_key(secret_env, monkeypatch, capsys, engines):
    code, out, err = run(monkeypatch, capsys, "secret", "key")
    key = out.strip()
    assert code == 0 and len(key) == 44 and KEY_ENV in err
    assert run(monkeypatch, capsys, "secret", "key")[1].strip() != key
    engine = engines(secret_env)
    set_secret(engine, "TOKEN", VALUE, key=key)
    assert get_secret(engine, "TOKEN", key=key) == VALUE


def test_rotate(secret_env, monkeypatch, capsys, engines):
    for name in ["A", "B"]:
        run(monkeypatch, capsys, "secret", "set", name, stdin=VALUE)
    old = os.environ[KEY_ENV]
    code, out, err = run(monkeypatch, capsys, "secret", "rotate", "--old-key-env", "OLD_KEY")
    assert code == 2 and "OLD_KEY" in err
    monkeypatch.setenv("OLD_KEY", new_key())  # not the key they were encrypted with
    new = new_key()
    monkeypatch.setenv(KEY_ENV, new)
    code, out, err = run(monkeypatch, capsys, "secret", "rotate", "--old-key-env", "OLD_KEY")
    assert code == 1 and "does not match" in err
    engine = engines(secret_env)
    assert get_secret(engine, "A", key=old) == VALUE  # unchanged
    monkeypatch.setenv("OLD_KEY", old)
    code, out, err = run(monkeypatch, capsys, "secret", "rotate", "--old-key-env", "OLD_KEY")
    assert code == 0 and out == f"Re-encrypted 2 secret(s) with the key in {KEY_ENV}.\n"
    assert get_secret(engine, "A", key=new) == get_secret(engine, "B", key=new) == VALUE


def test_database_option(secret_env, tmp_path, monkeypatch, capsys, engines):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert run(monkeypatch, capsys, "secret", "set", "TOKEN", "--database", other, stdin=VALUE)[0] == 0
    assert [s.name for s in list_secrets(engines(other))] == ["TOKEN"]
    assert list_secrets(engines(secret_env)) == []
    assert "TOKEN" in run(monkeypatch, capsys, "secret", "ls", "--database", other)[1]
    assert run(monkeypatch, capsys, "secret", "rm", "TOKEN", "--database", other)[0] == 0
