"""Hook specifications: every integration point a ferroflow plugin can implement.

A plugin is any importable object (usually a module) whose functions are marked with
:data:`ferroflow.plugins.hookimpl` and named after one of the hooks below. A
distribution makes its plugin known by declaring an entry point in the ``ferroflow``
group::

    [project.entry-points.ferroflow]
    dask = "ferroflow_dask"

Built-in executors, result stores, serializers and notifiers are registered through
these same hooks; nothing built in is special.

Registration hooks take a ``register`` callback (the shape ``llm`` uses): the plugin
calls ``register(name, factory)`` once per thing it provides. ``name`` is what users
write (``flow.run(executor="dask")``, ``ferroflow run --executor dask``); ``factory``
is called with the user's options as keyword arguments to build an instance. A
plugin may register several things in one call, or none.

Registration hooks are called once per plugin manager (lazily, the first time a
registry is needed), never per flow run and never per task run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ferroflow.executors import Executor
    from ferroflow.launchers import Launcher

__all__ = [
    "PROJECT_NAME",
    "hookspec",
    "register_executors",
    "register_result_stores",
    "register_serializers",
    "register_notifiers",
    "register_launchers",
]

#: The pluggy project name shared by the hookspec and hookimpl markers.
PROJECT_NAME = "ferroflow"

#: Marks a function in this module as a hook specification.
hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def register_executors(register: Callable[[str, Callable[..., Executor]], None]) -> None:
    """Register executors: the objects that run the engine's work units.

    Call ``register(name, factory)`` once per executor the plugin provides.

    Args:
        register: ``register(name: str, factory: Callable[..., Executor]) -> None``.
            ``name`` is the executor's public name (``"local"``, ``"dask"``);
            it must be a non-empty string not used by another plugin.
            ``factory`` is called as ``factory(**options)`` with the options the
            user passed to :func:`ferroflow.plugins.get_executor`; an executor
            class is the usual factory.

    Returns:
        Nothing; the return value is ignored.

    Example::

        from ferroflow.plugins import hookimpl

        @hookimpl
        def register_executors(register):
            register("dask", DaskExecutor)

    If the hook raises, nothing this plugin registered in this hook is kept and the
    plugin is reported as failed (``ferroflow plugins``) while the others still load.
    Every registration is reachable as ``distribution:name``
    (``"ferroflow-dask:dask"``). A bare name belongs to its only claimant; a built-in
    keeps its bare name over a plugin's (which is warned); a bare name two
    distributions claim belongs to neither, and using it is an error listing both
    (``docs/plugin-contracts.md``). The object the factory builds is checked to be an
    executor (``submit()`` and ``wait()``): :class:`ferroflow.errors.PluginContractError`
    otherwise.
    """


@hookspec
def register_result_stores(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register result stores: where checkpointed task results are written and read.

    Call ``register(name, factory)`` once per result store the plugin provides.

    Args:
        register: ``register(name: str, factory: Callable[..., ResultStore]) -> None``.
            ``name`` is the store's public name (``"local"``, ``"s3"``);
            ``factory(**options)`` builds a store (for instance
            ``factory(base_url="file:///tmp/results")``).

    Returns:
        Nothing; the return value is ignored.

    Example::

        @hookimpl
        def register_result_stores(register):
            register("s3", S3ResultStore)

    Failure and name-conflict rules are those of :func:`register_executors`.
    """


@hookspec
def register_serializers(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register serializers: how result values become bytes and back.

    Call ``register(name, factory)`` once per serializer the plugin provides.

    Args:
        register: ``register(name: str, factory: Callable[..., Serializer]) -> None``.
            ``name`` is the serializer's public name (``"pickle"``, ``"json"``);
            ``factory(**options)`` builds a serializer.

    Returns:
        Nothing; the return value is ignored.

    Example::

        @hookimpl
        def register_serializers(register):
            register("msgpack", MsgpackSerializer)

    Failure and name-conflict rules are those of :func:`register_executors`.
    """


@hookspec
def register_notifiers(register: Callable[[str, Callable[..., Any]], None]) -> None:
    """Register notifiers: state handlers that tell people or systems about states.

    Call ``register(name, factory)`` once per notifier the plugin provides.

    Args:
        register: ``register(name: str, factory: Callable[..., Notifier]) -> None``.
            ``name`` is the notifier's public name (``"slack"``, ``"email"``);
            ``factory(**options)`` builds a notifier (for instance
            ``factory(webhook_url=..., only_states=[Failed])``).

    Returns:
        Nothing; the return value is ignored.

    Example::

        @hookimpl
        def register_notifiers(register):
            register("slack", SlackNotifier)

    Failure and name-conflict rules are those of :func:`register_executors`.
    """


@hookspec
def register_launchers(register: Callable[[str, Callable[..., Launcher]], None]) -> None:
    """Register launchers: how a worker starts the flow runs it claimed.

    Call ``register(name, factory)`` once per launcher the plugin provides.

    Args:
        register: ``register(name: str, factory: Callable[..., Launcher]) -> None``.
            ``name`` is the launcher's public name (``"process"``, ``"docker"``);
            ``factory(**options)`` builds a :class:`ferroflow.launchers.Launcher`
            (for instance ``factory(image="python:3.12")``), see
            :func:`ferroflow.launchers.get_launcher`.

    Returns:
        Nothing; the return value is ignored.

    Example::

        @hookimpl
        def register_launchers(register):
            register("docker", DockerLauncher)

    The contract a launcher keeps is ``docs/writing-a-launcher.md``; the conformance
    suite is :mod:`ferroflow.testing.launchers`. Failure and name-conflict rules are
    those of :func:`register_executors`.
    """
