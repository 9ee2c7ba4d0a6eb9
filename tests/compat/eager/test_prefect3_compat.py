"""Differential test: every scenario of ``scenarios.py`` must end on ferroflow's eager
flows exactly as it ended on Prefect 3.8 (recorded in ``prefect3_expected.json`` by
``record_prefect3.py``).

Compared, per scenario, the whole record: the final states' type, name, message and
normalized result of every flow call, what plain calls returned or raised (exception
class name and ``str``), and what the task and hook bodies observed (``obs``: body
run counts, hook calls in order, captured prints and logs).

The module is skipped while ``ferroflow.eager`` does not exist; the registry check is
in ``test_prefect3_recording.py`` and runs regardless.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import sys

import pytest

pytest.importorskip("ferroflow.eager", reason="ferroflow's eager flows (issue 14) are not "
                    "importable yet: nothing to compare with the Prefect 3 recording")

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE / "prefect3_expected.json"

# Deliberate differences between ferroflow and Prefect 3.8: scenario name -> reason.
# A listed scenario is a strict xfail: it must differ. Keep only documented decisions.
KNOWN_DIFFERENCES: dict[str, str] = {
    "outside/task_called_outside_flow":
        "Prefect 3 runs a task called outside any flow; ferroflow raises as it always "
        "has (issue 14: 'A task called outside any flow raises as today')",
}


def load_scenarios():
    name = "ferroflow_eager_scenarios"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / "scenarios.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


SC = load_scenarios()
EXPECTED = json.loads(FIXTURE.read_text())["scenarios"]


@pytest.fixture(scope="module")
def ff():
    """The ferroflow namespace (imports ferroflow's eager API on first use)."""
    return SC.ferroflow_namespace()


def differences(expected, got, where="") -> list[str]:
    """Every place where ``got`` differs from ``expected``, as ``where: Prefect X,
    ferroflow Y`` (walks dicts and lists so a long record shows its one difference)."""
    if isinstance(expected, dict) and isinstance(got, dict):
        out = []
        for key in sorted(set(expected) | set(got)):
            sub = f"{where}.{key}" if where else key
            if key not in got:
                out.append(f"{sub}: Prefect {expected[key]!r}, ferroflow has no such entry")
            elif key not in expected:
                out.append(f"{sub}: Prefect has no such entry, ferroflow {got[key]!r}")
            else:
                out.extend(differences(expected[key], got[key], sub))
        return out
    if isinstance(expected, list) and isinstance(got, list) and len(expected) == len(got):
        out = []
        for i, (e, g) in enumerate(zip(expected, got, strict=True)):
            out.extend(differences(e, g, f"{where}[{i}]"))
        return out
    return [] if expected == got else [f"{where or 'record'}: Prefect {expected!r}, ferroflow {got!r}"]


def scenario_params() -> list:
    params = []
    for name in sorted(set(SC.SCENARIOS) | set(EXPECTED)):
        marks = []
        if name in KNOWN_DIFFERENCES:
            marks.append(pytest.mark.xfail(reason=KNOWN_DIFFERENCES[name], strict=True))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", scenario_params())
def test_scenario_matches_prefect3(name, ff):
    assert name in EXPECTED, f"{name} not recorded; re-run record_prefect3.py"
    assert name in SC.SCENARIOS, f"{name} recorded but no longer registered"
    got = json.loads(json.dumps(SC.run_scenario(ff, name)))
    problems = differences(EXPECTED[name], got)
    assert not problems, f"{name} differs from Prefect 3.8:\n  " + "\n  ".join(problems)


def test_known_differences_are_scenarios():
    assert not set(KNOWN_DIFFERENCES) - set(SC.SCENARIOS)
