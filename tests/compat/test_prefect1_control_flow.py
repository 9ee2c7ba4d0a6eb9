"""Differential test for control flow and LOOP: every scenario of
``scenarios_control_flow.py`` must end on ferroflow as it ended on Prefect Core 1.4.1
(recorded in ``prefect1_control_flow_expected.json`` by
``record_prefect1_control_flow.py``), compared exactly as ``test_prefect1_compat.py``
compares the base set (whose ``compare`` this module reuses). A flow that Prefect
refused to build must be refused by ferroflow with an exception of the same class.
"""

from __future__ import annotations

import json
import pathlib

import pytest

# pytest puts this directory on sys.path (rootdir-relative "prepend" imports).
import test_prefect1_compat as BASE_TEST

HERE = pathlib.Path(__file__).resolve().parent
FIXTURE = HERE / "prefect1_control_flow_expected.json"

# Deliberate differences (documented in docs/control-flow.md): scenario -> reason.
# Each must fail (strict xfail).
KNOWN_DIFFERENCES: dict[str, str] = {
    "merge/eleven_branches": "merge picks branches in argument order; Prefect 1.4.1 sorts the "
                             "keys task_1, task_10, task_11, task_2... as strings",
    "merge/skipped_and_value": "merge passes over a branch that raised SKIP; Prefect 1.4.1 returns "
                               "the SKIP signal (the skipped task's result) as the merged value",
    "merge/constant_branch": "same: merge passes over the SKIP signal of a skipped branch",
    "merge/mapped_true_child_by_child": "same, child by child (Prefect 1.4.1 merges SKIP signals, "
                                        "which then break the sum downstream)",
    "loop/retry_counts_while_looping": "task_run_count stays the attempt number for every iteration; "
                                       "Prefect 1.4.1 resets it to 1 after the first LOOP of a retry",
    "loop/retried_loop_respects_max_retries": "ferroflow stops after max_retries=1 (call 4 fails the "
                                              "task); Prefect 1.4.1's run-count reset lets it retry "
                                              "after every LOOP",
}


SC = BASE_TEST.load_module("ferroflow_compat_control_flow", HERE / "scenarios_control_flow.py")
EXPECTED = json.loads(FIXTURE.read_text())["scenarios"]


@pytest.fixture(scope="module")
def ff():
    """The ferroflow namespace (imports ferroflow on first use only)."""
    return SC.ferroflow_namespace()


def test_fixture_matches_registry():
    """Every registered scenario has a recording and vice versa (re-run the recorder)."""
    BASE_TEST.check_registry(SC, EXPECTED, FIXTURE.name, "record_prefect1_control_flow.py")


@pytest.mark.parametrize("name", BASE_TEST.scenario_params(SC, EXPECTED, KNOWN_DIFFERENCES))
def test_control_flow_matches_prefect1(name, ff):
    assert name in EXPECTED, f"{name} not recorded; re-run record_prefect1_control_flow.py"
    assert name in SC.SCENARIOS, f"{name} recorded but no longer registered"
    got = SC.run_scenario(ff, name)
    expected = EXPECTED[name]
    problems = BASE_TEST.compare(expected, got)
    if "raises" in expected["flow"] and expected.get("phase") != got.get("phase"):
        problems.append(f"Prefect raised while {expected.get('phase')}ing the flow, ferroflow while "
                        f"{got.get('phase')}ing it")
    assert not problems, f"{name} differs from Prefect 1.4.1:\n  " + "\n  ".join(problems)
