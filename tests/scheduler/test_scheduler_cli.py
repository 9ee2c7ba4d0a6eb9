"""``ferroflow scheduler`` and the scheduler options of ``ferroflow server start``:
usage errors (exit 2) and a database that cannot be used (exit 1, its password never
shown)."""

from __future__ import annotations

import pytest

from ferroflow.cli import main


@pytest.mark.parametrize("args", [["--interval", "0"], ["--horizon", "-5"], ["--late-after", "soon"],
                                  ["--interval", "nan"]])
def test_bad_options_are_usage_errors(args, capsys):
    assert main(["scheduler", *args]) == 2
    assert "error" in capsys.readouterr().err


def test_server_start_refuses_a_bad_horizon(capsys):
    assert main(["server", "start", "--schedule-horizon", "-1"]) == 2
    assert "--schedule-horizon" in capsys.readouterr().err


def test_a_database_that_cannot_be_used_exits_1_without_its_password(capsys):
    assert main(["scheduler", "--database", "postgresql://someone:hunter2@127.0.0.1:1/nothing"]) == 1
    err = capsys.readouterr().err
    assert "cannot use the database" in err and "hunter2" not in err
