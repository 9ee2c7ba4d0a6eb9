"""Clear errors, naming the task, for retry options that cannot work."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from ferroflow import Flow, _core, task
from ferroflow.core.task import Task
from ferroflow.engine.graph import freeze
from ferroflow.retries import ExponentialBackoff, exponential_backoff


def make(**options):
    return Task(name="culprit", **options)


@pytest.mark.parametrize(
    "options, error, words",
    [
        (dict(max_retries=1, retry_delay=-1), ValueError, ["'culprit'", "retry_delay", "negative"]),
        (dict(retry_delay=[1, -0.5]), ValueError, ["'culprit'", "retry_delay[1]", "negative", "-0.5"]),
        (dict(retry_delay=[1, "2s"]), TypeError, ["'culprit'", "retry_delay[1]", "'2s'"]),
        (dict(retry_delay=[True]), TypeError, ["'culprit'", "retry_delay[0]", "True"]),
        (dict(retry_delay=[]), ValueError, ["'culprit'", "empty"]),
        (dict(retry_delay=[math.nan]), ValueError, ["'culprit'", "retry_delay[0]", "finite"]),
        (dict(max_retries=1, retry_delay=math.inf), ValueError, ["'culprit'", "finite"]),
        (dict(max_retries=1, retry_delay=1e30), ValueError, ["'culprit'", "too long"]),
        (dict(retry_delay=[1] * 256), ValueError, ["'culprit'", "256 delays", "255"]),
        (dict(max_retries=1, retry_delay={1, 2}), TypeError, ["'culprit'", "retry_delay", "exponential_backoff"]),
        (dict(max_retries=1, retry_delay="1s"), TypeError, ["'culprit'", "retry_delay", "'1s'"]),
        (dict(retry_delay=exponential_backoff()), ValueError, ["'culprit'", "max_retries", "ExponentialBackoff"]),
        (dict(retry_delay=[1, 2], max_retries=0), ValueError, ["'culprit'", "max_retries"]),
        (dict(retry_delay=[1], max_retries=256), ValueError, ["'culprit'", "255"]),
        (
            dict(max_retries=1, retry_delay=1, retry_condition="yes"),
            TypeError,
            ["'culprit'", "retry_condition", "callable"],
        ),
        (dict(retry_condition=lambda t, s: True), ValueError, ["'culprit'", "retry_condition", "max_retries"]),
        (dict(max_retries=2, retry_condition=lambda t, s: True), ValueError, ["'culprit'", "retry_delay"]),
    ],
)
def test_bad_retry_options_name_the_task(options, error, words):
    with pytest.raises(error) as info:
        make(**options)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(base=-1), ValueError, ["base", "negative"]),
        (dict(base="1s"), TypeError, ["base", "'1s'"]),
        (dict(base=timedelta(seconds=-1)), ValueError, ["base", "negative"]),
        (dict(max_delay=-2), ValueError, ["max_delay", "negative"]),
        (dict(max_delay=math.nan), ValueError, ["max_delay", "finite"]),
        (dict(factor=0.5), ValueError, ["factor", "at least 1"]),
        (dict(factor=math.inf), ValueError, ["factor"]),
        (dict(factor=True), ValueError, ["factor"]),
        (dict(jitter=1.5), ValueError, ["jitter", "between 0 and 1", "1.5"]),
        (dict(jitter=-0.1), ValueError, ["jitter"]),
        (dict(jitter=math.nan), ValueError, ["jitter"]),
        (dict(jitter=True), ValueError, ["jitter"]),
        (dict(seed=1.5), TypeError, ["seed"]),
        (dict(seed="x"), TypeError, ["seed"]),
    ],
)
def test_bad_backoff_arguments(kwargs, error, words):
    with pytest.raises(error) as info:
        exponential_backoff(**kwargs)
    assert str(info.value).startswith("exponential_backoff: ")
    for word in words:
        assert word in str(info.value)
    with pytest.raises(error):
        ExponentialBackoff(**kwargs)  # built directly, the same checks apply


def test_valid_options_normalise():
    t = make(retry_delay=(1, timedelta(seconds=2)), max_retries=5)
    assert t.retry_delay == (timedelta(seconds=1), timedelta(seconds=2)) and t.max_retries == 5
    assert make(retry_delay=[0]).max_retries == 1
    b = exponential_backoff(base=timedelta(milliseconds=250), max_delay=2, jitter=1, seed=-1)
    assert (b.base, b.max_delay, b.jitter, b.seed) == (0.25, 2.0, 1.0, 2**64 - 1)
    assert make(max_retries=3, retry_delay=b).retry_delay is b
    cond = lambda t, s: True  # noqa: E731 - a lambda, as users write them
    assert make(max_retries=1, retry_delay=0, retry_condition=cond).retry_condition is cond


def test_failed_option_change_leaves_the_task_as_it_was():
    t = make(retry_delay=[1, 2])
    with pytest.raises(ValueError):
        t.copy(retry_condition=lambda a, b: True, max_retries=0)
    assert t.max_retries == 2 and t.retry_condition is None


def test_core_refuses_bad_jitter_naming_the_task(monkeypatch):
    @task(max_retries=1, retry_delay=0.01)
    def named():
        pass

    with Flow("core") as flow:
        named()
    with pytest.raises(ValueError, match=r"^retry jitter must be a fraction between 0 and 1, got 1.5"):
        _core.TaskSpec(max_retries=1, retry_delays_ms=[10], retry_jitter=1.5)
    with pytest.raises(OverflowError):
        _core.TaskSpec(max_retries=1, retry_delays_ms=[-1])
    # A spec the core refuses names its task when the flow is frozen.
    from ferroflow import retries

    monkeypatch.setattr(retries, "core_delays", lambda delay, n: ([10], 1.5, None))
    with pytest.raises(ValueError, match=r"Task 'named': retry jitter must be a fraction between 0 and 1, got 1.5"):
        freeze(flow).specs(seed=0)
