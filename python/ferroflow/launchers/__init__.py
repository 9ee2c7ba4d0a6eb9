"""Run launchers: how a worker starts the flow runs it claimed.

A launcher takes a :class:`LaunchSpec` and starts the run somewhere (the built-in
``"process"`` launcher: a local subprocess in its own process group); it returns a
:class:`Launched` handle. Launchers are plugins (the ``register_launchers`` hook), so a
third party can add Docker or Kubernetes; :func:`get_launcher` builds one by name.
The contract: :mod:`ferroflow.launchers.base` and ``docs/writing-a-launcher.md``; the
conformance suite every launcher should pass: :mod:`ferroflow.testing.launchers`.
"""

from __future__ import annotations

from typing import Any

from ferroflow.launchers.base import (
    EXIT_CODES,
    EXIT_CRASHED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_STARTED,
    EXIT_REFUSED,
    EXIT_SUCCESS,
    Launched,
    Launcher,
    LaunchSpec,
)

__all__ = [
    "EXIT_CODES",
    "EXIT_CRASHED",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_STARTED",
    "EXIT_REFUSED",
    "EXIT_SUCCESS",
    "LaunchSpec",
    "Launched",
    "Launcher",
    "get_launcher",
]


def get_launcher(name: Any = "process", /, **options: Any) -> Launcher:
    """Return a launcher.

    Args:
        name: A launcher's registered name (``"process"``, ``"docker"``), built as
            ``factory(**options)``; a :class:`Launcher` class, instantiated with
            ``options``; or an instance, returned as is.
        **options: Keyword arguments for the launcher's factory (the built-in
            ``"process"`` launcher takes ``log_dir``, ``python`` and ``env``).

    Raises:
        PluginError: The name is unknown (the message lists the registered
            launchers), or the factory raised.
    """
    from ferroflow.plugins import create_registered

    return create_registered("launchers", name, options)
