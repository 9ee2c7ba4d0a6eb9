"""ferroflow's home directory and its run store are readable by their owner only when
ferroflow creates them: they hold every run's parameters, logs and kept results."""

from __future__ import annotations

import os
import stat

from ferroflow import Flow, task
from ferroflow.results import LocalResult


@task
def one():
    return 1


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_recorded_run_makes_a_private_home_and_store(tmp_path, monkeypatch):
    home = tmp_path / "new" / "home"
    monkeypatch.setenv("FERROFLOW_HOME", str(home))
    old = os.umask(0o022)  # the usual umask: what is not asked for would be 0755 / 0644
    try:
        with Flow("private") as flow:
            one()
        assert flow.run().is_successful()
    finally:
        os.umask(old)
    assert _mode(home) == 0o700
    store = home / "runs.db"
    assert _mode(store) == 0o600
    for extra in ("runs.db-wal", "runs.db-shm"):
        if (home / extra).exists():
            assert _mode(home / extra) == 0o600, extra


def test_results_and_caches_in_the_home_make_it_private_too(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("FERROFLOW_HOME", str(home))
    LocalResult()
    assert _mode(home) == 0o700
    os.rmdir(home / "results")
    os.rmdir(home)

    import datetime

    @task(cache_for=datetime.timedelta(minutes=1))
    def cached():
        return 2

    with Flow("cached") as flow:
        cached()
    assert flow.run(record=False).is_successful()
    assert _mode(home) == 0o700


def test_an_existing_home_and_store_keep_their_modes(tmp_path, monkeypatch):
    home = tmp_path / "shared"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o750)
    monkeypatch.setenv("FERROFLOW_HOME", str(home))
    with Flow("kept") as flow:
        one()
    flow.run()
    os.chmod(home / "runs.db", 0o640)
    flow.run()
    assert _mode(home) == 0o750 and _mode(home / "runs.db") == 0o640
