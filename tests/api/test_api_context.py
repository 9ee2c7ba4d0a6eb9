"""``ferroflow.context`` read the ways Prefect 1's ``prefect.context`` is read: as a
mapping (``context["key"]``, ``get``, ``in``, ``keys``/``items``/``values``, ``len``,
iteration) and by attribute, with Prefect's errors for a missing key."""

from __future__ import annotations

import collections.abc

import pytest

from ferroflow import Flow, context, signals, task


def run_and_get(fn):
    """Run ``fn`` as the only task of a flow; return its result (or raise its error)."""
    with Flow("ctx") as flow:
        t = task(fn)()
    state = flow.run(record=False)
    child = state.result[t]
    assert child.is_successful(), (child, child.result)
    return child.result


def test_subscript_reads_the_same_values_as_attributes_inside_a_task():
    def probe():
        return {key: (context[key], getattr(context, key)) for key in ("flow_name", "task_name", "map_index")}

    assert run_and_get(probe) == {
        "flow_name": ("ctx", "ctx"),
        "task_name": ("probe", "probe"),
        "map_index": (None, None),
    }


def test_context_is_a_read_only_mapping():
    def probe():
        keys = list(context)
        return {
            "is_mapping": isinstance(context, collections.abc.Mapping),
            "len": len(context) == len(keys),
            "keys": sorted(context.keys()) == sorted(keys),
            "items": dict(context.items())["task_name"],
            "values": context["task_run_count"] in list(context.values()),
            "in": ("task_name" in context, "nope" in context),
            "get": (context.get("task_name"), context.get("nope"), context.get("nope", 7)),
            "to_dict": type(context.to_dict()).__name__,
        }

    assert run_and_get(probe) == {
        "is_mapping": True,
        "len": True,
        "keys": True,
        "items": "probe",
        "values": True,
        "in": (True, False),
        "get": ("probe", None, 7),
        "to_dict": "dict",
    }


def test_missing_key_raises_key_error_and_missing_attribute_attribute_error():
    # As Prefect's Context (a DotDict): KeyError('missing') and AttributeError.
    with pytest.raises(KeyError) as info:
        context["missing"]
    assert info.value.args == ("missing",)
    with pytest.raises(AttributeError) as info:
        _ = context.missing
    assert str(info.value) == "'Context' object has no attribute 'missing'"


def test_user_values_are_readable_by_subscript_outside_a_run():
    with context(answer=42):
        assert context["answer"] == 42
        assert "answer" in context
        assert dict(context)["answer"] == 42
    assert "answer" not in context


def test_assigning_to_the_context_says_how_to_set_a_value():
    with pytest.raises(TypeError, match=r"with ferroflow.context\(key=value\)"):
        context["answer"] = 42
    with pytest.raises(TypeError, match=r"with ferroflow.context\(key=value\)"):
        context.answer = 42
    assert "answer" not in context


def test_prefect_loop_names_by_subscript():
    # Prefect 1's looping task reads prefect.context["task_loop_count"] once it loops
    # (the key is absent in the first iteration, as there); ferroflow's loop_count too.
    def countdown():
        n = context.get("task_loop_count", 1)
        if n < 3:
            raise signals.LOOP(result=n * 10)
        return (context["task_loop_count"], context["task_loop_result"], context["loop_count"])

    assert run_and_get(countdown) == (3, 20, 3)

