"""Source text of small flows, for tests that run a flow in a subprocess."""

from __future__ import annotations


def one_task_flow(name: str) -> str:
    """Python source that defines ``flow``: a flow named ``name`` of one task,
    ``one()``, returning 1 (nothing is run)."""
    return (f"from ferroflow import Flow, task\n\n\n@task\ndef one():\n    return 1\n\n\n"
            f"with Flow({name!r}) as flow:\n    one()\n")
