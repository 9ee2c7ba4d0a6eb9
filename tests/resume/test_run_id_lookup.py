"""One lookup of a run by id or prefix (RunStore.resolve_run), one set of errors: what
``ferroflow runs show``, ``ferroflow logs``, ``ferroflow run --resume`` and
``flow.run(resume=...)`` say for an unknown or ambiguous run id."""

import pytest

from ferroflow import Flow, task
from ferroflow.cli import main as cli_main
from ferroflow.engine.resume import ResumeError
from ferroflow.store import (
    HOME_ENV,
    RECORD_ENV,
    AmbiguousRunIdError,
    NullRunStore,
    SQLiteRunStore,
    UnknownRunError,
    default_store_path,
)

FLOW = "lookup"
IDS = ["ab10000000000000000000000000000a", "ab20000000000000000000000000000b", "cd30000000000000000000000000000c"]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(RECORD_ENV, raising=False)


@pytest.fixture
def recorded():
    """Three ended runs of the flow FLOW; two share the prefix ``ab``."""
    with SQLiteRunStore(default_store_path()) as store:
        for i, run_id in enumerate(IDS):
            store.start_run(run_id, FLOW, {}, [], 1_795_000_000.0 + i)
            store.end_run(run_id, "Failed", None, 1_795_000_001.0 + i)
    return default_store_path()


@pytest.fixture
def flow_file(tmp_path):
    path = tmp_path / "lookup_flow.py"
    path.write_text(f"from ferroflow import Flow, task\n@task\ndef one():\n    return 1\n"
                    f"with Flow({FLOW!r}) as flow:\n    one()\n")
    return path


def make_flow():
    with Flow(FLOW) as flow:
        task(lambda: 1, name="one")()
    return flow


def test_resolve_run_takes_an_id_or_a_unique_prefix(recorded):
    with SQLiteRunStore(recorded) as store:
        assert store.resolve_run(IDS[0]).run_id == IDS[0]
        assert store.resolve_run("cd").run_id == IDS[2]
        with pytest.raises(AmbiguousRunIdError) as info:
            store.resolve_run("ab")
        assert set(info.value.matches) == {IDS[0], IDS[1]} and info.value.prefix == "ab"
        assert str(info.value) == (f"run id prefix 'ab' is ambiguous: it matches {IDS[1]}, {IDS[0]}; give more "
                                   f"of it (see `ferroflow runs`)")
        for missing in ("zz", ""):
            with pytest.raises(UnknownRunError) as unknown:
                store.resolve_run(missing)
            assert str(unknown.value) == (f"no run with id {missing!r} in the run store {recorded} "
                                          f"(see `ferroflow runs`)")
    with pytest.raises(UnknownRunError, match=r"no run with id 'ab' in the run store \(recording off\)"):
        NullRunStore().resolve_run("ab")


def test_an_ambiguous_prefix_reads_the_same_everywhere(recorded, flow_file, capsys):
    with SQLiteRunStore(recorded) as store:
        with pytest.raises(AmbiguousRunIdError) as info:
            store.resolve_run("ab")
    expected = str(info.value)
    # flow.run(resume=...) keeps raising ResumeError, with the store's message
    with pytest.raises(ResumeError) as resumed:
        make_flow().run(resume="ab")
    assert str(resumed.value) == expected and isinstance(resumed.value.__cause__, AmbiguousRunIdError)
    for argv in (["runs", "show", "ab"], ["logs", "ab"], ["run", str(flow_file), "--no-progress", "--resume", "ab"]):
        assert cli_main(argv) == 2
        assert capsys.readouterr().err == f"ferroflow: error: {expected}\n", argv


def test_an_unknown_run_id_reads_the_same_everywhere(recorded, flow_file, capsys):
    expected = f"no run with id 'zz' in the run store {recorded} (see `ferroflow runs`)"
    with pytest.raises(UnknownRunError) as resumed:
        make_flow().run(resume="zz")
    assert str(resumed.value) == expected
    for argv in (["runs", "show", "zz"], ["logs", "zz"], ["run", str(flow_file), "--no-progress", "--resume", "zz"]):
        assert cli_main(argv) == 2
        assert capsys.readouterr().err == f"ferroflow: error: {expected}\n", argv
