"""The secrets table: values encrypted at rest (a Fernet key or a passphrase), set,
read, listed, deleted and re-encrypted on SQLite and PostgreSQL alike; a wrong or
missing key is a clear error that never shows a value or a ciphertext."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ferroflow.errors import SecretError, SecretKeyError, UnknownSecretError
from ferroflow.store import schema
from ferroflow.store.secret_store import (
    KEY_ENV,
    check_secret_key,
    delete_secret,
    get_secret,
    list_secrets,
    new_key,
    rotate_keys,
    set_secret,
)

PASSPHRASE = "correct horse battery staple"
VALUE = "pg-password: tr0ub4dor&3 ä"


def stored(engine, name):
    with engine.connect() as conn:
        return bytes(conn.execute(select(schema.secrets.c.ciphertext).where(schema.secrets.c.name == name)).scalar())


@pytest.mark.parametrize("key", [new_key(), PASSPHRASE], ids=["fernet-key", "passphrase"])
def test_a_secret_is_stored_encrypted_and_read_back(engine, key):
    info = set_secret(engine, "DB_PASSWORD", VALUE, key=key)
    assert info.name == "DB_PASSWORD" and info.created_at == info.updated_at
    blob = stored(engine, "DB_PASSWORD")
    assert VALUE.encode() not in blob and b"tr0ub4dor" not in blob
    assert blob.startswith(b"ffs1:k:" if key != PASSPHRASE else b"ffs1:p:")
    assert get_secret(engine, "DB_PASSWORD", key=key) == VALUE


def test_the_key_comes_from_the_environment(engine, monkeypatch):
    monkeypatch.setenv(KEY_ENV, new_key())
    set_secret(engine, "TOKEN", VALUE)
    assert get_secret(engine, "TOKEN") == VALUE
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(SecretKeyError, match=f"{KEY_ENV} is not set.*ferroflow secret key"):
        get_secret(engine, "TOKEN")


def test_setting_again_replaces_the_value_and_keeps_the_creation_time(engine):
    key = new_key()
    first = set_secret(engine, "TOKEN", "first-value", key=key)
    second = set_secret(engine, "TOKEN", "second-value", key=key)
    assert second.created_at == first.created_at and second.updated_at >= first.updated_at
    assert get_secret(engine, "TOKEN", key=key) == "second-value"
    [listed] = list_secrets(engine)
    assert listed == second


def test_list_shows_names_and_times_only(engine):
    key = new_key()
    for name in ["b.token", "A_KEY", "c-1"]:
        set_secret(engine, name, f"value of {name}", key=key)
    listed = list_secrets(engine)
    assert [s.name for s in listed] == sorted(["b.token", "A_KEY", "c-1"])
    assert all("value" not in repr(s) for s in listed)


def test_delete(engine):
    key = new_key()
    set_secret(engine, "TOKEN", VALUE, key=key)
    assert delete_secret(engine, "TOKEN") is True
    assert delete_secret(engine, "TOKEN") is False
    with pytest.raises(UnknownSecretError, match="no secret 'TOKEN'.*ferroflow secret set TOKEN"):
        get_secret(engine, "TOKEN", key=key)


@pytest.mark.parametrize("right, wrong", [(new_key(), new_key()), (PASSPHRASE, PASSPHRASE + "!"),
                                          (new_key(), PASSPHRASE), (PASSPHRASE, new_key())],
                         ids=["key-key", "passphrase-passphrase", "key-passphrase", "passphrase-key"])
def test_a_wrong_key_says_it_does_not_match_and_shows_nothing_secret(engine, right, wrong):
    set_secret(engine, "TOKEN", VALUE, key=right)
    blob = stored(engine, "TOKEN")
    with pytest.raises(SecretKeyError, match="does not match") as caught:
        get_secret(engine, "TOKEN", key=wrong)
    text = str(caught.value)
    assert "'TOKEN'" in text and VALUE not in text and blob.decode() not in text and blob[7:27].decode() not in text
    assert caught.value.__cause__ is None  # (no InvalidToken shown with it)
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_every_secret_shares_one_key(engine):
    key = new_key()
    set_secret(engine, "FIRST", VALUE, key=key)
    with pytest.raises(SecretKeyError, match="'SECOND' was not set.*'FIRST' cannot be decrypted"):
        set_secret(engine, "SECOND", VALUE, key=new_key())
    assert [s.name for s in list_secrets(engine)] == ["FIRST"]
    set_secret(engine, "FIRST", "new-value", key=new_key())  # the only one: a new key for it is fine


def test_rotate_re_encrypts_every_secret(engine):
    old, new = new_key(), PASSPHRASE
    for name in ["A", "B", "C"]:
        set_secret(engine, name, f"{VALUE} {name}", key=old)
    assert rotate_keys(engine, old, new) == 3
    assert [get_secret(engine, name, key=new) for name in ["A", "B", "C"]] == [f"{VALUE} {n}" for n in "ABC"]
    with pytest.raises(SecretKeyError):
        get_secret(engine, "A", key=old)


def test_rotate_with_a_wrong_old_key_changes_nothing(engine):
    key = new_key()
    set_secret(engine, "A", VALUE, key=key)
    before = stored(engine, "A")
    with pytest.raises(SecretKeyError, match="'A'"):
        rotate_keys(engine, new_key(), new_key())
    assert stored(engine, "A") == before and get_secret(engine, "A", key=key) == VALUE


def test_check_secret_key_for_the_server_start(engine, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    check_secret_key(engine)  # no secrets: no key needed
    key = new_key()
    set_secret(engine, "TOKEN", VALUE, key=key)
    with pytest.raises(SecretKeyError, match=f"1 secret\\(s\\) are stored.*{KEY_ENV} is not set"):
        check_secret_key(engine)
    monkeypatch.setenv(KEY_ENV, new_key())
    with pytest.raises(SecretKeyError, match="does not match"):
        check_secret_key(engine)
    monkeypatch.setenv(KEY_ENV, key)
    check_secret_key(engine)


@pytest.mark.parametrize("name", ["", "has space", "-x", ".hidden", "a/b", "x" * 129, "ünï", "a;DROP TABLE"])
def test_invalid_names_are_refused(engine, name):
    with pytest.raises(SecretError, match="not a valid secret name"):
        set_secret(engine, name, VALUE, key=new_key())


@pytest.mark.parametrize("value, says", [("abc", "at least 4"), ("*" * 8, "asterisks"), ("x" * 65537, "limit"),
                                         (b"bytes-value", "must be a str")])
def test_values_that_cannot_be_secrets_are_refused(engine, value, says):
    with pytest.raises(SecretError, match=says) as caught:
        set_secret(engine, "TOKEN", value, key=new_key())
    if says in ("at least 4", "limit"):
        assert str(value) not in str(caught.value)
    assert list_secrets(engine) == []


def test_a_short_passphrase_is_refused(engine):
    with pytest.raises(SecretKeyError, match="passphrase of at least 16"):
        set_secret(engine, "TOKEN", VALUE, key="too short")
