"""``Secret``: a task whose result is a secret's value (Prefect 1's ``PrefectSecret``).

::

    from ferroflow import Flow
    from ferroflow.tasks import Secret

    with Flow("load") as flow:
        password = Secret("DB_PASSWORD")()
        load(password=password)

The value comes from :func:`ferroflow.secrets.get` (the server, or the database
decrypted with ``FERROFLOW_SECRET_KEY``) and is registered for scrubbing in the process
the task runs in: logs, states, messages and the run store show ``********`` in its
place (the flow process learns values read in a worker process with the unit's
results). Its result is never checkpointed nor cached: ``checkpoint`` is always False,
and ``result``, ``target`` and the cache options are refused, so a resumed run reads
the secret again. See ``docs/secrets.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ferroflow.core.task import Task

__all__ = ["Secret", "PrefectSecret"]

#: Options that would keep the task's result somewhere (refused).
_KEEPING = ("result", "target", "cache_for", "cache_validator", "cache_key", "cache_key_fn")


class Secret(Task):
    """The value of secret ``name`` (or of the ``name`` input given when called:
    ``Secret()(name="TOKEN")``, ``Secret().map(name=[...])``).

    ``name`` is the secret's name, and the task's name too (as in Prefect 1); give
    ``task_name=`` for another task name. Other keyword arguments are Task options
    (``max_retries``, ``tags``...), except those that would keep its result:
    ``checkpoint`` is always False; ``result``, ``target`` and the cache options are
    refused (here, in ``copy()`` and in ``task_args=`` alike).
    """

    def __init__(self, name: str | None = None, task_name: str | None = None, **task_kwargs: Any):
        self.secret_name = name
        super().__init__(name=task_name or name, **task_kwargs)

    def _set_options(self, given: Mapping[str, Any], new: bool = False) -> None:
        for option in _KEEPING:
            if given.get(option) is not None:
                raise ValueError(f"Task {self.name!r}: a Secret task keeps its value nowhere, so it takes no "
                                 f"{option!r} (its result is never checkpointed nor cached)")
        if given.get("checkpoint"):
            raise ValueError(f"Task {self.name!r}: a Secret task's result is never checkpointed (checkpoint=True "
                             "is refused)")
        super()._set_options({**given, "checkpoint": False}, new)

    def run(self, name: str | None = None) -> str:
        """The value of secret ``name`` (default: the task's)."""
        from ferroflow import secrets

        name = self.secret_name if name is None else name
        if name is None:
            raise ValueError("A secret name must be provided: Secret('NAME') or Secret()(name='NAME').")
        return secrets.get(name)


#: Prefect 1's name (``from prefect.tasks.secrets import PrefectSecret``).
PrefectSecret = Secret
