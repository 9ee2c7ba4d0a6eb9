"""Resume hands tasks the value of a parameter, not its text (issue 8, fault 3).

Parameters are recorded twice: a readable JSON form (what `ferroflow runs show`
displays) and, per parameter, the value pickled with cloudpickle (what resume uses).
A parameter that cannot be restored makes resume refuse, naming it, instead of running
with a changed value; one bad parameter never degrades the others.
"""

import datetime
import decimal
import json
import threading

import pytest

from ferroflow import Flow, Parameter, task
from ferroflow.engine.resume import ResumeError
from ferroflow.store import HOME_ENV, RECORD_ENV, get_run_store

DAY = datetime.date(2026, 1, 2)
WHEN = datetime.datetime(2026, 1, 2, 3, 4, 5, 600_000, tzinfo=datetime.timezone.utc)
AMOUNT = decimal.Decimal("1.10")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv(HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(RECORD_ENV, raising=False)
    return tmp_path / "home"


def self_referencing() -> list:
    loop = [1, 2]
    loop.append(loop)
    return loop


#: Set while the test wants unpickling a Fragile to fail (as if its class changed).
BROKEN_ON_LOAD = {"now": False}


def _rebuild_fragile(label):
    if BROKEN_ON_LOAD["now"]:
        raise RuntimeError(f"cannot rebuild {label}")
    return Fragile(label)


class Fragile:
    """Pickles fine; unpickling fails while BROKEN_ON_LOAD says so."""

    def __init__(self, label):
        self.label = label

    def __eq__(self, other):
        return isinstance(other, Fragile) and other.label == self.label

    def __repr__(self):
        return f"Fragile({self.label!r})"

    def __reduce__(self):
        return (_rebuild_fragile, (self.label,))


def build(names, seen, broken):
    """A flow whose `look` task records what it was given; it fails while `broken`."""

    @task
    def look(**values):
        seen.append(values)
        if broken:
            raise RuntimeError("flaky")
        return len(values)

    with Flow("params") as flow:
        look(**{name: Parameter(name) for name in names})
    return flow


def test_resume_gives_tasks_the_recorded_values_and_types():
    values = {"day": DAY, "when": WHEN, "amount": AMOUNT, "table": {(1, 2): "pair", (3, 4): "other"},
              "loop": self_referencing(), "n": 3}
    seen, broken = [], [True]
    flow = build(values, seen, broken)
    first = flow.run(**values)
    assert first.is_failed()
    seen.clear()
    broken.clear()
    second = flow.run(resume=first.flow_run_id)
    assert second.is_successful()
    (got,) = seen
    assert type(got["day"]) is datetime.date and got["day"] == DAY
    assert type(got["when"]) is datetime.datetime and got["when"] == WHEN and got["when"].tzinfo is not None
    assert type(got["amount"]) is decimal.Decimal and str(got["amount"]) == "1.10"
    assert got["table"] == {(1, 2): "pair", (3, 4): "other"}
    loop = got["loop"]
    assert loop[:2] == [1, 2] and loop[2] is loop  # the cycle itself, not its repr
    assert type(got["n"]) is int and got["n"] == 3


def test_the_readable_form_keeps_json_values_and_shows_the_others_by_repr():
    values = {"day": DAY, "table": {(1, 2): "pair"}, "loop": self_referencing(), "n": 3, "names": ["a", "b"]}
    flow = build(values, [], [])
    run_id = flow.run(**values).flow_run_id
    shown = get_run_store(True).get_run(run_id).parameters
    # One parameter JSON cannot hold does not turn the others into strings.
    assert shown["n"] == 3 and shown["names"] == ["a", "b"]
    assert shown["day"] == "datetime.date(2026, 1, 2)"
    assert shown["table"] == "{(1, 2): 'pair'}"
    assert shown["loop"] == "[1, 2, [...]]"


def test_ferroflow_runs_show_displays_the_parameters_readably(tmp_path, capsys):
    from ferroflow.cli import main as cli_main

    values = {"day": DAY, "amount": AMOUNT, "table": {(1, 2): "pair"}, "n": 3}
    run_id = build(values, [], []).run(**values).flow_run_id
    assert cli_main(["runs", "show", run_id]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("Parameters")]
    shown = json.loads(line.split(None, 1)[1])
    assert shown == {"day": "datetime.date(2026, 1, 2)", "amount": "Decimal('1.10')", "table": "{(1, 2): 'pair'}",
                     "n": 3}


def test_an_unpicklable_parameter_makes_resume_refuse_naming_it():
    values = {"lock": threading.Lock(), "n": 3}
    seen, broken = [], [True]
    flow = build(values, seen, broken)
    first = flow.run(**values)
    assert first.is_failed()
    seen.clear()
    broken.clear()
    with pytest.raises(ResumeError) as info:
        flow.run(resume=first.flow_run_id)
    message = str(info.value)
    assert f"run {first.flow_run_id}" in message and "parameter 'lock'" in message
    assert "cannot pickle" in message  # why it was not recorded
    assert "'n'" not in message  # the others were fine
    assert seen == []  # nothing ran with a changed value
    # Giving the parameter again is the way on: the rest comes from the record.
    lock = threading.Lock()
    assert flow.run(resume=first.flow_run_id, lock=lock).is_successful()
    assert seen == [{"lock": lock, "n": 3}]


def test_a_parameter_that_cannot_be_unpickled_on_resume_is_refused(monkeypatch):
    values = {"thing": Fragile("x"), "day": DAY}
    seen, broken = [], [True]
    flow = build(values, seen, broken)
    first = flow.run(**values)
    seen.clear()
    broken.clear()
    monkeypatch.setitem(BROKEN_ON_LOAD, "now", True)
    with pytest.raises(ResumeError, match=r"parameter 'thing' .*RuntimeError: cannot rebuild x") as info:
        flow.run(resume=first.flow_run_id)
    assert "'day'" not in str(info.value)
    assert seen == []
    monkeypatch.setitem(BROKEN_ON_LOAD, "now", False)
    assert flow.run(resume=first.flow_run_id).is_successful()
    assert seen == [{"thing": Fragile("x"), "day": DAY}]
