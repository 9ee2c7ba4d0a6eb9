"""Differential test for constant tasks and caching: every scenario of
``scenarios_constants_caching.py`` must end on ferroflow as it ended on Prefect Core 1.4.1
(recorded in ``prefect1_constants_caching_expected.json`` by
``record_prefect1_constants_caching.py``).

Compared exactly, run by run: the flow's state and message, every labelled task's (and
mapped child's) state class, message and normalized result, the transitions its state
handlers saw and which task bodies ran.
"""

from __future__ import annotations

import json
import pathlib

import pytest

# pytest puts this directory on sys.path (rootdir-relative "prepend" imports).
import test_prefect1_compat as BASE_TEST

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE / "prefect1_constants_caching_expected.json"

# Deliberate differences (documented in docs/caching.md and
# docs/migrating-from-prefect-1.md): scenario -> reason. Each must fail (strict xfail).
KNOWN_DIFFERENCES: dict[str, str] = {
    "cache/mapped_duration_only": "a mapped child has a cache entry of its own; Prefect 1.4.1 hands the "
                                  "first child's cached value to every child",
    "cache/default_key_is_the_task_name": "the default cache key is the flow's name and the task's slug; "
                                          "Prefect 1.4.1 keys on the task's name, so tasks of the same "
                                          "name in different flows share entries",
    "cache/reused_but_upstream_failed": "ferroflow decides the trigger before looking at the cache: the "
                                        "task ends TriggerFailed as on Prefect, but its handlers see "
                                        "Pending -> TriggerFailed, not Pending -> Cached -> TriggerFailed",
}

SC = BASE_TEST.load_module("ferroflow_compat_constants_caching", HERE / "scenarios_constants_caching.py")
EXPECTED = json.loads(FIXTURE.read_text())["scenarios"]


@pytest.fixture(scope="module")
def ff():
    """The ferroflow namespace (imports ferroflow on first use only)."""
    return SC.ferroflow_namespace()


def test_fixture_matches_registry():
    """Every registered scenario has a recording and vice versa (re-run the recorder)."""
    BASE_TEST.check_registry(SC, EXPECTED, FIXTURE.name, "record_prefect1_constants_caching.py")


def compare(expected: dict, got: dict) -> list:
    """Human-readable differences between two records of a scenario."""
    problems = []
    if len(got["runs"]) != len(expected["runs"]):
        return [f"{len(got['runs'])} runs, expected {len(expected['runs'])}"]
    for i, (exp, run) in enumerate(zip(expected["runs"], got["runs"], strict=True), 1):
        if run["flow"] != exp["flow"]:
            problems.append(f"run {i}: flow {run['flow']} != expected {exp['flow']}")
        if run["transitions"] != exp["transitions"]:
            problems.append(f"run {i}: handlers saw\n      {run['transitions']}\n    expected\n"
                            f"      {exp['transitions']}")
        if run["calls"] != exp["calls"]:
            problems.append(f"run {i}: calls {run['calls']} != expected {exp['calls']}")
    for label, exp in expected["tasks"].items():
        state = got["tasks"].get(label)
        if state != exp:
            problems.append(f"{label}: {state} != expected {exp}")
    return problems


@pytest.mark.parametrize("name", BASE_TEST.scenario_params(SC, EXPECTED, KNOWN_DIFFERENCES))
def test_constants_and_caching_match_prefect1(name, ff):
    assert name in EXPECTED, f"{name} not recorded; re-run record_prefect1_constants_caching.py"
    assert name in SC.SCENARIOS, f"{name} recorded but no longer registered"
    problems = compare(EXPECTED[name], SC.run_scenario(ff, name))
    assert not problems, f"{name} differs from Prefect 1.4.1:\n  " + "\n  ".join(problems)
