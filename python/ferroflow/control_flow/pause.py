"""``pause_task``: stop a task run until someone approves it."""

from __future__ import annotations

from ferroflow import signals

__all__ = ["pause_task"]


def pause_task(message: str | None = None) -> None:
    """Inside a task: raise :class:`ferroflow.signals.PAUSE` unless this task was
    approved (``ferroflow.context.resume``), so the code after the call runs only in a
    run resumed with ``flow.run(resume=RUN_ID, approve=["task"])``::

        @task
        def deploy(build):
            pause_task("deploy to production?")
            ...  # runs once approved
    """
    from ferroflow.runtime.context import context

    if not context.get("resume"):
        raise signals.PAUSE(message or "Waiting for approval (pause_task).")
