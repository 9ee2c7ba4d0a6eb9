"""The plugin manager: loading entry points one by one, registries, errors."""

from __future__ import annotations

import logging
import sys
import types

import pluggy
import pytest

import ferroflow
from ferroflow import plugins
from ferroflow.errors import PluginError
from ferroflow.plugins import hookimpl, manager

LOGGER = "ferroflow.plugins"


# -- loading -------------------------------------------------------------------


def test_good_plugin_loads_and_registers(install, plugin_record):
    install("good")
    record = plugin_record("good")
    assert record.status == "ok"
    assert record.ok
    assert record.distribution == "ferroflow-testgood"
    assert record.version == "1.2.0"
    assert record.source == "ferroflow-testgood 1.2.0"
    assert record.entry_point == "good = ferroflow_testgood"
    assert record.registrations == {"executors": ["good"], "serializers": ["goodser"]}
    assert record.error is None and record.warnings == []
    executor = plugins.get_executor("good", workers=4, pool="x")
    assert type(executor).__name__ == "GoodExecutor"
    assert executor.workers == 4 and executor.options == {"pool": "x"}
    assert "goodser" in plugins.get_registry("serializers")
    registration = plugins.get_registry("executors")["good"]
    assert registration.plugin == "good" and registration.kind == "executors"


def test_manager_is_lazy_and_idempotent(install):
    install("good")
    assert plugins.manager._loaded is None  # nothing loaded until asked
    pm = plugins.get_plugin_manager()
    assert isinstance(pm, pluggy.PluginManager)
    assert plugins.get_plugin_manager() is pm
    module = sys.modules["ferroflow_testgood"]
    assert pm.get_plugin("good") is module
    plugins.reset_plugin_manager()
    assert plugins.get_plugin_manager() is not pm


def test_broken_plugin_is_reported_and_others_still_load(install, plugin_record, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    install("broken", "good")
    broken = plugin_record("broken")
    assert broken.status == "failed"
    assert broken.distribution == "ferroflow-testbroken"
    assert broken.entry_point == "broken = ferroflow_testbroken"
    assert broken.error == (
        "ModuleNotFoundError: No module named 'ferroflow_nonexistent_dependency_for_tests'")
    assert "Traceback (most recent call last)" in broken.traceback
    assert "ferroflow_testbroken.py" in broken.traceback
    assert broken.registrations == {}
    # the good plugin, discovered after the broken one, still loaded
    assert plugin_record("good").status == "ok"
    assert "good" in plugins.get_registry("executors")
    # a warning went through logging, naming the plugin and its distribution
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert any("'broken' (ferroflow-testbroken 0.1.0)" in m and "ModuleNotFoundError" in m
               for m in messages), messages
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == LOGGER)


def test_hookimpl_with_wrong_signature_is_rejected_and_reported(install, plugin_record):
    install("badsig", "good")
    record = plugin_record("badsig")
    assert record.status == "failed"
    assert record.error.startswith("PluginValidationError:")
    assert "cluster" in record.error  # the argument the hookspec does not have
    assert record.traceback
    pm = plugins.get_plugin_manager()
    assert pm.get_plugin("badsig") is None  # nothing half-registered
    assert plugin_record("good").status == "ok"


def test_unknown_hook_is_rejected_with_a_suggestion(install, plugin_record):
    install("typo")
    record = plugin_record("typo")
    assert record.status == "failed"
    assert "unknown hook 'register_executor'" in record.error
    assert "did you mean 'register_executors'?" in record.error
    assert plugins.get_plugin_manager().get_plugin("typo") is None


def test_hook_that_raises_fails_its_plugin_only(install, plugin_record, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    install("raising", "good")
    record = plugin_record("raising")
    assert record.status == "failed"
    assert record.error == "register_executors raised RuntimeError: cannot reach the cluster"
    assert "RuntimeError" in record.traceback
    # what the failing hook registered before raising is dropped; the other hook's kept
    assert "half" not in plugins.get_registry("executors")
    assert record.registrations == {"notifiers": ["raising-notifier"]}
    assert plugin_record("good").status == "ok"
    assert any("raising" in r.getMessage() and r.levelno == logging.WARNING
               for r in caplog.records if r.name == LOGGER)


def test_name_two_distributions_claim_is_an_error_at_use(install, plugin_record, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    install("good", "conflict")
    registry = plugins.get_registry("executors")
    assert "good" not in registry  # nobody owns the bare name
    assert registry["other"].plugin == "conflict"
    qualified = plugins.get_registry("executors", qualified=True)
    assert qualified["ferroflow-testgood:good"].plugin == "good"
    assert qualified["ferroflow-testconflict:good"].plugin == "conflict"
    expected = ("executor 'good' is registered by several distributions ('ferroflow-testconflict:good', "
                "'ferroflow-testgood:good'): use one of these names")
    for name in ("good", "conflict"):  # both are told
        record = plugin_record(name)
        assert record.status == "ok"
        assert record.warnings == [expected]
    assert plugin_record("conflict").registrations == {"executors": ["good", "other"]}
    with pytest.raises(PluginError) as info:
        plugins.get_executor("good")
    assert str(info.value) == (
        "Executor 'good' is registered by several plugins: 'ferroflow-testconflict:good' "
        "(ferroflow-testconflict 0.6.0), 'ferroflow-testgood:good' (ferroflow-testgood 1.2.0); "
        "ferroflow does not pick one: name the one you mean (e.g. 'ferroflow-testconflict:good')")
    assert type(plugins.get_executor("ferroflow-testgood:good", workers=2)).__name__ == "GoodExecutor"
    assert type(plugins.get_executor("ferroflow-testconflict:good")).__name__ == "OtherExecutor"


def test_unknown_qualified_name_suggests_a_qualified_one(install):
    install("good")
    with pytest.raises(PluginError, match=r"^Unknown executor 'ferroflow-testgod:good'\. "
                                          r"Did you mean 'ferroflow-testgood:good'\?"):
        plugins.get_executor("ferroflow-testgod:good")


@pytest.mark.parametrize("order", [("good", "conflict"), ("conflict", "good")], ids=["good-first", "conflict-first"])
def test_name_conflict_does_not_depend_on_the_order_on_sys_path(install, order):
    install(*order)
    with pytest.raises(PluginError, match="registered by several plugins: 'ferroflow-testconflict:good' "
                                          r"\(ferroflow-testconflict 0.6.0\), 'ferroflow-testgood:good'"):
        plugins.get_executor("good")
    assert [r.name for r in plugins.list_plugins()
            if (r.distribution or "").startswith("ferroflow-test")] == ["conflict", "good"]


def test_a_builtin_keeps_its_bare_name_over_a_runtime_plugin(install, plugin_record):
    class Shadow:
        @hookimpl
        def register_executors(self, register):
            register("local", FakeExecutor)

    install("good")
    with plugins.registered_plugin(Shadow(), name="shadow"):
        assert plugins.get_registry("executors")["local"].plugin == "ferroflow.executors.local"
        assert plugin_record("shadow").warnings == [
            "executor 'local' is already registered by plugin 'ferroflow.executors.local'; kept the first"]


def test_a_builtin_keeps_its_bare_name_over_a_distribution(install, plugin_record):
    install("shadow")
    assert type(plugins.get_executor("threads")).__name__ == "ThreadsExecutor"
    assert type(plugins.get_executor("ferroflow-testshadow:threads")).__name__ == "ShadowExecutor"
    assert type(plugins.get_executor("ferroflow:threads")).__name__ == "ThreadsExecutor"
    builtin = plugins.get_registry("executors", qualified=True)["ferroflow:threads"]
    assert builtin.distribution == "ferroflow" and builtin.version == ferroflow.__version__
    record = plugin_record("shadow")
    assert record.registrations == {"executors": ["threads"]}
    assert record.warnings == [
        "executor 'threads' is also built in ('ferroflow:threads'), which keeps the bare name; "
        "this one is 'ferroflow-testshadow:threads'"]


def test_two_distributions_with_one_entry_point_name_both_load(install, plugin_record, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    install("twin", "good")  # the twin first on sys.path: the names stay the same
    good = plugin_record("good")
    twin = plugin_record("ferroflow-testtwin:good")
    assert good.status == twin.status == "ok"
    assert good.distribution == "ferroflow-testgood" and twin.distribution == "ferroflow-testtwin"
    assert twin.warnings == ["entry point name 'good' is also used by plugin 'good' (ferroflow-testgood 1.2.0); "
                             "this plugin is named 'ferroflow-testtwin:good'"]
    assert type(plugins.get_executor("twin")).__name__ == "TwinExecutor"
    assert type(plugins.get_executor("good")).__name__ == "GoodExecutor"
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert any("also used by plugin 'good' (ferroflow-testgood 1.2.0)" in m for m in messages), messages


# -- disabling and tracing --------------------------------------------------------


def test_disable_plugins_by_entry_point_name(install, plugin_record, monkeypatch):
    monkeypatch.setenv(plugins.DISABLE_ENV, " broken , Good")  # spaces, any case
    install("good", "broken", "conflict")
    assert plugin_record("good").status == "disabled"
    assert plugin_record("broken").status == "disabled"
    assert plugin_record("conflict").status == "ok"
    assert "ferroflow_testgood" not in sys.modules
    assert "ferroflow_testbroken" not in sys.modules
    assert "good" in plugins.get_registry("executors")  # now from the conflict plugin alone
    assert plugins.get_registry("executors")["good"].plugin == "conflict"


def test_disable_one_of_two_distributions_sharing_an_entry_point_name(install, plugin_record, monkeypatch):
    monkeypatch.setenv(plugins.DISABLE_ENV, "ferroflow-testtwin:good")
    install("good", "twin")
    assert plugin_record("good").status == "ok"
    assert plugin_record("good").distribution == "ferroflow-testgood"
    assert plugin_record("ferroflow-testtwin:good").status == "disabled"
    assert "ferroflow_testtwin" not in sys.modules


def test_disable_all_third_party_plugins(install, plugin_record, monkeypatch):
    monkeypatch.setenv(plugins.DISABLE_ENV, "all")
    install("good")
    assert plugin_record("good").status == "disabled"
    assert "good" not in plugins.get_registry("executors")
    with pytest.raises(PluginError, match=r"'good' \(ferroflow-testgood 1.2.0\) is disabled "
                                          r"by FERROFLOW_DISABLE_PLUGINS"):
        plugins.get_executor("good")
    # built-ins are still registered (or recorded, when they cannot be imported)
    assert any(r.source == "built-in" for r in plugins.list_plugins())


def test_trace_env_logs_each_load_at_info(install, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    monkeypatch.setenv(plugins.TRACE_ENV, "1")
    install("good")
    plugins.get_plugin_manager()
    loads = [r for r in caplog.records if r.name == LOGGER and "loaded ferroflow plugin" in r.getMessage()]
    assert any("'good' (ferroflow-testgood 1.2.0)" in r.getMessage() for r in loads)
    assert all(r.levelno == logging.INFO for r in loads)


def test_without_trace_loads_are_logged_at_debug(install, caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    install("good")
    plugins.get_plugin_manager()
    loads = [r for r in caplog.records if r.name == LOGGER and "loaded ferroflow plugin" in r.getMessage()]
    assert loads and all(r.levelno == logging.DEBUG for r in loads)


# -- get_executor -------------------------------------------------------------------


def test_unknown_executor_lists_available_ones(install):
    install("good", "conflict")
    with pytest.raises(PluginError) as info:
        plugins.get_executor("goood")
    message = str(info.value)
    assert message.startswith("Unknown executor 'goood'. Did you mean 'good'?")
    assert "Available executors: " in message
    available = message.split("Available executors: ", 1)[1].rsplit(".", 1)[0].split(", ")
    # (the name both claim is listed by its qualified names)
    assert {"other", "ferroflow-testgood:good", "ferroflow-testconflict:good"} <= set(available)
    assert "good" not in available


def test_unknown_executor_names_the_broken_plugin_of_that_name(install):
    install("broken", "good")
    with pytest.raises(PluginError) as info:
        plugins.get_executor("broken")
    message = str(info.value)
    assert "Unknown executor 'broken'." in message
    assert ("The plugin 'broken' (ferroflow-testbroken 0.1.0) failed to load: "
            "ModuleNotFoundError: No module named 'ferroflow_nonexistent_dependency_for_tests'") in message


def test_unknown_executor_mentions_other_failed_plugins(install):
    install("broken", "good")
    with pytest.raises(PluginError, match=r"Plugins that failed to load: .*broken"):
        plugins.get_executor("nope")


def test_get_executor_returns_instances_as_is():
    instance = object()
    assert plugins.get_executor(instance) is instance
    with pytest.raises(PluginError, match=r"Options \['workers'\] were given with an instance .*; "
                                          r"options only apply to a registered name"):
        plugins.get_executor(instance, workers=2)


def test_get_executor_instantiates_a_class():
    class Mine:
        def __init__(self, n=0):
            self.n = n

    assert plugins.get_executor(Mine, n=3).n == 3


def test_factory_error_becomes_plugin_error_naming_the_executor():
    class Picky:
        def __init__(self):
            pass

    class PickyPlugin:
        @hookimpl
        def register_executors(self, register):
            register("picky", Picky)

    with plugins.registered_plugin(PickyPlugin(), name="picky-plugin"):
        with pytest.raises(PluginError, match=r"Could not create executor 'picky' \(from plugin "
                                              r"'picky-plugin'\) with options \{'workers': 2\}: "
                                              r"TypeError") as info:
            plugins.get_executor("picky", workers=2)
        assert isinstance(info.value.__cause__, TypeError)


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("this exception cannot be printed")


def test_a_factory_error_that_cannot_be_printed_is_still_named():
    """ferroflow's one text of an exception (ferroflow.errors.one_line) names an
    exception whose str() raises by its type, here as in notifications."""
    def broken(**options):
        raise Unprintable()

    class BrokenPlugin:
        @hookimpl
        def register_executors(self, register):
            register("broken", broken)

    with plugins.registered_plugin(BrokenPlugin(), name="broken-plugin"):
        with pytest.raises(PluginError) as info:
            plugins.get_executor("broken")
    assert str(info.value) == "Could not create executor 'broken' (from plugin 'broken-plugin'): Unprintable"


def test_get_registry_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="Unknown registry kind 'executor'"):
        plugins.get_registry("executor")


# -- runtime registration (test helper) ------------------------------------------------


class FakeExecutor:
    def __init__(self, **options):
        self.options = options

    def submit(self, unit):
        raise NotImplementedError("a stand-in: never runs units")

    def wait(self):
        raise NotImplementedError("a stand-in: never runs units")


class FakePlugin:
    @hookimpl
    def register_executors(self, register):
        register("fake", FakeExecutor)

    @hookimpl
    def register_result_stores(self, register):
        register("fake-store", dict)


def test_registered_plugin_is_visible_inside_the_block_only(plugin_record):
    with plugins.registered_plugin(FakePlugin(), name="fake-plugin") as name:
        assert name == "fake-plugin"
        assert isinstance(plugins.get_executor("fake", a=1), FakeExecutor)
        assert plugins.get_registry("result_stores")["fake-store"].factory is dict
        record = plugin_record("fake-plugin")
        assert record.source == "runtime"
        assert record.registrations == {"executors": ["fake"], "result_stores": ["fake-store"]}
    assert "fake" not in plugins.get_registry("executors")
    assert not [r for r in plugins.list_plugins() if r.name == "fake-plugin"]


def test_registered_plugin_unregisters_on_error():
    plugin = FakePlugin()
    with pytest.raises(RuntimeError):
        with plugins.registered_plugin(plugin):
            raise RuntimeError("inside")
    assert not plugins.get_plugin_manager().is_registered(plugin)


def test_registered_plugin_rejects_bad_hookimpls():
    class Bad:
        @hookimpl
        def register_executors(self, register, extra):  # pragma: no cover - rejected
            pass

    with pytest.raises(PluginError, match="PluginValidationError"):
        with plugins.registered_plugin(Bad()):
            pass  # pragma: no cover


def test_register_callback_validates_its_arguments(plugin_record):
    class NoName:
        @hookimpl
        def register_executors(self, register):
            register("", FakeExecutor)

    class NotCallable:
        @hookimpl
        def register_executors(self, register):
            register("nc", 42)

    with plugins.registered_plugin(NoName(), name="noname"), \
            plugins.registered_plugin(NotCallable(), name="notcallable"):
        assert "must be a non-empty string" in plugin_record("noname").error
        assert "is not callable: 42" in plugin_record("notcallable").error


def test_register_after_the_hook_returned_is_refused():
    kept = []

    class Late:
        @hookimpl
        def register_executors(self, register):
            kept.append(register)

    with plugins.registered_plugin(Late()):
        plugins.get_registry("executors")
        with pytest.raises(PluginError, match="after its register_executors hook returned"):
            kept[0]("late", FakeExecutor)


def test_plugin_without_hookimpls_gets_a_warning(monkeypatch, plugin_record):
    module = types.ModuleType("ferroflow_test_nohooks")

    def register_executors(register):  # forgot @hookimpl
        register("nohooks", FakeExecutor)

    module.register_executors = register_executors
    monkeypatch.setitem(sys.modules, "ferroflow_test_nohooks", module)
    monkeypatch.setattr(manager, "BUILTIN_PLUGINS", ("ferroflow_test_nohooks",))
    record = plugin_record("ferroflow_test_nohooks")
    assert record.status == "ok"
    assert any("hookimpl" in w for w in record.warnings)


# -- built-ins -----------------------------------------------------------------------


def test_builtins_register_through_the_same_hook(monkeypatch, plugin_record):
    module = types.ModuleType("ferroflow_test_builtin")

    @hookimpl
    def register_executors(register):
        register("builtin-fake", FakeExecutor)

    module.register_executors = register_executors
    monkeypatch.setitem(sys.modules, "ferroflow_test_builtin", module)
    monkeypatch.setattr(manager, "BUILTIN_PLUGINS", ("ferroflow_test_builtin",))
    record = plugin_record("ferroflow_test_builtin")
    assert record.source == "built-in" and record.status == "ok"
    assert record.registrations == {"executors": ["builtin-fake"]}
    assert plugins.get_plugin_manager().get_plugin("ferroflow_test_builtin") is module
    assert isinstance(plugins.get_executor("builtin-fake"), FakeExecutor)


def test_builtin_that_cannot_be_imported_is_recorded(monkeypatch, plugin_record, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    monkeypatch.setattr(manager, "BUILTIN_PLUGINS", ("ferroflow_test_missing.local",))
    record = plugin_record("ferroflow_test_missing.local")
    assert record.source == "built-in"
    assert record.status == "failed"
    assert record.error == "ModuleNotFoundError: No module named 'ferroflow_test_missing'"
    with pytest.raises(PluginError, match=r"The plugin 'ferroflow_test_missing.local' \(built-in\) "
                                          r"failed to load"):
        plugins.get_executor("local")
    assert any("built-in plugin 'ferroflow_test_missing.local' could not be imported" in r.getMessage()
               for r in caplog.records)


def test_builtin_entry_point_is_not_loaded_twice(tmp_path, monkeypatch, plugin_record):
    # ferroflow's own distribution declares `local = "ferroflow.executors.local"`.
    module = types.ModuleType("ferroflow_test_builtin2")

    @hookimpl
    def register_executors(register):
        register("builtin2", FakeExecutor)

    module.register_executors = register_executors
    monkeypatch.setitem(sys.modules, "ferroflow_test_builtin2", module)
    monkeypatch.setattr(manager, "BUILTIN_PLUGINS", ("ferroflow_test_builtin2",))
    info = tmp_path / "ferroflow_fake-9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ferroflow-fake\nVersion: 9.9\n")
    (info / "entry_points.txt").write_text("[ferroflow]\nbuiltin2 = ferroflow_test_builtin2\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    records = plugins.list_plugins()
    assert [r.name for r in records].count("ferroflow_test_builtin2") == 1
    assert not [r for r in records if r.name == "builtin2"]
    assert plugin_record("ferroflow_test_builtin2").registrations == {"executors": ["builtin2"]}


def test_the_local_executor_is_registered_when_importable():
    try:
        import ferroflow.executors.local as local
    except ModuleNotFoundError as exc:
        if exc.name != "ferroflow._core":
            raise
        pytest.skip("the compiled core ferroflow._core is not built")
    registry = plugins.get_registry("executors")
    assert registry["local"].plugin == "ferroflow.executors.local"
    assert isinstance(plugins.get_executor("local"), local.LocalExecutor)
    assert isinstance(plugins.get_executor(None), local.LocalExecutor)


def test_duplicate_entry_point_names_are_reported(tmp_path, monkeypatch, install, plugin_record):
    install("good")
    info = tmp_path / "other" / "ferroflow_dupe-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ferroflow-dupe\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[ferroflow]\ngood = ferroflow_test_dupe\n")
    (tmp_path / "other" / "ferroflow_test_dupe.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "other"))
    plugins.reset_plugin_manager()
    # both load; the distribution first by name keeps the bare plugin name
    dupe, good = (plugin_record(name) for name in ("good", "ferroflow-testgood:good"))
    assert dupe.distribution == "ferroflow-dupe" and dupe.status == "ok"
    assert good.distribution == "ferroflow-testgood" and good.status == "ok"
    assert good.warnings == ["entry point name 'good' is also used by plugin 'good' (ferroflow-dupe 1.0); "
                             "this plugin is named 'ferroflow-testgood:good'"]
    assert good.registrations == {"executors": ["good"], "serializers": ["goodser"]}
