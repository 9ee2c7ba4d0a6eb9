"""Schema 12: a run's name (``runs.run_name``; an eager flow's ``flow_run_name``) is kept
with its record, one printable bounded line, and shown by ``ferroflow runs``, ``runs
show``, the API and the web UI. On SQLite and PostgreSQL; a start item without it (an
older ferroflow's) is still taken, and a deferred run has none."""

from __future__ import annotations

import pytest

from ferroflow import Flow, cli, redaction, task
from ferroflow.eager.record import EagerRecorder
from ferroflow.store import StateStoreError, items
from ferroflow.store.items import MAX_RUN_NAME_CHARS, bound_run_name
from tests.support.databases import query

TOKEN = "a" * 32
TASKS = [(0, "t", "t-1", False)]
HOSTILE = "etl\n\x1b[2J\u202e<b>" + "y" * 500
SECRET = "hunter2-sesame"


# ----- the name as kept ------------------------------------------------------------


def test_a_name_is_one_bounded_line_or_none():
    assert bound_run_name(None) is None and bound_run_name("") is None and bound_run_name(" \t\n") is None
    assert bound_run_name("etl-2026-12-01") == "etl-2026-12-01"
    assert bound_run_name("a\tb\u2028c") == "a\\tb\\u2028c"
    kept = bound_run_name(HOSTILE)
    assert kept.startswith("etl\\n\\x1b[2J\\u202e<b>yyy") and kept.endswith("...")
    assert len(kept) == MAX_RUN_NAME_CHARS == 200 and kept.isprintable()
    assert bound_run_name("x" * 200) == "x" * 200  # (at the bound: kept whole)
    with pytest.raises(TypeError, match="a run's name is a string, got dict"):
        bound_run_name({"not": "text"})  # type: ignore[arg-type]


# ----- the store -------------------------------------------------------------------


def test_the_store_keeps_the_name(store, database_url):
    store.start_run("r1", "f", {}, TASKS, 1.0, run_name="etl-2026-12-01")
    store.start_run("r2", "f", {}, TASKS, 2.0)  # (none)
    store.start_run("r3", "f", {}, TASKS, 3.0, run_name="")  # (empty: none)
    store.end_run("r1", "Success")
    assert store.get_run("r1").run_name == "etl-2026-12-01"
    assert [(r.run_id, r.run_name) for r in store.list_runs()] == [
        ("r3", None), ("r2", None), ("r1", "etl-2026-12-01")]
    assert store.resolve_run("r1").run_name == "etl-2026-12-01"
    store.start_run("r1", "f", {}, TASKS, 1.0, run_name="etl-again")  # reopened: the name it has now
    assert store.get_run("r1").run_name == "etl-again"
    store.start_run("c1", "f", {}, TASKS, 4.0, parent_run_id="r1", run_name="child")
    assert [(r.run_id, r.parent_run_id, r.run_name) for r in store.child_runs("r1")] == [("c1", "r1", "child")]
    store.flush()
    assert sorted(query(database_url, "SELECT run_id, run_name FROM runs")) == [
        ("c1", "child"), ("r1", "etl-again"), ("r2", None), ("r3", None)]


def test_a_hostile_name_is_kept_escaped_and_bounded(store):
    store.start_run("r1", "f", {}, TASKS, 1.0, run_name=HOSTILE)
    kept = store.get_run("r1").run_name
    assert kept == bound_run_name(HOSTILE) and "\x1b" not in kept and "\n" not in kept


def test_a_start_item_carries_the_name_only_when_there_is_one():
    """Trailing fields a run does not have are left off: a server older than schema 12
    (or 11) takes every start without a name (or parent) as before."""
    plain = items.start("ab" * 16, "f", {}, TASKS, 1.0, pid=1, token=TOKEN, executor="local", run_name="")
    named = items.start("ab" * 16, "f", {}, TASKS, 1.0, pid=1, token=TOKEN, run_name="n")
    both = items.start("ab" * 16, "f", {}, TASKS, 1.0, pid=1, token=TOKEN, parent_run_id="cd" * 16, run_name="n")
    sub = items.start("ab" * 16, "f", {}, TASKS, 1.0, pid=1, token=TOKEN, parent_run_id="cd" * 16)
    assert (len(plain), len(sub), len(named), len(both)) == (13, 14, 15, 15)
    assert named[13:] == (None, "n") and both[13:] == ("cd" * 16, "n")
    assert items.start("ab" * 16, "f", {}, TASKS, 1.0, pid=1, token=TOKEN, run_name=HOSTILE)[14] == \
        bound_run_name(HOSTILE)  # (the client bounds it before it travels)


def test_start_items_of_older_clients_are_still_taken(store, database_url):
    item = items.start("ab" * 16, "old client", {}, TASKS, 1.0, pid=1, token=TOKEN, executor="local",
                       parent_run_id="cd" * 16, run_name="named")
    assert len(item) == 15
    for batch, old in enumerate((item[:12], item[:13], item[:14])):  # before schema 10, 11, 12
        store.ingest(f"b{batch}", [old], {})
        assert store.get_run("ab" * 16).run_name is None
    store.ingest("b9", [item], {})
    assert query(database_url, "SELECT run_name, parent_run_id FROM runs") == [("named", "cd" * 16)]


def test_what_a_client_sends_is_made_one_bounded_line_or_refused(store):
    base = items.start("cd" * 16, "f", {}, TASKS, 1.0, pid=1, token=TOKEN)
    store.ingest("b1", [(*base, None, HOSTILE)], {})  # (unbounded, raw: as a hostile client sends it)
    assert store.get_run("cd" * 16).run_name == bound_run_name(HOSTILE)
    store.ingest("b2", [(*base[:1], "ce" * 16, *base[2:], None, "  ")], {})
    assert store.get_run("ce" * 16).run_name is None
    with pytest.raises(StateStoreError, match="invalid record: .*a run's name is a string, got list"):
        store.ingest("b3", [(*base[:1], "ef" * 16, *base[2:], None, ["not", "text"])], {})
    assert store.get_run("ef" * 16) is None


# ----- the engine's recorders ------------------------------------------------------


def test_an_eager_recorders_start_hands_the_name_to_the_store(store):
    recorder = EagerRecorder(store, "ab" * 16, ledger=None)
    recorder.start("etl", {"day": "2026-12-01"}, run_name="etl-2026-12-01")
    store.flush()
    run = store.get_run("ab" * 16)
    assert (run.flow_name, run.parameters, run.run_name) == ("etl", {"day": "2026-12-01"}, "etl-2026-12-01")
    EagerRecorder(store, "cd" * 16, ledger=None).start("etl", {})  # (no name)
    assert store.get_run("cd" * 16).run_name is None


def test_a_registered_secret_in_a_name_is_masked(store, database_url):
    redaction.register(SECRET)
    try:
        EagerRecorder(store, "ab" * 16, ledger=None).start("etl", {}, run_name=f"etl-{SECRET}")
        store.flush()
    finally:
        redaction.clear()
    assert store.get_run("ab" * 16).run_name == f"etl-{redaction.MASK}"
    assert SECRET not in repr(query(database_url, "SELECT * FROM runs"))


@task
def one():
    return 1


def test_a_deferred_run_has_no_name(recording_home, database_url):
    from ferroflow.store import config

    with Flow("deferred") as flow:
        one()
    state = flow.run()
    assert state.is_successful()
    for open_store in list(config._STORES.values()):
        open_store.flush()
    where = database_url if database_url.startswith("postgresql") else f"sqlite:///{recording_home / 'runs.db'}"
    assert query(where, "SELECT run_id, run_name FROM runs") == [(state.flow_run_id, None)]


# ----- ferroflow runs and runs show ------------------------------------------------


def test_runs_and_runs_show_say_the_name(store, database_url, monkeypatch, capsys):
    monkeypatch.setenv("FERROFLOW_DATABASE_URL", database_url)
    store.start_run("ab" * 16, "etl", {}, TASKS, 1.0, run_name="etl-2026-12-01")
    store.end_run("ab" * 16, "Success", None, 2.0)
    store.start_run("cd" * 16, "etl", {}, TASKS, 3.0)
    store.start_run("ef" * 16, "etl", {}, TASKS, 4.0, run_name="n" * 150)
    store.flush()
    assert cli.main(["runs", "show", "abab"]) == 0
    header = capsys.readouterr().out.split("\n\n")[0].splitlines()
    assert header[:3] == ["Run         " + "ab" * 16, "Name        etl-2026-12-01", "Flow        etl"]
    assert cli.main(["runs", "show", "efef"]) == 0
    assert "Name        " + "n" * 150 + "\n" in capsys.readouterr().out  # (whole)
    assert cli.main(["runs", "show", "cdcd"]) == 0
    assert "Name" not in capsys.readouterr().out
    assert cli.main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["RUN", "ID", "NAME", "FLOW", "STATE", "STARTED", "DURATION"]
    assert lines[1].split()[:4] == ["ef" * 16, "n" * 37 + "...", "etl", "Running"]  # (cut to 40)
    assert lines[2].split()[:4] == ["cd" * 16, "-", "etl", "Running"]
    assert lines[3].split()[:4] == ["ab" * 16, "etl-2026-12-01", "etl", "Success"]
    assert lines[1].index(" etl ") == lines[2].index(" etl ") == lines[3].index(" etl ")  # (a column)


def test_runs_without_names_are_listed_as_before(store, database_url, monkeypatch, capsys):
    monkeypatch.setenv("FERROFLOW_DATABASE_URL", database_url)
    store.start_run("ab" * 16, "etl", {}, TASKS, 1.0)
    store.flush()
    assert cli.main(["runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["RUN", "ID", "FLOW", "STATE", "STARTED", "DURATION"]
    assert lines[1].split()[:3] == ["ab" * 16, "etl", "Running"]


def test_a_hostile_name_is_shown_escaped(store, database_url, monkeypatch, capsys):
    monkeypatch.setenv("FERROFLOW_DATABASE_URL", database_url)
    store.start_run("ab" * 16, "etl", {}, TASKS, 1.0, run_name=HOSTILE)
    store.flush()
    assert cli.main(["runs", "show", "abab"]) == 0
    assert cli.main(["runs"]) == 0
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\u202e" not in shown
    assert "Name        etl\\n\\x1b[2J\\u202e<b>yyy" in shown and "etl\\n\\x1b[2J\\u202e<b>yyy" in shown
