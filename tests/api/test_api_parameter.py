"""Parameters."""

from __future__ import annotations

import pytest

from ferroflow import signals
from ferroflow.core import Flow, Parameter, Task, task


@task
def add(x, y=1):
    return x + y


@pytest.mark.parametrize(
    "kwargs, default, required",
    [
        (dict(), None, True),
        (dict(default=3), 3, False),
        (dict(default=None), None, False),
        (dict(default=3, required=True), 3, True),
        (dict(required=False), None, False),
    ],
)
def test_default_and_required(kwargs, default, required):
    p = Parameter("p", **kwargs)
    assert (p.name, p.slug, p.default, p.required) == ("p", "p", default, required)


def test_repr_and_tags():
    p = Parameter("size", tags=["cfg"])
    assert repr(p) == "<Parameter: size>"
    assert p.tags == {"cfg"}


@pytest.mark.parametrize("name", ["", None, 3])
def test_name_must_be_a_non_empty_string(name):
    with pytest.raises(TypeError, match="Parameter's name"):
        Parameter(name)


def test_run_returns_default_or_fails_when_required():
    assert Parameter("p", default=4).run() == 4
    with pytest.raises(signals.FAIL, match='"p"'):
        Parameter("p").run()


def test_calling_adds_the_parameter_itself():
    with Flow("f") as flow:
        p = Parameter("p")
        assert p() is p
        b = add(p)
    assert list(flow.tasks) == [p, b]
    assert flow.parameters() == {p}
    assert flow.slugs[p] == "p"


@pytest.mark.parametrize(
    "attach",
    [
        lambda f, p, t: p.set_upstream(t, flow=f),
        lambda f, p, t: t.set_downstream(p, flow=f),
        lambda f, p, t: f.add_edge(t, p),
        lambda f, p, t: f.set_dependencies(p, upstream_tasks=[t]),
        lambda f, p, t: f.set_dependencies(t, downstream_tasks=[p]),
        lambda f, p, t: p.bind(upstream_tasks=[t], flow=f),
        lambda f, p, t: f.chain(t, p),
    ],
)
def test_parameters_cannot_have_upstream_tasks(attach):
    flow = Flow("f")
    p, t = Parameter("size"), Task(name="t")
    with pytest.raises(ValueError) as info:
        attach(flow, p, t)
    assert "'size'" in str(info.value)
    assert "upstream" in str(info.value)
    assert flow.edges == set()


def test_duplicate_parameter_names_collide_on_slug():
    with Flow("f"):
        Parameter("n")()
        with pytest.raises(ValueError, match='slug "n".*parameter'):
            Parameter("n")()


def test_copy_needs_a_new_name():
    p = Parameter("a", default=1)
    q = p.copy("b")
    assert (q.name, q.slug, q.default) == ("b", "b", 1)
    assert isinstance(q, Parameter)
    with pytest.raises(TypeError, match="'a'.*new name"):
        p.copy()
    with Flow("f") as flow:
        p()
        q()
    assert flow.parameters() == {p, q}
