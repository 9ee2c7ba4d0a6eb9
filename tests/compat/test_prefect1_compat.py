"""Differential test: every scenario of ``scenarios.py`` must end on ferroflow exactly as
it ended on Prefect Core 1.4.1 (recorded in ``prefect1_expected.json`` by
``record_prefect1.py``).

Compared, per scenario:

* the flow's state class, and its message (or, when ``flow.run`` raised, that ferroflow
  raises an exception of the same class name or a subclass of a class of that name);
* per labelled task and per mapped child: the state class and the normalized result;
* messages of engine-generated states (triggers, skip propagation, mapping checks) and of
  user-raised signals. Bookkeeping messages ("Task run succeeded.", "Ready to proceed with
  mapping.") and the ``flow_state.result`` inventory are compared only with
  ``FERROFLOW_COMPAT_STRICT=1``. Failures from user exceptions are compared through the
  exception's type name and ``str`` (the result), not through the message.

``ferroflow`` is imported by a fixture, so collecting this module (or any other test
module) never imports it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE / "prefect1_expected.json"
STRICT = os.environ.get("FERROFLOW_COMPAT_STRICT") == "1"

# Deliberate differences between ferroflow and Prefect 1.4.1: scenario name -> reason.
# A listed scenario is expected to fail (xfail, strict: it must fail). Keep this empty
# unless the difference is a documented design decision.
KNOWN_DIFFERENCES: dict[str, str] = {}


def load_module(name: str, path: pathlib.Path):
    """Import a file of this directory once, under ``name`` (the directory is not a
    package)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


SC = load_module("ferroflow_compat_scenarios", HERE / "scenarios.py")
EXPECTED = json.loads(FIXTURE.read_text())["scenarios"]


def scenario_params(sc, expected: dict, known: dict) -> list:
    """One pytest param per scenario registered or recorded; a known difference is a
    strict xfail, and a scenario tagged ``warns`` may warn."""
    params = []
    for name in sorted(set(sc.SCENARIOS) | set(expected)):
        marks = []
        if name in known:
            marks.append(pytest.mark.xfail(reason=known[name], strict=True))
        if "warns" in sc.SCENARIO_TAGS.get(name, ()):
            marks.append(pytest.mark.filterwarnings("ignore"))
        params.append(pytest.param(name, marks=marks, id=name))
    return params


@pytest.fixture(scope="module")
def ff():
    """The ferroflow namespace (imports ferroflow on first use only)."""
    return SC.ferroflow_namespace()


def check_registry(sc, expected: dict, fixture: str, recorder: str) -> None:
    """Every registered scenario of ``sc`` has a recording in ``expected`` and vice
    versa; else say which, and the recorder to run (with Prefect 1.4.1)."""
    missing = sorted(set(sc.SCENARIOS) - set(expected))
    stale = sorted(set(expected) - set(sc.SCENARIOS))
    assert not missing and not stale, (
        f"{fixture} is out of date: not recorded {missing}, no longer registered {stale}; "
        f"run tests/compat/{recorder} with Prefect 1.4.1 (see tests/compat/README.md)"
    )


def test_fixture_matches_registry():
    """Every registered scenario has a recording and vice versa (re-run the recorder)."""
    check_registry(SC, EXPECTED, "prefect1_expected.json", "record_prefect1.py")


def _compare_state(where, exp, got, problems):
    if exp["state"] is None:  # the task is not part of the flow on Prefect
        if got["state"] is not None:
            problems.append(f"{where}: Prefect did not have this task in flow_state.result, "
                            f"ferroflow reports {got['state']}")
        return
    if got["state"] != exp["state"]:
        problems.append(f"{where}: state {got['state']!r} != expected {exp['state']!r} "
                        f"(expected message {exp['message']!r}, got {got['message']!r})")
    if got["result"] != exp["result"]:
        problems.append(f"{where}: result {got['result']!r} != expected {exp['result']!r}")
    kind = exp["message_kind"]
    if kind in ("engine", "signal") or (STRICT and kind == "generic"):
        if got["message"] != exp["message"]:
            problems.append(f"{where}: message {got['message']!r} != expected "
                            f"{exp['message']!r} ({kind} message)")
    exp_children = exp.get("children")
    got_children = got.get("children")
    if exp_children is not None or got_children is not None:
        if exp_children is None or got_children is None:
            problems.append(f"{where}: children {got_children!r} != expected {exp_children!r}")
            return
        if len(got_children) != len(exp_children):
            problems.append(f"{where}: {len(got_children)} mapped children != expected "
                            f"{len(exp_children)}")
        for i, (e, g) in enumerate(zip(exp_children, got_children, strict=False)):
            _compare_state(f"{where}[{i}]", e, g, problems)


def compare(expected, got):
    """List of human-readable differences between two scenario records."""
    problems = []
    exp_flow, got_flow = expected["flow"], got["flow"]
    if "raises" in exp_flow:
        want = exp_flow["raises"]["type"]
        if "raises" not in got_flow:
            problems.append(f"flow.run should raise {want} "
                            f"({exp_flow['raises']['message']!r}), got state "
                            f"{got_flow.get('state')!r}")
        elif want not in got_flow["raises"]["mro"]:
            problems.append(f"flow.run raised {got_flow['raises']['type']} "
                            f"(mro {got_flow['raises']['mro']}), expected a {want}")
        return problems
    if "raises" in got_flow:
        problems.append(f"flow.run raised {got_flow['raises']['type']}: "
                        f"{got_flow['raises']['message']}")
        return problems
    if got_flow["state"] != exp_flow["state"]:
        problems.append(f"flow: state {got_flow['state']!r} != expected {exp_flow['state']!r}")
    if got_flow["message"] != exp_flow["message"]:
        problems.append(f"flow: message {got_flow['message']!r} != expected "
                        f"{exp_flow['message']!r}")
    if STRICT and got_flow.get("result_inventory") != exp_flow.get("result_inventory"):
        problems.append(f"flow: flow_state.result inventory {got_flow.get('result_inventory')}"
                        f" != expected {exp_flow.get('result_inventory')}")
    for label, exp in expected["tasks"].items():
        got_task = got["tasks"].get(label)
        if got_task is None:
            problems.append(f"{label}: not reported")
            continue
        _compare_state(label, exp, got_task, problems)
    return problems


@pytest.mark.parametrize("name", scenario_params(SC, EXPECTED, KNOWN_DIFFERENCES))
def test_scenario_matches_prefect1(name, ff):
    assert name in EXPECTED, f"{name} not recorded; re-run record_prefect1.py"
    assert name in SC.SCENARIOS, f"{name} recorded but no longer registered"
    got = SC.run_scenario(ff, name)
    problems = compare(EXPECTED[name], got)
    assert not problems, f"{name} differs from Prefect 1.4.1:\n  " + "\n  ".join(problems)
