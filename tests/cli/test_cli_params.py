"""``--param KEY=VALUE`` parsing."""

from __future__ import annotations

import pytest

from ferroflow import cli
from ferroflow.cli import UsageError, parse_key_values


@pytest.mark.parametrize(
    "item, expected",
    [
        ("n=1000", 1000),
        ("ratio=0.5", 0.5),
        ('x="a"', "a"),
        ("name=etl", "etl"),
        ("flag=true", True),
        ("flag=false", False),
        ("nothing=null", None),
        ("xs=[1, 2, 3]", [1, 2, 3]),
        ('cfg={"a": 1}', {"a": 1}),
        ("empty=", ""),
        ("expr=a=b", "a=b"),  # split at the first '='
        ("v=NaN", "NaN"),  # not a float nan
        ("v=Infinity", "Infinity"),
        ("date=2024-01-01", "2024-01-01"),
        ("padded= 7 ", 7),
        ("path=/tmp/x y", "/tmp/x y"),
    ],
)
def test_values_are_json_when_valid_json(item, expected):
    key = item.split("=", 1)[0].strip()
    assert parse_key_values([item]) == {key: expected}


def test_several_params():
    assert parse_key_values(["a=1", "b=two"]) == {"a": 1, "b": "two"}
    assert parse_key_values([]) == {} and parse_key_values(None) == {}


def test_missing_equals_names_the_argument():
    with pytest.raises(UsageError, match=r"^--param 'n1000': expected KEY=VALUE$"):
        parse_key_values(["n1000"])


def test_empty_key_names_the_argument():
    with pytest.raises(UsageError, match=r"--param '=3': the key before '=' is empty"):
        parse_key_values(["=3"])


def test_repeated_key_is_refused():
    with pytest.raises(UsageError, match=r"--param 'n=2': 'n' is given more than once"):
        parse_key_values(["n=1", "n=2"])


def test_option_name_appears_in_errors():
    with pytest.raises(UsageError, match=r"^--executor-option 'x': expected KEY=VALUE$"):
        parse_key_values(["x"], "--executor-option")


def test_bad_param_on_the_command_line_exits_2(capsys, flow_file):
    path = flow_file("x = 1\n")
    assert cli.main(["run", str(path), "--param", "novalue"]) == 2
    err = capsys.readouterr().err
    assert err == "ferroflow: error: --param 'novalue': expected KEY=VALUE\n"


def test_executor_options_need_an_executor(capsys, flow_file):
    path = flow_file("x = 1\n")
    assert cli.main(["run", str(path), "-o", "workers=2"]) == 2
    assert "--executor-option needs --executor NAME" in capsys.readouterr().err
