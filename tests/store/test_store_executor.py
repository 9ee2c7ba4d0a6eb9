"""Schema 10: a run's record keeps the executor it ran on (``runs.executor``), described
by :mod:`ferroflow.descriptions` with its options, secret-looking ones masked; ``ferroflow
run``'s summary, ``ferroflow runs show``, the API and the run page show it. On SQLite
and PostgreSQL; a start item without it (an older ferroflow's) is still taken."""

from __future__ import annotations

import textwrap

import pytest

from ferroflow import Flow, cli, plugins, redaction, task
from ferroflow.descriptions import (
    MAX_CHARS,
    describe_executor,
    describe_options,
    printable,
    secret_name,
    tag_description,
)
from ferroflow.errors import PluginError
from ferroflow.executors.local import LocalExecutor
from ferroflow.store import StateStoreError, items
from tests.support.databases import query

SECRET = "hunter2-sesame"
TOKEN = "a" * 32
TASKS = [(0, "t", "t-1", False)]


# ----- the description -------------------------------------------------------------


@pytest.mark.parametrize("name", ["token", "api_key", "DB_PASSWORD", "passwd", "authToken", "client_secret",
                                  "credentials", "aws_session_token", "private_key_file", "ssl_cert"])
def test_secret_looking_names(name):
    assert secret_name(name)


@pytest.mark.parametrize("name", ["address", "max_workers", "n_workers", "cluster_kwargs", "timeout", "label"])
def test_plain_names(name):
    assert not secret_name(name)


def test_options_are_shown_with_secrets_masked_at_any_depth():
    text = describe_options("ferroflow-dask:dask", {
        "address": f"tcp://user:{SECRET}@10.0.0.5:8786",
        "n_workers": 4,
        "api_token": SECRET,
        "client_kwargs": {"security": {"password": SECRET}, "name": "c", "hosts": [f"http://u:{SECRET}@h/"]},
        "cluster_class": LocalExecutor,
        "lock": object(),
    })
    assert SECRET not in text
    assert text == ("ferroflow-dask:dask(address='tcp://user:***@10.0.0.5:8786', n_workers=4, api_token=***, "
                    "client_kwargs={'security': {'password': ***}, 'name': 'c', 'hosts': ['http://u:***@h/']}, "
                    "cluster_class=ferroflow.executors.local.LocalExecutor, lock=<object>)")
    assert describe_options("local") == describe_options("local", {}) == "local"


def test_a_registered_secret_value_is_masked_wherever_it_is():
    redaction.register(SECRET)
    try:
        text = describe_options("x", {"label": f"it is {SECRET}", "nested": {"a": [SECRET]}})
    finally:
        redaction.clear()
    assert SECRET not in text and redaction.MASK in text


def test_hostile_text_is_one_bounded_line():
    text = describe_options("evil\nname\x1b[31m", {"label\u202e": "a\nb\r\x00\x1b[2J" + "x" * 500,
                                                   "n": 1, **{f"k{i}": i for i in range(100)}})
    assert text.isprintable() and "\n" not in text and "\x1b" not in text and "\u202e" not in text
    assert len(text) <= MAX_CHARS and text.endswith("...")
    assert text.startswith("evil\\nname\\x1b[31m(") and "'a\\nb\\r\\x00\\x1b[2J" in text
    assert printable("a\tb\u2028c", 100) == "a\\tb\\u2028c"


def test_an_executor_given_as_an_object_is_its_name_and_key_settings():
    from ferroflow.executors.processes import ProcessesExecutor

    class Remote(LocalExecutor):
        name = "remote"
        address = f"https://bot:{SECRET}@cluster.example:443/"

    class Nameless:
        max_workers = True  # (not a setting: a flag)

        def submit(self, unit): ...

        def wait(self): ...

    assert describe_executor(LocalExecutor()) == "local"
    assert describe_executor(ProcessesExecutor(max_workers=3)) == "processes(max_workers=3)"
    assert describe_executor(Remote()) == "remote(address='https://bot:***@cluster.example:443/')"
    assert describe_executor(Nameless()) == "Nameless"

    class Raising(LocalExecutor):
        @property
        def name(self):
            raise RuntimeError("no name")

    assert describe_executor(Raising()) == "Raising"


def test_an_executor_built_from_a_registered_name_is_its_name_and_options():
    made = plugins.get_executor("processes", max_workers=2)
    assert describe_executor(made) == "processes(max_workers=2)"
    assert describe_executor(plugins.get_executor("local")) == "local"  # (built in: its bare name)
    dask = pytest.importorskip("ferroflow_dask")
    built = plugins.get_executor("dask", address="tcp://127.0.0.1:8786")
    assert isinstance(built, dask.DaskExecutor)  # (made, never started: no cluster)
    assert describe_executor(built) == "ferroflow-dask:dask(address='tcp://127.0.0.1:8786')"


def test_an_object_that_refuses_attributes_is_described_by_its_class():
    class Slotted:
        __slots__ = ()
        name = "slotted"

    thing = Slotted()
    tag_description(thing, "registered", {"token": SECRET})
    assert describe_executor(thing) == "slotted"


def test_a_factory_that_fails_names_its_options_without_secrets():
    def broken(**options):
        raise RuntimeError("no")

    class Plugin:
        @plugins.hookimpl
        def register_executors(self, register):
            register("broken", broken)

    with plugins.registered_plugin(Plugin()), pytest.raises(PluginError) as info:
        plugins.get_executor("broken", workers=2, password=SECRET)
    assert SECRET not in str(info.value) and "{'workers': 2, 'password': ***}" in str(info.value)


# ----- the store -------------------------------------------------------------------


def test_the_store_keeps_the_executor(store):
    store.start_run("r1", "f", {}, TASKS, 1.0, executor="ferroflow-dask:dask(address='tcp://h:1')")
    store.start_run("r2", "f", {}, TASKS, 2.0)  # (not known)
    store.end_run("r1", "Success")
    assert store.get_run("r1").executor == "ferroflow-dask:dask(address='tcp://h:1')"
    assert [(r.run_id, r.executor) for r in store.list_runs()] == [
        ("r2", None), ("r1", "ferroflow-dask:dask(address='tcp://h:1')")]
    store.start_run("r1", "f", {}, TASKS, 1.0, executor="local")  # reopened: where it runs now
    assert store.get_run("r1").executor == "local"


def test_a_start_item_without_an_executor_is_still_taken(store, database_url):
    item = items.start("ab" * 16, "old client", {}, TASKS, 1.0, pid=1, token=TOKEN, executor="local")
    assert len(item) == 13
    store.ingest("b1", [item[:12]], {})  # what a ferroflow before schema 10 sends
    assert store.get_run("ab" * 16).executor is None
    store.ingest("b2", [item], {})
    assert query(database_url, "SELECT executor FROM runs") == [("local",)]


def test_what_a_client_sends_is_made_one_bounded_line_or_refused(store):
    hostile = items.start("cd" * 16, "f", {}, TASKS, 1.0, pid=1, token=TOKEN, executor="x\n\x1b[2J" + "y" * 5000)
    store.ingest("b1", [hostile], {})
    kept = store.get_run("cd" * 16).executor
    assert kept.startswith("x\\n\\x1b[2Jyyy") and len(kept) == MAX_CHARS and kept.isprintable()
    wrong = (*hostile[:12], {"not": "text"})
    with pytest.raises(StateStoreError, match="invalid record: .*executor is a description"):
        store.ingest("b2", [(wrong[0], "ef" * 16, *wrong[2:])], {})
    assert store.get_run("ef" * 16) is None


# ----- a run records it, and ferroflow run and runs show say it ----------------------


@task
def one():
    return 1


class Spy(LocalExecutor):
    """The local executor under another name, taking options (as a plugin's would)."""

    name = "spy"

    def __init__(self, **options):
        super().__init__()
        self.options = options


class SpyPlugin:
    @plugins.hookimpl
    def register_executors(self, register):
        register("spy", Spy)


def _stored(database_url, home, sql: str = "SELECT * FROM runs") -> list:
    from ferroflow.store import config

    for store in list(config._STORES.values()):
        store.flush()
    where = database_url if database_url.startswith("postgresql") else f"sqlite:///{home / 'runs.db'}"
    return query(where, sql)


def test_flow_run_records_its_executor(recording_home, database_url):
    with Flow("recorded") as flow:
        one()
    default = flow.run()
    given = flow.run(executor=Spy())
    with plugins.registered_plugin(SpyPlugin()):
        named = flow.run(executor="spy")
        built = flow.run(executor=plugins.get_executor("spy", max_workers=2, token=SECRET))
    assert (default.executor, given.executor, named.executor, built.executor) == (
        "local", "spy", "spy", "spy(max_workers=2, token=***)")
    recorded = dict(_stored(database_url, recording_home, "SELECT run_id, executor FROM runs"))
    assert recorded == {s.flow_run_id: s.executor for s in (default, given, named, built)}
    assert SECRET not in repr(_stored(database_url, recording_home))


FLOW_FILE = textwrap.dedent("""
    from ferroflow import Flow, task

    @task
    def one():
        return 1

    with Flow("cli executor") as flow:
        one()
""")


def test_ferroflow_run_and_runs_show_say_which_executor_ran(recording_home, database_url, tmp_path, capsys):
    path = tmp_path / "flow_file.py"
    path.write_text(FLOW_FILE)
    with plugins.registered_plugin(SpyPlugin()):
        code = cli.main(["run", str(path), "--no-progress", "--executor", "spy", "-o", "max_workers=3",
                         "-o", f"api_token={SECRET}", "-o", f"address=tcp://me:{SECRET}@10.1.2.3:8786"])
    out = capsys.readouterr().out
    assert code == 0, out
    shown = "spy(max_workers=3, api_token=***, address='tcp://me:***@10.1.2.3:8786')"
    summary = out.splitlines()
    assert summary[0] == "Flow 'cli executor': Success - All reference tasks succeeded."
    assert summary[2] == f"Executor: {shown}"
    run_id = next(line.split()[3] for line in summary if line.startswith("Flow run id: "))
    assert cli.main(["runs", "show", run_id]) == 0
    listed = capsys.readouterr().out
    assert listed.split("\n\n")[0].splitlines()[-1] == f"Executor    {shown}"
    assert SECRET not in out + listed and SECRET not in repr(_stored(database_url, recording_home))
    assert cli.main(["run", str(path), "--no-progress"]) == 0  # the default
    assert "\nExecutor: local\n" in capsys.readouterr().out


def test_runs_show_of_a_run_recorded_before_schema_10_has_no_executor_line(store, database_url, monkeypatch,
                                                                           capsys):
    monkeypatch.setenv("FERROFLOW_DATABASE_URL", database_url)
    store.start_run("ab" * 16, "old", {}, TASKS, 1.0)
    store.flush()
    assert cli.main(["runs", "show", "ab" * 16]) == 0
    assert "Executor" not in capsys.readouterr().out
