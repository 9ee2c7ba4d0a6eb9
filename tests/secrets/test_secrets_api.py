"""ferroflow.secrets and the Secret task: a value read is registered for scrubbing and
kept for the process; the Secret task (Prefect 1's PrefectSecret) never keeps its
result, and a resumed run reads the secret again."""

from __future__ import annotations

import pytest

from ferroflow import Flow, redaction, secrets, task
from ferroflow.errors import SecretError, SecretKeyError, UnknownSecretError
from ferroflow.results import LocalResult
from ferroflow.store.secret_store import KEY_ENV, new_key
from ferroflow.tasks import PrefectSecret, Secret

VALUE = "api-token-0123456789"


def test_get_reads_the_database_and_registers_the_value(secret_env):
    secrets.set("TOKEN", VALUE)
    secrets.forget()
    redaction.clear()
    assert secrets.get("TOKEN") == VALUE
    assert redaction.scrub(f"token {VALUE}") == "token ********"
    assert [info.name for info in secrets.names()] == ["TOKEN"]


def test_a_value_is_read_once_per_process(secret_env):
    secrets.set("TOKEN", VALUE)
    secrets.forget()
    assert secrets.get("TOKEN") == VALUE
    from ferroflow.store.database import make_engine
    from ferroflow.store.secret_store import set_secret

    engine = make_engine(secret_env)
    set_secret(engine, "TOKEN", "changed-elsewhere")  # another process sets it meanwhile
    engine.dispose()
    assert secrets.get("TOKEN") == VALUE
    secrets.forget()
    assert secrets.get("TOKEN") == "changed-elsewhere"


def test_errors_name_the_secret(secret_env, monkeypatch):
    with pytest.raises(UnknownSecretError, match="'NOPE'"):
        secrets.get("NOPE")
    with pytest.raises(SecretError, match="not a valid secret name"):
        secrets.get("../etc/passwd")
    secrets.set("TOKEN", VALUE)
    secrets.forget()
    monkeypatch.setenv(KEY_ENV, new_key())
    with pytest.raises(SecretKeyError, match="does not match"):
        secrets.get("TOKEN")
    assert secrets.delete("TOKEN") is True and secrets.delete("TOKEN") is False


def test_the_secret_task_returns_the_value(secret_env):
    secrets.set("TOKEN", VALUE)
    secrets.set("OTHER", "other-value-42")
    secrets.forget()
    redaction.clear()

    @task
    def length(token):
        return len(token)

    with Flow("uses a secret") as flow:
        token = Secret("TOKEN")()
        named = PrefectSecret()(name="OTHER")
        both = Secret().map(name=["TOKEN", "OTHER"])
        n = length(token)
    state = flow.run()
    assert state.is_successful()
    assert state.result[token].result == VALUE and state.result[named].result == "other-value-42"
    assert state.result[both].result == [VALUE, "other-value-42"]
    assert state.result[n].result == len(VALUE)
    assert redaction.scrub(VALUE) == "********"  # registered by the task


def test_the_secret_task_needs_a_name(secret_env):
    with Flow("nameless") as flow:
        nameless = Secret()()
    state = flow.run()
    assert state.result[nameless].is_failed()
    assert "A secret name must be provided" in state.result[nameless].message


def test_the_task_is_named_after_the_secret():
    assert Secret("DB_PASSWORD").name == "DB_PASSWORD"
    assert Secret("DB_PASSWORD", task_name="password").name == "password"
    assert Secret().name == "Secret"
    assert PrefectSecret is Secret


@pytest.mark.parametrize("option", [dict(result=LocalResult(dir="/tmp")), dict(target="{task_name}.pkl"),
                                    dict(cache_for=60), dict(cache_key="k"), dict(checkpoint=True),
                                    dict(cache_key_fn=lambda *a: "k")])
def test_options_that_would_keep_the_value_are_refused(option):
    with pytest.raises(ValueError, match="Secret task"):
        Secret("TOKEN", **option)
    with pytest.raises(ValueError, match="Secret task"):
        Secret("TOKEN").copy(**option)
    with Flow("refused"), pytest.raises(ValueError, match="Secret task"):
        Secret("TOKEN")(task_args=option)


def test_the_value_is_never_checkpointed_and_resume_reads_it_again(secret_env, tmp_path):
    secrets.set("TOKEN", VALUE)
    results = tmp_path / "results"
    calls = []

    @task
    def fails_once(token):
        calls.append(token)
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")
        return len(token)

    with Flow("resumable", result=LocalResult(dir=str(results))) as flow:
        token = Secret("TOKEN")()
        out = fails_once(token)
    first = flow.run()
    assert first.result[out].is_failed() and first.result[token].is_successful()
    assert first.result[token].location is None  # no checkpoint, although the flow keeps results
    written = [p for p in results.rglob("*") if p.is_file()]
    assert all(VALUE.encode() not in p.read_bytes() for p in written)

    secrets.forget()
    secrets.set("TOKEN", "rotated-value-99")  # changed since: a resume reads it again
    secrets.forget()
    second = flow.run(resume=first.flow_run_id)
    assert second.is_successful()
    assert second.result[token].result == "rotated-value-99" and calls[-1] == "rotated-value-99"
