"""ferroflow's plugin system: pluggy hooks, entry point group ``"ferroflow"``.

Writing a plugin takes a module and an entry point::

    # ferroflow_myexec.py
    from ferroflow.plugins import hookimpl

    @hookimpl
    def register_executors(register):
        register("myexec", MyExecutor)

    # pyproject.toml
    [project.entry-points.ferroflow]
    myexec = "ferroflow_myexec"

After ``pip install``, ``flow.run(executor="myexec")`` and
``ferroflow run flow.py --executor myexec`` find it. ``ferroflow plugins`` lists what
is installed and whether it loaded. The hooks are documented in
:mod:`ferroflow.plugins.hookspecs`.
"""

from __future__ import annotations

import pluggy

from ferroflow.plugins.hookspecs import PROJECT_NAME, hookspec
from ferroflow.plugins.manager import (
    BUILTIN_PLUGINS,
    DISABLE_ENV,
    ENTRY_POINT_GROUP,
    KINDS,
    TRACE_ENV,
    PluginRecord,
    Registration,
    create_registered,
    get_executor,
    get_plugin_manager,
    get_registry,
    list_plugins,
    registered_plugin,
    reset_plugin_manager,
)

__all__ = [
    "BUILTIN_PLUGINS",
    "DISABLE_ENV",
    "ENTRY_POINT_GROUP",
    "KINDS",
    "TRACE_ENV",
    "PluginRecord",
    "Registration",
    "create_registered",
    "get_executor",
    "get_plugin_manager",
    "get_registry",
    "hookimpl",
    "hookspec",
    "list_plugins",
    "registered_plugin",
    "reset_plugin_manager",
]

#: Marks a function of a plugin as the implementation of the hook it is named after.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
