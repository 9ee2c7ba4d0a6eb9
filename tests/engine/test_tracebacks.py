"""A failed task run's traceback starts at the task's own code: the frames of
ferroflow's runtime that called it are left out (unless nothing else is left)."""

from __future__ import annotations

import pytest

from ferroflow import Flow, signals, task
from ferroflow.errors import formatted_traceback


@task
def divide(x):
    return 1 / x


@task
def refuse(x):
    raise signals.FAIL("no")


@pytest.mark.parametrize("executor", ["local", "threads"])
def test_a_failed_runs_traceback_starts_at_the_tasks_code(executor):
    with Flow("tb") as flow:
        plain = divide(0)
        mapped = divide.map([0])
        signalled = refuse(1)
    state = flow.run(executor=executor, record=False)
    for text in (state.result[plain].traceback, state.result[mapped].map_states[0].traceback,
                 state.result[signalled].traceback):
        frames = [line for line in text.splitlines() if line.startswith("  File ")]
        assert frames and __file__ in frames[0], text
        assert "ferroflow/runtime" not in text
    assert "return 1 / x" in state.result[plain].traceback


def test_ferroflows_own_frame_stays_when_it_is_all_there_is():
    from ferroflow.runtime import batch

    # An error caught where it was raised, in code that says it is in the runtime: its
    # traceback holds that one frame.
    namespace: dict = {}
    source = ("def inner():\n    try:\n        raise ValueError('x')\n"
              "    except ValueError as exc:\n        return exc\n")
    exec(compile(source, batch.__file__, "exec"), namespace)
    text = formatted_traceback(namespace["inner"]())
    assert f'File "{batch.__file__}", line 3, in inner' in text and text.endswith("ValueError: x\n")
