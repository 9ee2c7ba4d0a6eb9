"""``ferroflow server start`` refuses to start without ``FERROFLOW_SECRET_KEY`` once
secrets exist (and with a key that does not open them), saying why; it starts without
a key while there are none; with the right key it serves a secret's value over HTTP to
a ``run`` key and never to a ``read`` one."""

from __future__ import annotations

import subprocess
import sys

import httpx

from ferroflow.store.database import make_engine
from ferroflow.store.keys import create_key
from ferroflow.store.migrations import migrate
from ferroflow.store.secret_store import KEY_ENV, new_key, set_secret
from tests.support.servers import Server, child_env, free_port


def _start(database_url, env):
    return subprocess.run([sys.executable, "-m", "ferroflow", "server", "start", "--port", str(free_port()),
                           "--database", database_url], env=child_env(env), capture_output=True, text=True,
                          timeout=120)


def test_the_server_refuses_to_start_without_the_key_once_secrets_exist(database_url, tmp_path):
    key = new_key()
    engine = make_engine(database_url)
    try:
        migrate(engine)
        set_secret(engine, "warehouse", "pa55-w0rd-value", key=key)
        with engine.begin() as conn:
            run_key = create_key(conn, "runner", "run")[0]
            read_key = create_key(conn, "reader", "read")[0]
    finally:
        engine.dispose()
    env = {"FERROFLOW_HOME": str(tmp_path / "h")}
    missing = _start(database_url, {**env, KEY_ENV: ""})
    assert missing.returncode == 1
    assert KEY_ENV in missing.stderr and "secret(s) are stored" in missing.stderr
    wrong = _start(database_url, {**env, KEY_ENV: new_key()})
    assert wrong.returncode == 1 and "pa55-w0rd-value" not in wrong.stderr

    server = Server(database_url, tmp_path / "server.log", args=("--auth",), env={**env, KEY_ENV: key}).start()
    try:
        url = f"{server.url}/api/v1/secrets/warehouse/value"
        assert httpx.get(url, headers={"Authorization": f"Bearer {read_key}"}, timeout=10).status_code == 403
        answer = httpx.get(url, headers={"Authorization": f"Bearer {run_key}"}, timeout=10)
        assert answer.status_code == 200 and answer.json()["value"] == "pa55-w0rd-value"
    finally:
        server.stop()
    assert "pa55-w0rd-value" not in server.log()  # the access is audit-logged, never the value


def test_the_server_starts_without_a_key_while_no_secret_exists(database_url, tmp_path):
    server = Server(database_url, tmp_path / "server.log", env={KEY_ENV: ""}).start()
    server.stop()
