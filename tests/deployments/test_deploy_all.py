"""``ferroflow deploy --all``: a project's ``ferroflow.toml`` deployed on both databases
and through a real server process, deployed again (updates, no duplicates), and
invalid files refused whole, naming the file, the entry and the problem; and the
recipe flags of ``ferroflow deploy`` (executor, options, retries, concurrency limit)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from ferroflow.cli import main
from ferroflow.store import deployments as store
from ferroflow.store.database import make_engine
from ferroflow.store.migrations import migrate
from tests.support.servers import Server, child_env

FLOW = textwrap.dedent("""
    from ferroflow import Flow, Parameter, task

    @task
    def load(n, region):
        return f"{n} rows from {region}"

    with Flow("etl") as flow:
        load(Parameter("n", default=1), Parameter("region", default="eu"))
""")

PROJECT = textwrap.dedent("""
    # The project's deployments.
    [[deployments]]
    name = "nightly"
    entrypoint = "flows/etl.py:flow"
    parameters = { n = 1000, region = "us" }
    cron = "0 3 * * *"
    pool = "big"
    tags = ["etl", "nightly"]
    retries = 2
    description = "the nightly load"

    [[deployments]]
    name = "hourly"
    entrypoint = "pkg.jobs:flow"
    interval = 3600
    executor = "local"
    executor_options = { max_workers = 4 }
    concurrency_limit = 1
    catchup = "all"

    [[deployments]]
    name = "weekdays"
    entrypoint = "flows/etl.py:flow"

    [deployments.schedule]
    clocks = [{ kind = "cron", cron = "0 9 * * *", parameter_defaults = { region = "asia" } }]
    filters = [{ name = "is_weekday", args = [] }]
""")


@pytest.fixture
def project(tmp_path, monkeypatch):
    root = tmp_path / "project"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / "etl.py").write_text(FLOW)
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "jobs.py").write_text(FLOW)
    (root / "ferroflow.toml").write_text(PROJECT)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # entrypoints are found relative to the file, not the working directory
    monkeypatch.delenv("FERROFLOW_API_URL", raising=False)
    return root


def stored(database_url):
    engine = make_engine(database_url)
    try:
        migrate(engine)
        return {d.name: d for d in store.list_deployments(engine)}
    finally:
        engine.dispose()


def check_stored(found):
    assert sorted(found) == ["hourly", "nightly", "weekdays"]
    nightly, hourly, weekdays = found["nightly"], found["hourly"], found["weekdays"]
    assert (nightly.entrypoint, nightly.flow_name, nightly.parameters, nightly.pool, nightly.tags, nightly.retries,
            nightly.description, nightly.catchup) == ("flows/etl.py:flow", "etl", {"n": 1000, "region": "us"}, "big",
                                                      ["etl", "nightly"], 2, "the nightly load", "latest")
    assert nightly.schedule["clocks"][0]["cron"] == "0 3 * * *"
    assert (hourly.entrypoint, hourly.executor, hourly.executor_options, hourly.concurrency_limit, hourly.catchup,
            hourly.pool) == ("pkg.jobs:flow", "local", {"max_workers": 4}, 1, "all", "default")
    assert hourly.schedule["clocks"][0]["interval"] == 3600
    assert weekdays.schedule["clocks"][0]["parameter_defaults"] == {"region": "asia"}
    assert weekdays.schedule["filters"] == [{"name": "is_weekday", "args": []}]
    from ferroflow.schedules.spec import from_spec

    from_spec(weekdays.schedule)  # a whole, valid spec


def test_deploy_all_on_a_database_then_again_updates(project, database_url, capsys):
    toml = str(project / "ferroflow.toml")
    code = main(["deploy", "--all", "--file", toml, "--database", database_url])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.splitlines() == [
        "Deployment nightly created: flow 'etl' from flows/etl.py:flow, pool big, schedule: cron '0 3 * * *'.",
        "Deployment hourly created: flow 'etl' from pkg.jobs:flow, pool default, schedule: every 3600 s.",
        "Deployment weekdays created: flow 'etl' from flows/etl.py:flow, pool default, schedule: cron '0 9 * * *'.",
        f"3 deployments from {toml}: 3 created, 0 updated."]
    first = stored(database_url)
    check_stored(first)

    (project / "ferroflow.toml").write_text(PROJECT.replace("n = 1000", "n = 2000"))
    code = main(["deploy", "--all", "--file", toml, "--database", database_url])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert [line.split()[2] for line in out.splitlines()[:3]] == ["updated:"] * 3
    assert out.splitlines()[3] == f"3 deployments from {toml}: 0 created, 3 updated."
    again = stored(database_url)
    assert {name: d.id for name, d in again.items()} == {name: d.id for name, d in first.items()}
    assert again["nightly"].parameters == {"n": 2000, "region": "us"}


def test_deploy_all_through_a_server_from_the_project_directory(project, database_url, tmp_path):
    server = Server(database_url, tmp_path / "server.log").start()
    try:
        def deploy_all():
            return subprocess.run([sys.executable, "-m", "ferroflow", "deploy", "--all"], cwd=project,
                                  capture_output=True, text=True, timeout=120,
                                  env=child_env({"FERROFLOW_API_URL": server.url}))

        made = deploy_all()
        assert made.returncode == 0, made.stderr
        assert made.stdout.splitlines()[-1] == "3 deployments from ferroflow.toml: 3 created, 0 updated."
        again = deploy_all()
        assert again.returncode == 0, again.stderr
        assert again.stdout.splitlines()[-1] == "3 deployments from ferroflow.toml: 0 created, 3 updated."
        check_stored(stored(database_url))
    finally:
        server.kill()


GOOD = '[[deployments]]\nname = "good"\nentrypoint = "flows/etl.py:flow"\n\n'


@pytest.mark.parametrize(("text", "problems"), [
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py:flow"\ncrn = "0 3 * * *"\n',
     ["deployment 'x': unknown key 'crn' (an entry takes: name, entrypoint, parameters, cron, interval, "]),
    (GOOD + '[[deployments]]\nname = "x"\n', ["deployment 'x': entrypoint is required"]),
    (GOOD + '[[deployments]]\nentrypoint = "flows/etl.py:flow"\n', ["deployment #2: name is required"]),
    (GOOD + GOOD, ["deployment 'good': declared more than once"]),
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py:flow"\ncron = "0 3 * * *"\ninterval = 60\n',
     ["deployment 'x': give one schedule: cron or interval, not several"]),
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py:flow"\ncron = "99 * * * *"\n',
     ["deployment 'x': cron: invalid cron string '99 * * * *'"]),
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py:flow"\ninterval = 0\n',
     ["deployment 'x': interval must be a number of seconds above 0, got 0"]),
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py:flow"\nschedule = { clocks = [{ kind = "x" }] }\n',
     ["deployment 'x': schedule: "]),
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py:flow"\nparameters = { m = 1 }\n',
     ["deployment 'x': flow 'etl' has no parameter 'm' (its parameters: n, region)"]),
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/missing.py:flow"\n', ["deployment 'x': ", "missing.py"]),
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py:nope"\n',
     ["deployment 'x': No flow named 'nope'"]),
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py"\n',
     ["deployment 'x': entrypoint 'flows/etl.py': expected path/to/file.py:flow_name"]),
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py:flow"\nretries = "2"\n',
     ["deployment 'x': retries must be a whole number, got a string"]),
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py:flow"\nretries = -1\n',
     ["deployment 'x': retries must be a whole number of at least 0, got -1"]),
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py:flow"\ncatchup = "some"\n',
     ["deployment 'x': catchup must be one of latest, all, got 'some'"]),
    (GOOD + '[[deployments]]\nname = "a/b"\nentrypoint = "flows/etl.py:flow"\n',
     ["deployment 'a/b': a deployment's name is 1 to 200 printable characters without '/'"]),
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py:flow"\ntags = ["a", 1]\n',
     ["deployment 'x': tags must be an array of strings"]),
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py:flow"\nparameters = { when = 2024-01-01 }\n',
     ["deployment 'x': parameters must hold JSON values only"]),
    (GOOD + '[[deployment]]\nname = "x"\n', ["unknown key 'deployment' (the file holds [[deployments]] entries)"]),
    (GOOD + 'name = [\n', ["not valid TOML: "]),
    ("", ["no deployments (declare each in a [[deployments]] entry)"]),
    # Every problem is listed, not only the first.
    (GOOD + '[[deployments]]\nname = "x"\nentrypoint = "flows/etl.py:flow"\nbogus = 1\n'
            '[[deployments]]\nname = "y"\nentrypoint = "flows/etl.py:flow"\nparameters = { m = 1 }\n',
     ["deployment 'x': unknown key 'bogus'", "deployment 'y': flow 'etl' has no parameter 'm'"]),
])
def test_an_invalid_file_is_refused_whole(project, database_url, capsys, text, problems):
    toml = project / "ferroflow.toml"
    toml.write_text(text)
    code = main(["deploy", "--all", "--file", str(toml), "--database", database_url])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    for problem in problems:
        assert f"ferroflow: error: {toml}: " in err and problem in err, err
    assert err.splitlines()[-1].startswith("ferroflow: nothing deployed (")
    assert stored(database_url) == {}  # not even the good entry


def test_deploy_all_refuses_other_options_and_a_missing_file(project, capsys):
    assert main(["deploy", "--all", "--name", "x", "--pool", "p"]) == 2
    assert "--all deploys what the project file declares: --name, --pool belong in its entries" in \
        capsys.readouterr().err
    assert main(["deploy", "--all"]) == 2  # no ferroflow.toml in the working directory
    assert "ferroflow.toml: no such file" in capsys.readouterr().err
    assert main(["deploy", "flows/etl.py:flow", "--name", "x", "--file", "f.toml"]) == 2
    assert "--file needs --all" in capsys.readouterr().err
    assert main(["deploy", "--name", "x"]) == 2
    assert "give FILE.py:FLOW and --name NAME (or --all" in capsys.readouterr().err


def test_deploy_flags_of_the_recipe(project, database_url, capsys, monkeypatch):
    monkeypatch.chdir(project)
    db = ("--database", database_url)
    code = main(["deploy", "flows/etl.py:flow", "--name", "d", "--executor", "local", "--executor-option",
                 "max_workers=3", "-o", 'mode="fast"', "--retries", "2", "--concurrency-limit", "4", "--catchup", "all",
                 *db])
    assert code == 0, capsys.readouterr().err
    found = stored(database_url)["d"]
    assert (found.executor, found.executor_options, found.retries, found.concurrency_limit, found.catchup) == (
        "local", {"max_workers": 3, "mode": "fast"}, 2, 4, "all")
    capsys.readouterr()
    assert main(["deployments", "show", "d", *db]) == 0
    out = capsys.readouterr().out
    assert '  executor:    local {"max_workers": 3, "mode": "fast"}' in out and "  concurrency: 4" in out
    for argv, message in ((("--executor-option", "a=1"), "--executor-option needs --executor NAME"),
                          (("--retries", "-1"), "expected a whole number of at least 0, got '-1'"),
                          (("--concurrency-limit", "0"), "expected a whole number of at least 1, got '0'")):
        assert main(["deploy", "flows/etl.py:flow", "--name", "e", *argv, *db]) == 2
        assert message in capsys.readouterr().err
    assert sorted(stored(database_url)) == ["d"]
