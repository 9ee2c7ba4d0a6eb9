"""Every hook is declared, typed, documented and exercised by a test."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from ferroflow import plugins
from ferroflow.plugins import hookspecs

HOOKS = [name for name in hookspecs.__all__ if name not in {"hookspec", "PROJECT_NAME"}]


def test_the_expected_hooks_are_declared():
    assert HOOKS == ["register_executors", "register_result_stores",
                     "register_serializers", "register_notifiers", "register_launchers"]
    pm = plugins.get_plugin_manager()
    for name in HOOKS:
        assert getattr(pm.hook, name).has_spec()


def test_markers_share_the_project_name():
    assert plugins.hookimpl.project_name == "ferroflow"
    assert hookspecs.hookspec.project_name == "ferroflow"
    assert plugins.hookspec is hookspecs.hookspec


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_typed_and_documented(name):
    function = getattr(hookspecs, name)
    signature = inspect.signature(function)
    assert list(signature.parameters) == ["register"]
    assert signature.parameters["register"].annotation.startswith("Callable[[str, Callable[...")
    assert signature.return_annotation == "None"
    doc = inspect.getdoc(function)
    assert doc and len(doc.splitlines()) >= 8
    for section in ("Args:", "register(name: str, factory:", "Returns:", "Example::", "@hookimpl"):
        assert section in doc, f"{name}'s docstring lacks {section!r}"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_test(name):
    tests = Path(__file__).parent
    sources = [p.read_text() for p in tests.rglob("*.py") if p.name != Path(__file__).name]
    assert any(f"def {name}(" in source for source in sources), (
        f"no test plugin implements {name}")


def test_each_registration_hook_feeds_its_registry():
    class Everything:
        @plugins.hookimpl
        def register_executors(self, register):
            register("e1", dict)

        @plugins.hookimpl
        def register_result_stores(self, register):
            register("r1", dict)

        @plugins.hookimpl
        def register_serializers(self, register):
            register("s1", dict)

        @plugins.hookimpl
        def register_notifiers(self, register):
            register("n1", dict)

        @plugins.hookimpl
        def register_launchers(self, register):
            register("l1", dict)

    with plugins.registered_plugin(Everything(), name="everything"):
        for kind, expected in [("executors", "e1"), ("result_stores", "r1"),
                               ("serializers", "s1"), ("notifiers", "n1"), ("launchers", "l1")]:
            assert plugins.get_registry(kind)[expected].plugin == "everything"
    assert sorted(hook for hook, _ in plugins.KINDS.values()) == sorted(HOOKS)


def test_hookimpl_with_no_arguments_is_accepted():
    called = []

    class NoArgs:
        @plugins.hookimpl
        def register_notifiers(self):
            called.append(True)

    with plugins.registered_plugin(NoArgs()):
        plugins.get_registry("notifiers")
    assert called == [True]
