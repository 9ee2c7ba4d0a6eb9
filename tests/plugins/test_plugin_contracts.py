"""Contracts checked where ferroflow crosses into a plugin: a broken one raises a
:class:`PluginContractError` naming the plugin, its distribution and the rule.

The plugin is the fixture distribution ``ferroflow-testcontracts 0.3.0``
(``tests/plugins/fixtures/contracts``), found through its entry point as an installed
wheel would be; flows run on the real engine.
"""

from __future__ import annotations

import logging

import pytest

from ferroflow import Flow, task
from ferroflow.errors import PluginContractError, PluginError
from ferroflow.plugins import get_executor, hookimpl, registered_plugin
from ferroflow.results import Result
from ferroflow.results.serializers import get_serializer

SOURCE = "(from ferroflow-testcontracts 0.3.0)"


@task
def one():
    return 1


@task
def plus(x):
    return x + 1


def small_flow() -> Flow:
    with Flow("contracts") as flow:
        plus(one())
    return flow


def run_failed_with(executor_name: str) -> PluginContractError:
    """Run the small flow on the executor; it must end Failed with a contract error."""
    state = small_flow().run(executor=get_executor(executor_name))
    assert state.is_failed(), state
    error = state.result
    assert isinstance(error, PluginContractError), (type(error), error)
    return error


def assert_names(error: PluginContractError, name: str, rule: str) -> None:
    message = str(error)
    assert message.startswith(f"executor 'ferroflow-testcontracts:{name}' {SOURCE} broke the "
                              f"executor contract: "), message
    assert rule in message, message
    assert error.distribution == "ferroflow-testcontracts" and error.version == "0.3.0"
    assert error.name == f"ferroflow-testcontracts:{name}" and error.kind == "executor"
    assert isinstance(error, PluginError)


def test_a_well_behaved_executor_of_the_plugin_runs_the_flow(install):
    install("contracts")
    state = small_flow().run(executor=get_executor("inline-ok"))
    assert state.is_successful(), state.result


@pytest.mark.parametrize(("name", "returned"), [
    ("bare-results", "an item was UnitResult"),
    ("id-dict", "it returned dict"),
], ids=["bare-results", "id-dict"])
def test_wait_returning_the_wrong_shape(install, name, returned):
    install("contracts")
    error = run_failed_with(name)
    assert_names(error, name, "wait() must return a list of (unit, UnitResult) pairs")
    assert returned in str(error)
    assert "cannot unpack" not in str(error)


def test_wait_keying_units_in_a_dict(install):
    install("contracts")
    error = run_failed_with("result-dict")
    assert_names(error, "result-dict", "units are not hashable: keep them in a list of "
                                       "(unit, UnitResult) pairs, or key them by id(unit)")
    assert isinstance(error.__cause__, TypeError)


@pytest.mark.parametrize(("name", "returned"), [
    ("zero-slots", "it returned int 0"),
    ("text-slots", "it returned str '4'"),
], ids=["zero-slots", "text-slots"])
def test_slots_not_a_positive_int(install, name, returned):
    install("contracts")
    error = run_failed_with(name)
    assert_names(error, name, "slots() must return an int of at least 1")
    assert returned in str(error)


def test_shutdown_raising_keeps_a_successful_run_successful(install, caplog):
    install("contracts")
    caplog.set_level(logging.WARNING, logger="ferroflow.plugins")
    state = small_flow().run(executor=get_executor("raising-shutdown"))
    assert state.is_successful(), state.result
    warnings = [r.getMessage() for r in caplog.records if r.name == "ferroflow.plugins"]
    assert any(m.startswith(f"executor 'ferroflow-testcontracts:raising-shutdown' {SOURCE} broke "
                            f"the executor contract: shutdown() must release its resources without "
                            f"raising; it raised RuntimeError: pool already closed") for m in warnings), warnings


def test_factory_building_no_executor(install):
    install("contracts")
    with pytest.raises(PluginContractError) as info:
        get_executor("not-an-executor", pool=2)
    message = str(info.value)
    assert message.startswith(f"executor 'ferroflow-testcontracts:not-an-executor' {SOURCE} broke "
                              f"the executor contract: its factory 'not_an_executor' must build an "
                              f"executor (with submit(), wait())"), message
    assert "it returned dict {'options': {'pool': 2}}" in message


def test_serializer_dumps_returning_text(install):
    install("contracts")
    result = Result(serializer=get_serializer("text"), location="{task_name}.out")
    for write in (lambda: result.write_value(5, task_name="t"),
                  lambda: result.write_many([5], [{"task_name": "t"}])):
        with pytest.raises(PluginContractError) as info:
            write()
        message = str(info.value)
        assert message == (f"serializer 'ferroflow-testcontracts:text' {SOURCE} broke the "
                           f"serializer contract: dumps() must return bytes; it returned str '5'")


def test_store_reading_back_text(install):
    from ferroflow.results.stores import get_result_store

    install("contracts")
    result = Result(store=get_result_store("text-store"), serializer="json", location="{task_name}.out")
    location = result.write_value([1, 2], task_name="t")
    expected = (f"result store 'ferroflow-testcontracts:text-store' {SOURCE} broke the result store "
                f"contract: read() must return bytes; it returned str '[1, 2]'")
    with pytest.raises(PluginContractError) as info:
        result.read_value(location)
    assert str(info.value) == expected
    with pytest.raises(PluginContractError) as info:
        result.read_many([location])
    assert str(info.value) == expected


class NotAStore:
    def write(self, location, data):
        pass


class RuntimePlugin:
    @hookimpl
    def register_result_stores(self, register):
        register("half-store", NotAStore)

    @hookimpl
    def register_notifiers(self, register):
        register("not-callable", NotAStore)


def test_runtime_plugin_factories_of_the_wrong_type():
    from ferroflow.notifications import get_notifier
    from ferroflow.results.stores import get_result_store

    with registered_plugin(RuntimePlugin()):
        with pytest.raises(PluginContractError, match=(
                r"^result store 'half-store' \(from unknown distribution\) broke the result store "
                r"contract: its factory 'NotAStore' must build a result store \(with read\(\), "
                r"exists\(\)\)")):
            get_result_store("half-store")
        with pytest.raises(PluginContractError, match=(
                r"^notifier 'not-callable' \(from unknown distribution\) broke the notifier "
                r"contract: its factory 'NotAStore' must build a notifier \(with notify\(\)\)")):
            get_notifier("not-callable")
