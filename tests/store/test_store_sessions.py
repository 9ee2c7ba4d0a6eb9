"""The web UI's sessions (``ferroflow.store.sessions``), on SQLite and PostgreSQL."""

from __future__ import annotations

from ferroflow.store.keys import create_key, revoke_key
from ferroflow.store.sessions import close_session, find_session, open_session, purge_sessions
from tests.support.databases import query


def test_a_session_is_found_by_its_token_and_keeps_only_its_hash(engine, database_url):
    with engine.begin() as conn:
        key, made = create_key(conn, "alice", "run")
        token, session = open_session(conn, name=made.name, role=made.role, key_id=made.id, now=1000.0)
    with engine.connect() as conn:
        found = find_session(conn, token, now=1001.0)
        assert found == session and found.role == "run" and found.name == "alice" and len(found.csrf) >= 40
        assert find_session(conn, token + "x", now=1001.0) is None
        assert find_session(conn, "", now=1001.0) is None
    cells = [str(c) for row in query(database_url, "SELECT * FROM ui_sessions") for c in row]
    assert token not in cells and key not in cells  # only the token's hash is kept


def test_sessions_expire_close_and_end_with_their_key(engine):
    with engine.begin() as conn:
        key, made = create_key(conn, "bob", "admin")
        short, _ = open_session(conn, name="bob", role="admin", key_id=made.id, lifetime=10, now=1000.0)
        closed, _ = open_session(conn, name="bob", role="admin", key_id=made.id, now=1000.0)
        revoked, _ = open_session(conn, name="bob", role="admin", key_id=made.id, now=1000.0)
    with engine.begin() as conn:
        assert find_session(conn, short, now=1009.0) is not None
        assert find_session(conn, short, now=1010.0) is None  # expired
        close_session(conn, closed)
        assert find_session(conn, closed, now=1001.0) is None
        assert purge_sessions(conn, now=1010.0) == 1  # the expired one
        assert find_session(conn, revoked, now=1001.0) is not None
        revoke_key(conn, key)
        assert find_session(conn, revoked, now=1001.0) is None  # its key was revoked


def test_a_session_without_a_key_is_the_authentication_off_admin(engine):
    with engine.begin() as conn:
        token, _ = open_session(conn, name="(authentication off)", role="admin", key_id=None)
    with engine.connect() as conn:
        found = find_session(conn, token)
    assert found is not None and found.key_id is None and found.role == "admin"
