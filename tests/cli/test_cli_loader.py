"""Loading ``FILE.py[:FLOW_NAME]``: spec parsing, import errors, choosing the flow."""

from __future__ import annotations

import sys

import pytest

from ferroflow import cli
from ferroflow.cli.loader import (
    FlowLoadError,
    find_flows,
    load_flow,
    load_module,
    parse_flow_spec,
    select_flow,
)


class FakeFlow:
    """Stands in for ferroflow.Flow in the tests of the selection logic."""

    def __init__(self, name):
        self.name = name


# -- spec parsing -----------------------------------------------------------------


def test_parse_flow_spec(tmp_path):
    assert parse_flow_spec("etl.py") == ("etl.py", None)
    assert parse_flow_spec("etl.py:main") == ("etl.py", "main")
    assert parse_flow_spec("dir/etl.py:my flow") == ("dir/etl.py", "my flow")
    assert parse_flow_spec("a:b/etl.py") == ("a:b/etl.py", None)  # ':' inside a path
    existing = tmp_path / "odd:name.py"
    existing.write_text("")
    assert parse_flow_spec(str(existing)) == (str(existing), None)


@pytest.mark.parametrize("spec", ["", "  "])
def test_empty_spec_is_refused(spec):
    with pytest.raises(FlowLoadError, match="No flow file given"):
        parse_flow_spec(spec)


def test_empty_flow_name_is_refused():
    with pytest.raises(FlowLoadError, match=r"Empty flow name in 'etl.py:'"):
        parse_flow_spec("etl.py:")


# -- loading the module ------------------------------------------------------------


def test_missing_file(tmp_path):
    path = str(tmp_path / "missing.py")
    with pytest.raises(FlowLoadError) as info:
        load_module(path)
    assert str(info.value) == f"Cannot load flows from {path!r}: no such file"
    assert info.value.path == path


def test_directory_is_refused(tmp_path):
    with pytest.raises(FlowLoadError, match="it is a directory"):
        load_module(str(tmp_path))


def test_syntax_error_names_the_file_and_line(flow_file):
    path = flow_file("x = 1\ndef broken(:\n    pass\n")
    with pytest.raises(FlowLoadError) as info:
        load_module(str(path))
    assert str(info.value).startswith(f"Cannot load flows from {str(path)!r}: SyntaxError at line 2: ")
    assert isinstance(info.value.__cause__, SyntaxError)


def test_error_while_importing_names_the_file(flow_file):
    path = flow_file("import ferroflow_no_such_module_anywhere\n")
    with pytest.raises(FlowLoadError) as info:
        load_module(str(path))
    assert str(info.value) == (f"Error while importing {str(path)!r}: ModuleNotFoundError: "
                               "No module named 'ferroflow_no_such_module_anywhere'")
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_sys_exit_while_importing_is_a_load_error(flow_file):
    path = flow_file("import sys\nsys.exit(3)\n")
    with pytest.raises(FlowLoadError, match=r"Error while importing .*: SystemExit: 3"):
        load_module(str(path))


def test_module_is_not_main_and_its_directory_is_importable(flow_file):
    flow_file("VALUE = 42\n", name="ferroflow_neighbour.py")
    path = flow_file(
        """
        import ferroflow_neighbour
        seen_name = __name__
        if __name__ == "__main__":
            raise RuntimeError("the __main__ guard fired")
        value = ferroflow_neighbour.VALUE
        """,
        name="guarded_flow.py",
    )
    module = load_module(str(path))
    assert module.seen_name == "guarded_flow" != "__main__"
    assert module.value == 42
    assert sys.modules["guarded_flow"] is module  # importable by reference in workers
    assert str(path.parent) == sys.path[0]


def test_a_taken_module_name_gets_a_private_one(flow_file):
    path = flow_file("x = 1\n", name="json.py")
    module = load_module(str(path))
    assert module.__name__.startswith("__ferroflow_flow_")
    assert sys.modules["json"] is not module


def test_failed_import_leaves_no_module_behind(flow_file):
    path = flow_file("raise ValueError('nope')\n", name="failing_flow.py")
    with pytest.raises(FlowLoadError):
        load_module(str(path))
    assert "failing_flow" not in sys.modules


# -- choosing the flow (selection logic, with a stand-in Flow class) ------------------


def test_find_flows_in_definition_order_once_each():
    a, b = FakeFlow("a"), FakeFlow("b")
    namespace = {"first": a, "x": 1, "second": b, "alias": a}
    assert find_flows(namespace, FakeFlow) == [("first", a), ("second", b)]


def test_select_the_only_flow():
    a = FakeFlow("a")
    assert select_flow([("flow", a)], None, "etl.py") is a


def test_select_no_flow():
    with pytest.raises(FlowLoadError, match=r"^No flow found in 'etl.py': assign a Flow"):
        select_flow([], None, "etl.py")


def test_select_among_several_needs_a_name():
    flows = [("daily", FakeFlow("daily-etl")), ("hourly", FakeFlow("hourly"))]
    with pytest.raises(FlowLoadError) as info:
        select_flow(flows, None, "etl.py")
    assert str(info.value) == ("'etl.py' defines 2 flows: daily (name 'daily-etl'), hourly; "
                               "choose one with etl.py:FLOW_NAME")


def test_select_by_variable_or_flow_name():
    daily, hourly = FakeFlow("daily-etl"), FakeFlow("hourly")
    flows = [("daily", daily), ("hourly_flow", hourly)]
    assert select_flow(flows, "daily", "etl.py") is daily
    assert select_flow(flows, "daily-etl", "etl.py") is daily
    assert select_flow(flows, "hourly", "etl.py") is hourly
    # a variable name wins over another flow's name
    other = FakeFlow("daily")
    assert select_flow([("x", other), ("daily", daily)], "daily", "etl.py") is daily


def test_select_unknown_name_lists_the_flows():
    flows = [("daily", FakeFlow("daily-etl")), ("hourly", FakeFlow("hourly"))]
    with pytest.raises(FlowLoadError) as info:
        select_flow(flows, "weekly", "etl.py")
    assert str(info.value) == ("No flow named 'weekly' in 'etl.py'; flows found: "
                               "daily (name 'daily-etl'), hourly")


def test_select_ambiguous_flow_name():
    flows = [("a", FakeFlow("same")), ("b", FakeFlow("same"))]
    with pytest.raises(FlowLoadError, match="defines 2 flows named 'same'"):
        select_flow(flows, "same", "etl.py")


# -- through the command line --------------------------------------------------------


def test_cli_missing_file_exits_2_naming_it(capsys, tmp_path):
    path = str(tmp_path / "nope.py")
    assert cli.main(["run", path]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"ferroflow: error: Cannot load flows from {path!r}: no such file\n"
    assert captured.out == ""


def test_cli_syntax_error_exits_2_without_traceback(capsys, flow_file):
    path = flow_file("def broken(:\n")
    assert cli.main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ferroflow: error: Cannot load flows from {str(path)!r}: SyntaxError at line 1")
    assert err.count("\n") == 1
    assert "Traceback" not in err


def test_cli_traceback_flag_shows_the_traceback(capsys, flow_file):
    path = flow_file("raise ValueError('boom at import')\n")
    assert cli.main(["run", str(path), "--traceback"]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "ValueError: boom at import" in err
    assert err.rstrip().splitlines()[-1] == (
        f"ferroflow: error: Error while importing {str(path)!r}: ValueError: boom at import")


def test_cli_syntax_error_in_a_subprocess(run_ferroflow, flow_file):
    path = flow_file("with with\n", name="bad_syntax.py")
    proc = run_ferroflow("run", str(path))
    assert proc.returncode == 2
    assert "bad_syntax.py" in proc.stderr and "SyntaxError" in proc.stderr
    assert "Traceback" not in proc.stderr


# -- with the real Flow class -----------------------------------------------------------

TWO_FLOWS = """
from ferroflow import Flow, task

@task
def one():
    return 1

with Flow("daily-etl") as daily:
    one()

with Flow("hourly") as hourly_flow:
    one()

if __name__ == "__main__":
    raise RuntimeError("the __main__ guard fired")
"""


@pytest.mark.usefixtures("engine")
def test_real_flows_are_found_and_chosen(flow_file):
    path = flow_file(TWO_FLOWS)
    with pytest.raises(FlowLoadError, match=r"defines 2 flows: daily \(name 'daily-etl'\), "
                                            r"hourly_flow \(name 'hourly'\); choose one with"):
        load_flow(str(path))
    assert load_flow(f"{path}:daily").name == "daily-etl"
    assert load_flow(f"{path}:hourly").name == "hourly"
    assert load_flow(f"{path}:hourly_flow").name == "hourly"


@pytest.mark.usefixtures("engine")
def test_real_file_without_flows(capsys, flow_file):
    path = flow_file("from ferroflow import Flow, task\n\n@task\ndef one():\n    return 1\n")
    assert cli.main(["run", str(path)]) == 2
    assert capsys.readouterr().err.startswith(
        f"ferroflow: error: No flow found in {str(path)!r}")


@pytest.mark.usefixtures("engine")
def test_cli_two_flows_without_a_name_exits_2(capsys, flow_file):
    path = flow_file(TWO_FLOWS)
    assert cli.main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{str(path)!r} defines 2 flows: daily (name 'daily-etl'), hourly_flow (name 'hourly')" in err
