"""Task construction: options, run() signature checks, the decorator, copy()."""

from __future__ import annotations

import datetime
import functools
import pickle
from typing import Tuple

import cloudpickle
import pytest

from ferroflow import triggers
from ferroflow.core import Flow, FunctionTask, Task, tags, task
from ferroflow.core.task import MAX_RETRIES_LIMIT, TASK_OPTIONS

SECOND = datetime.timedelta(seconds=1)


# ----------------------------------------------------------------------------- defaults


def test_defaults():
    t = Task()
    assert t.name == "Task"
    assert t.slug is None
    assert t.tags == set()
    assert t.max_retries == 0
    assert t.retry_delay is None
    assert t.retry_on == ()
    assert t.trigger is triggers.all_successful
    assert t.skip_on_upstream_skip is True
    assert t.nout is None
    assert t.run() is None


def test_subclass_name_defaults_to_class_name():
    class Extract(Task):
        def run(self):
            return 1

    assert Extract().name == "Extract"
    assert Extract(name="e").name == "e"
    assert repr(Extract()) == "<Task: Extract>"


def test_tasks_hash_and_compare_by_identity():
    a, b = Task(name="x"), Task(name="x")
    assert a != b
    assert len({a, b}) == 2
    assert a == a


# ----------------------------------------------------------------------------- valid options


@pytest.mark.parametrize(
    "kwargs, attr, expected",
    [
        (dict(tags=["a", "b"]), "tags", {"a", "b"}),
        (dict(tags=("a", "a")), "tags", {"a"}),
        (dict(tags=None), "tags", set()),
        (dict(max_retries=3, retry_delay=SECOND), "max_retries", 3),
        (dict(max_retries=MAX_RETRIES_LIMIT, retry_delay=SECOND), "max_retries", 255),
        (dict(max_retries=0), "max_retries", 0),
        (dict(max_retries=2, retry_delay=SECOND), "retry_delay", SECOND),
        (dict(max_retries=2, retry_delay=1.5), "retry_delay", datetime.timedelta(seconds=1.5)),
        (dict(max_retries=1, retry_delay=SECOND, retry_on=ValueError), "retry_on", (ValueError,)),
        (
            dict(max_retries=1, retry_delay=SECOND, retry_on=[KeyError, ValueError, KeyError]),
            "retry_on",
            (KeyError, ValueError),
        ),
        (dict(max_retries=1, retry_delay=SECOND, retry_on={OSError}), "retry_on", (OSError,)),
        (dict(max_retries=1, retry_delay=SECOND, retry_on=[]), "retry_on", ()),
        (dict(trigger=triggers.any_failed), "trigger", triggers.any_failed),
        (dict(skip_on_upstream_skip=False), "skip_on_upstream_skip", False),
        (dict(nout=2), "nout", 2),
        (dict(slug="my-slug"), "slug", "my-slug"),
    ],
)
def test_valid_options(kwargs, attr, expected):
    assert getattr(Task(**kwargs), attr) == expected


# ----------------------------------------------------------------------------- invalid options


@pytest.mark.parametrize(
    "kwargs, error, fragments",
    [
        (dict(tags="etl"), TypeError, ["'culprit'", "string 'etl'"]),
        (dict(tags=[1]), TypeError, ["'culprit'", "1"]),
        (dict(tags=5), TypeError, ["'culprit'", "tags"]),
        (dict(max_retries=2), ValueError, ["'culprit'", "retry_delay"]),
        (dict(retry_delay=SECOND), ValueError, ["'culprit'", "max_retries"]),
        (dict(max_retries=0, retry_delay=SECOND), ValueError, ["'culprit'", "max_retries"]),
        (dict(retry_on=ValueError), ValueError, ["'culprit'", "max_retries"]),
        (dict(max_retries=256, retry_delay=SECOND), ValueError, ["'culprit'", "255", "one byte"]),
        (dict(max_retries=-1, retry_delay=SECOND), ValueError, ["'culprit'", "255"]),
        (dict(max_retries=1.5, retry_delay=SECOND), TypeError, ["'culprit'", "max_retries", "1.5"]),
        (dict(max_retries=True, retry_delay=SECOND), TypeError, ["'culprit'", "max_retries"]),
        (dict(max_retries=1, retry_delay="1s"), TypeError, ["'culprit'", "retry_delay", "'1s'"]),
        (dict(max_retries=1, retry_delay=-SECOND), ValueError, ["'culprit'", "negative"]),
        (
            dict(max_retries=1, retry_delay=SECOND, retry_on=ValueError("boom")),
            TypeError,
            ["'culprit'", "instance of ValueError"],
        ),
        (
            dict(max_retries=1, retry_delay=SECOND, retry_on=[ValueError, "KeyError"]),
            TypeError,
            ["'culprit'", "'KeyError'"],
        ),
        (
            dict(max_retries=1, retry_delay=SECOND, retry_on=[KeyboardInterrupt]),
            TypeError,
            ["'culprit'", "KeyboardInterrupt", "Exception"],
        ),
        (dict(trigger="all_successful"), TypeError, ["'culprit'", "trigger"]),
        (dict(nout="2"), TypeError, ["'culprit'", "nout"]),
        (dict(nout=-1), ValueError, ["'culprit'", "nout"]),
        (dict(slug=""), TypeError, ["'culprit'", "slug"]),
    ],
)
def test_invalid_options(kwargs, error, fragments):
    with pytest.raises(error) as info:
        Task(name="culprit", **kwargs)
    for fragment in fragments:
        assert fragment in str(info.value)


@pytest.mark.parametrize("name", [3, ["a"]])
def test_invalid_name(name):
    with pytest.raises(TypeError, match="name"):
        Task(name=name)


def test_options_table_covers_every_option():
    t = Task()
    for name in TASK_OPTIONS:
        assert hasattr(t, name), name


# ----------------------------------------------------------------------------- run() signature


def _fn_varargs(*args):
    return args


def _fn_posonly(x, /):
    return x


def _fn_reserved_positional(x, upstream_tasks):
    return x


def _fn_reserved_keyword_only(x, *, flow=None):
    return x


def _fn_reserved_two(mapped, task_args):
    return mapped


@pytest.mark.parametrize(
    "fn, error, fragments",
    [
        (_fn_posonly, TypeError, ["'_fn_posonly'", "positional-only", "'x'"]),
        (_fn_reserved_positional, ValueError, ["'_fn_reserved_positional'", "upstream_tasks"]),
        (_fn_reserved_keyword_only, ValueError, ["'_fn_reserved_keyword_only'", "flow"]),
        (_fn_reserved_two, ValueError, ["'mapped'", "'task_args'"]),
    ],
)
def test_bad_function_signatures(fn, error, fragments):
    with pytest.raises(error) as info:
        task(fn)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_a_function_taking_star_args_is_a_task_a_deferred_flow_refuses():
    """*args are passed by an eager flow (tests/eager/test_eager_star_args.py); a
    deferred flow's edges are keyed by name, so calling or mapping such a task in a
    Flow is refused, naming the task and its *args."""
    t = task(_fn_varargs)
    assert t.run(1, 2) == (1, 2)
    with Flow("f"):
        for build in (lambda: t(1, 2), lambda: t.map([1, 2]), lambda: t.copy().bind(1)):
            with pytest.raises(ValueError) as info:
                build()
            assert "'_fn_varargs'" in str(info.value) and "*args" in str(info.value)


def test_kwargs_named_like_a_reserved_word_are_fine():
    @task
    def gather(**flow):
        return flow

    assert gather.run(a=1) == {"a": 1}


@pytest.mark.parametrize(
    "body, error, fragment",
    [
        ("def run(self, *xs): pass", ValueError, "*args"),
        ("def run(self, x, /): pass", TypeError, "positional-only"),
        ("def run(self, mapped): pass", ValueError, "mapped"),
        ("def run(self, *, upstream_tasks): pass", ValueError, "upstream_tasks"),
    ],
)
def test_bad_run_method_fails_at_class_definition(body, error, fragment):
    namespace: dict = {}
    exec(body, namespace)
    with pytest.raises(error) as info:
        type("Offender", (Task,), {"run": namespace["run"]})
    assert "Offender" in str(info.value)
    assert fragment in str(info.value)


def test_uninspectable_callable_is_reported():
    with pytest.raises(ValueError, match="'max'.*wrap it in a Python function"):
        FunctionTask(max)


def test_function_task_needs_a_callable():
    with pytest.raises(TypeError, match="callable"):
        FunctionTask(42)


# ----------------------------------------------------------------------------- decorator


def _double(x):
    return 2 * x


@pytest.mark.parametrize(
    "make, name, retries",
    [
        (lambda: task(_double), "_double", 0),
        (lambda: task()(_double), "_double", 0),
        (lambda: task(name="twice")(_double), "twice", 0),
        (lambda: task(max_retries=2, retry_delay=SECOND)(_double), "_double", 2),
        (lambda: FunctionTask(_double), "_double", 0),
    ],
)
def test_decorator_forms(make, name, retries):
    t = make()
    assert isinstance(t, FunctionTask)
    assert t.name == name
    assert t.max_retries == retries
    assert t.run(4) == 8
    assert t.run(x=4) == 8


def test_decorator_keeps_function_metadata():
    @task
    def documented(x):
        """Doubles."""
        return x

    assert documented.__doc__ == "Doubles."
    assert documented.__wrapped__.__name__ == "documented"


def test_decorator_validates_options():
    with pytest.raises(ValueError, match="'flaky'.*retry_delay"):

        @task(max_retries=3)
        def flaky():
            pass


# ----------------------------------------------------------------------------- nout


def _two() -> Tuple[int, str]:
    return 1, "a"


def _builtin_two() -> tuple[int, str]:
    return 1, "a"


def _variadic() -> Tuple[int, ...]:
    return (1,)


def _bare() -> tuple:
    return ()


def _bare_typing() -> Tuple:
    return ()


def _empty() -> Tuple[()]:
    return ()


def _int() -> int:
    return 1


def _string_annotation() -> "Tuple[int, int, int]":
    return 1, 2, 3


def _unresolvable() -> "Tuple[Nope, int]":  # noqa: F821 - unresolvable on purpose
    return 1, 2


@pytest.mark.parametrize(
    "fn, nout",
    [
        (_two, 2),
        (_builtin_two, 2),
        (_variadic, None),
        (_bare, None),
        (_bare_typing, None),
        (_empty, 0),
        (_int, None),
        (_string_annotation, 3),
        (_unresolvable, None),
        (_double, None),
    ],
)
def test_nout_inferred_from_return_annotation(fn, nout):
    assert task(fn).nout == nout


def test_explicit_nout_wins():
    assert task(nout=4)(_two).nout == 4


def test_nout_from_run_method_annotation():
    class Pair(Task):
        def run(self) -> Tuple[int, int]:
            return 1, 2

    assert Pair().nout == 2


# ----------------------------------------------------------------------------- copy


def test_copy_is_a_new_task_with_same_options():
    t = Task(name="t", tags=["a"], max_retries=1, retry_delay=SECOND, retry_on=KeyError)
    c = t.copy()
    assert c is not t
    assert type(c) is Task
    for attr in ("name", "tags", "max_retries", "retry_delay", "retry_on", "trigger"):
        assert getattr(c, attr) == getattr(t, attr)


def test_copy_does_not_share_tags():
    t = Task(tags=["a"])
    c = t.copy()
    c.tags.add("b")
    assert t.tags == {"a"}


def test_copy_appends_copy_to_explicit_slug():
    assert Task(slug="s").copy().slug == "s-copy"
    assert Task(slug="s").copy(slug="other").slug == "other"
    assert Task().copy().slug is None


@pytest.mark.parametrize(
    "task_args, attr, expected",
    [
        (dict(name="renamed"), "name", "renamed"),
        (dict(max_retries=2, retry_delay=SECOND), "max_retries", 2),
        (dict(retry_delay=2), "retry_delay", 2 * SECOND),  # original has max_retries=1
        (dict(tags=["new"]), "tags", {"old", "new"}),
        (dict(nout=None), "nout", None),
        (dict(trigger=triggers.all_finished), "trigger", triggers.all_finished),
    ],
)
def test_copy_task_args(task_args, attr, expected):
    t = Task(tags=["old"], max_retries=1, retry_delay=SECOND, nout=3)
    assert getattr(t.copy(**task_args), attr) == expected


@pytest.mark.parametrize(
    "task_args, error, fragments",
    [
        (dict(no_such_attr=1), AttributeError, ["'orig'", "'no_such_attr'"]),
        (dict(max_retries=300), ValueError, ["'orig'", "255"]),
        (dict(max_retries=0), ValueError, ["'orig'", "retry_delay is set"]),
        (dict(tags="x"), TypeError, ["'orig'", "string"]),
        (dict(name=""), TypeError, ["name"]),
    ],
)
def test_copy_rejects_bad_task_args(task_args, error, fragments):
    t = Task(name="orig", max_retries=1, retry_delay=SECOND)
    with pytest.raises(error) as info:
        t.copy(**task_args)
    for fragment in fragments:
        assert fragment in str(info.value)
    assert t.max_retries == 1  # the original is untouched


def test_copy_sets_custom_attributes():
    class WithAttr(Task):
        def __init__(self, level=1, **kw):
            self.level = level
            super().__init__(**kw)

    assert WithAttr().copy(level=5).level == 5


def test_copy_of_function_task_runs_the_same_function():
    t = task(_double)
    assert t.copy().run(3) == 6


# ----------------------------------------------------------------------------- tags context


def test_tags_context_applies_on_init_copy_and_call():
    template = task(_double)
    with Flow("f"):
        with tags("db", "slow"):
            created = Task()
            copied = template.copy()
            called = template(1)
        outside = template(2)
    assert created.tags == {"db", "slow"}
    assert copied.tags == {"db", "slow"}
    assert called.tags == {"db", "slow"}
    assert outside.tags == set()
    assert template.tags == set()


def test_tags_context_nests():
    with tags("a"):
        with tags("b"):
            assert Task().tags == {"a", "b"}
        assert Task().tags == {"a"}


def test_tags_context_rejects_non_strings():
    with pytest.raises(TypeError, match="3"):
        with tags("a", 3):
            pass


# ----------------------------------------------------------------------------- introspection


def test_inputs_and_outputs():
    def fn(x: int, y: str = "a", **rest) -> float:
        return 1.0

    t = task(fn)
    assert t.inputs() == {
        "x": {"type": int, "required": True, "default": None},
        "y": {"type": str, "required": False, "default": "a"},
    }
    assert t.outputs() is float


# ----------------------------------------------------------------------------- pickling


def test_tasks_pickle():
    t = Task(name="t", tags=["a"], max_retries=1, retry_delay=SECOND, retry_on=KeyError)
    back = pickle.loads(pickle.dumps(t))
    assert (back.name, back.tags, back.max_retries, back.retry_on) == ("t", {"a"}, 1, (KeyError,))


def test_a_task_class_defined_in_a_function_pickles_by_value_with_its_inspected_run():
    def make():
        class Local(Task):
            def run(self, x):
                return 2 * x

        return Local

    back = pickle.loads(cloudpickle.dumps(make()(name="local")))
    with Flow("f") as flow:
        t = back(4)
    assert flow.constants[t] == {"x": 4} and flow.run(record=False).result[t].result == 8


def test_function_tasks_cloudpickle():
    t = task(lambda x: x + 1)
    back = cloudpickle.loads(cloudpickle.dumps(t))
    assert back.run(1) == 2
    assert back.inputs()["x"]["required"] is True


# ----------------------------------------------------------------------------- defaults as class attributes


def test_a_task_stores_only_the_options_that_differ_from_their_defaults():
    t = Task(name="t", max_retries=1, retry_delay=SECOND)
    assert set(vars(t)) == {"name", "max_retries", "retry_delay"}
    for name in set(TASK_OPTIONS) - {"max_retries", "retry_delay"}:
        assert getattr(t, name) == getattr(Task(), name), name
    assert "slug" not in vars(task(_double))


def test_a_task_made_with_every_default_spelled_out_is_like_one_without():
    spelled = Task(
        tags=None, max_retries=None, retry_delay=None, retry_on=None, retry_condition=None,
        trigger=None, skip_on_upstream_skip=True, nout=None, log_stdout=False, timeout=None,
        state_handlers=None, on_failure=None, result=None, checkpoint=None, target=None,
        cache_for=None, cache_validator=None, cache_key=None, cache_key_fn=None, task_run_name=None,
    )
    assert set(vars(spelled)) == {"name"}
    assert spelled.trigger is triggers.all_successful  # the function, not a bound method


def test_tags_and_state_handlers_are_each_tasks_own_even_when_never_set():
    a, b = Task(), Task()
    a.tags.add("x")
    a.state_handlers.append(print)
    assert (b.tags, b.state_handlers) == (set(), [])
    assert a.tags == {"x"} and a.state_handlers == [print]
    assert a.tags is a.tags


def test_a_copys_later_changes_reach_neither_its_template_nor_its_siblings():
    template = task(_double)
    one, two = template.copy(), template.copy()
    one.tags.add("one")
    one.state_handlers.append(print)
    one.max_retries = 3
    one.retry_delay = SECOND
    one.name = "renamed"
    for other in (template, two):
        assert (other.tags, other.state_handlers, other.max_retries, other.retry_delay, other.name) == (
            set(), [], 0, None, "_double")
    template.tags.add("late")
    template.state_handlers.append(repr)
    assert (one.tags, two.tags, one.state_handlers, two.state_handlers) == ({"one"}, set(), [print], [])
    assert template.copy().tags == {"late"} and template.copy().state_handlers == [repr]


def test_a_class_attribute_named_like_an_option_stays_hidden_as_before():
    class Shadowing(Task):
        max_retries = 3
        slug = "class-slug"

    t = Shadowing()
    assert (t.max_retries, t.slug) == (0, None)
    assert Shadowing(max_retries=1, retry_delay=SECOND).copy().max_retries == 1


def test_a_function_attribute_named_like_an_option_does_not_become_the_option():
    def fn(x):
        return x

    fn.timeout = "soon"
    fn.tags = "oops"
    fn.slug = "fn-slug"
    t = task(fn)
    assert (t.timeout, t.tags, t.slug) == (None, set(), None)


#: ``pickle.dumps((q, c, s, p), protocol=4)`` made by ferroflow before option defaults
#: became class attributes (every option was then in each task's ``__dict__``), of:
#: ``q = FunctionTask(shlex.quote, max_retries=2, retry_delay=timedelta(seconds=1),
#: tags=["a"])`` and, in ``with Flow("f") as flow, tags("b")``, ``p = Parameter("p",
#: default=1)``, ``c = q(p)`` and ``s = p + 1``.
_PICKLED_BEFORE = (
    "gASV2gMAAAAAAAAojBNmZXJyb2Zsb3cuY29yZS50YXNrlIwMRnVuY3Rpb25UYXNrlJOUKYGUfZQojApfX21vZHVsZV9flIwF"
    "c2hsZXiUjAhfX25hbWVfX5SMBXF1b3RllIwMX19xdWFsbmFtZV9flGgIjAdfX2RvY19flIwxUmV0dXJuIGEgc2hlbGwtZXNj"
    "YXBlZCB2ZXJzaW9uIG9mIHRoZSBzdHJpbmcgKnMqLpSMD19fYW5ub3RhdGlvbnNfX5R9lIwLX193cmFwcGVkX1+UaAZoCJOU"
    "jANydW6UaA+MBG5hbWWUaAiMBHNsdWeUTowEdGFnc5SPlCiMAWGUkIwLbWF4X3JldHJpZXOUSwKMC3JldHJ5X2RlbGF5lIwI"
    "ZGF0ZXRpbWWUjAl0aW1lZGVsdGGUk5RLAEsBSwCHlFKUjAhyZXRyeV9vbpQpjA9yZXRyeV9jb25kaXRpb26UTowHdHJpZ2dl"
    "cpSMEmZlcnJvZmxvdy50cmlnZ2Vyc5SMDmFsbF9zdWNjZXNzZnVslJOUjBVza2lwX29uX3Vwc3RyZWFtX3NraXCUiIwEbm91"
    "dJROjApsb2dfc3Rkb3V0lImMB3RpbWVvdXSUTowOc3RhdGVfaGFuZGxlcnOUXZSMCm9uX2ZhaWx1cmWUTowGcmVzdWx0lE6M"
    "CmNoZWNrcG9pbnSUTowGdGFyZ2V0lE6MCWNhY2hlX2ZvcpROjA9jYWNoZV92YWxpZGF0b3KUTowJY2FjaGVfa2V5lE6MDGNh"
    "Y2hlX2tleV9mbpROjA10YXNrX3J1bl9uYW1llE51YmgCKYGUfZQoaAVoBmgHaAhoCWgIaApoC2gMaA1oDmgPaBBoD2gRaAho"
    "Ek5oE4+UKGgVjAFilJBoFksCaBdoHGgdKWgeTmgfaCJoI4hoJE5oJYloJk5oJ12UaClOaCpOaCtOaCxOaC1OaC5OaC9OaDBO"
    "aDFOdWKMGGZlcnJvZmxvdy5jb3JlLm9wZXJhdG9yc5SMA0FkZJSTlCmBlH2UKGgRaDhoEk5oE4+UKGg1kGgWSwBoF05oHSlo"
    "Hk5oH2giaCOIaCROaCWJaCZOaCddlGgpTmgqTmgrTmgsTmgtTmguTmgvTmgwTmgxTnVijBhmZXJyb2Zsb3cuY29yZS5wYXJh"
    "bWV0ZXKUjAlQYXJhbWV0ZXKUk5QpgZR9lCiMCHJlcXVpcmVklImMB2RlZmF1bHSUSwFoEYwBcJRoEmhFaBOPlChoNZBoFksA"
    "aBdOaB0paB5OaB9oImgjiGgkTmgliWgmTmgnXZRoKU5oKk5oK05oLE5oLU5oLk5oL05oME5oMU51YnSULg=="
)


def test_tasks_pickled_before_option_defaults_were_class_attributes_still_load():
    import base64
    import shlex

    q, c, s, p = pickle.loads(base64.b64decode(_PICKLED_BEFORE))
    assert [type(t).__name__ for t in (q, c, s, p)] == ["FunctionTask", "FunctionTask", "Add", "Parameter"]
    assert [repr(t) for t in (q, c, s, p)] == ["<Task: quote>", "<Task: quote>", "<Task: Add>", "<Parameter: p>"]
    assert [(t.name, t.slug, t.tags) for t in (q, c, s, p)] == [
        ("quote", None, {"a"}), ("quote", None, {"a", "b"}), ("Add", None, {"b"}), ("p", "p", {"b"})]
    assert (c.max_retries, c.retry_delay, s.max_retries, s.retry_delay) == (2, SECOND, 0, None)
    assert c.trigger is triggers.all_successful and c.state_handlers == [] and c.retry_on == ()
    assert (c.__name__, c.__doc__, c.__wrapped__, c.run("a b")) == ("quote", shlex.quote.__doc__, shlex.quote, "'a b'")
    assert set(c.inputs()) == {"s"} and p.default == 1
    copy = c.copy()
    copy.tags.add("z")
    assert (c.tags, copy.tags) == ({"a", "b"}, {"a", "b", "z"})
    with Flow("g") as flow:
        bound = c("a b")
    assert flow.constants[bound] == {"s": "a b"} and flow.run(record=False).result[bound].result == "'a b'"


# ----------------------------------------------------------------------------- unusual run()


def _passthrough(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)

    return wrapper


class _Static(Task):
    @staticmethod
    def run(x):
        return 2 * x


class _Decorated(Task):
    @_passthrough
    def run(self, x, y=2):
        return x + y


class _Assigned(Task):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.run = lambda z: z


@pytest.mark.parametrize(
    "make, inputs, names",
    [
        (_Static, dict(x=3), {"x"}),
        (_Decorated, dict(x=1), {"x", "y"}),
        (_Assigned, dict(z=4), {"z"}),
    ],
)
def test_unusual_run_definitions_bind_by_their_real_signature(make, inputs, names):
    with Flow("f") as flow:
        t = make()(**inputs)
    assert flow.constants[t] == inputs
    assert set(t.inputs()) == names
    with Flow("g"):
        with pytest.raises(TypeError, match="missing a required argument"):
            make()()


# ----------------------------------------------------------------------------- Prefect 1 surface


def test_task_logger_logs_as_the_task_and_is_kept_with_its_run():
    # Prefect 1's Task.logger: a Task subclass logs with self.logger in run().
    class Load(Task):
        def run(self):
            self.logger.info("loaded %d rows", 3)
            return 3

    load = Load(name="load")
    assert load.logger.logger.name == "ferroflow.task.load"
    assert Task().logger.logger.name == "ferroflow.task.Task"
    with Flow("logs") as flow:
        loaded = load()
    state = flow.run(record=False)
    assert state.result[loaded].result == 3
    assert [(e.level, e.logger, e.message) for e in state.result[loaded].logs] == [
        ("INFO", "ferroflow.task.load", "loaded 3 rows")
    ]


@task
def _ok():
    return 1


@task
def _boom():
    raise ValueError("boom")


@pytest.mark.parametrize("factory", [triggers.some_successful, triggers.some_failed])
def test_an_uncalled_some_trigger_runs_the_task_whatever_its_upstream_states(factory):
    # Prefect 1 calls the factory with the upstream states, gets the inner trigger
    # back (a true value) and runs the task: the same as calling it without bounds.
    @task(trigger=factory)
    def after(**values):
        return sorted(values)

    assert after.trigger._ff_spec == factory()._ff_spec
    with Flow("uncalled") as flow:
        both_failed = after(a=_boom(), b=_boom())
        both_ok = after(a=_ok(), b=_ok())
        alone = after()
    state = flow.run(record=False)
    for t in (both_failed, both_ok, alone):
        assert state.result[t].is_successful(), state.result[t]
    assert state.result[both_failed].result == ["a", "b"]


def test_a_timed_out_run_ends_timed_out_with_the_task_timeout_of_ferroflow_errors():
    # Prefect 1: TimedOut("Task timed out during execution.") whose result is a
    # prefect.exceptions.TaskTimeoutSignal, a BaseException.
    import time

    from ferroflow.errors import TaskTimeout
    from ferroflow.runtime.timeouts import TaskTimeout as same

    @task(timeout=0.1)
    def slow():
        time.sleep(30)

    with Flow("slow") as flow:
        s = slow()
    state = flow.run(record=False).result[s]
    assert type(state).__name__ == "TimedOut" and state.message == "Task timed out during execution."
    assert isinstance(state.result, TaskTimeout) and same is TaskTimeout
    assert not isinstance(state.result, Exception)
    assert str(state.result) == "Task timed out after 0.1 s"


@pytest.mark.parametrize("name", ["", {}, None])
def test_a_false_name_gives_the_class_name(name):
    # Prefect 1: Task(name="") or a Task subclass passing its empty **kwargs dict as
    # the name (`super().__init__(kwargs)`) is named after its class.
    class Useful(Task):
        def run(self):
            return 1

    assert Useful(name=name).name == "Useful"
    with pytest.raises(TypeError, match="Task name must be a non-empty str, got 5"):
        Useful(name=5)


def test_an_empty_option_made_on_first_read_is_the_one_kept():
    # Two threads reading an untagged task's tags at once must get the same set: the
    # one stored first is kept and returned (a tag added to the other would be lost).
    from ferroflow.core.task import _PerInstance

    class Holder:
        pass

    holder = Holder()
    kept = {"first"}

    def factory():
        holder.__dict__["tags"] = kept  # another thread stores its set meanwhile
        return set()

    assert _PerInstance("tags", factory).__get__(holder) is kept
    assert holder.__dict__["tags"] is kept
