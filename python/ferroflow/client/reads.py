"""A server's runs, read the way the command line reads the local run store.

:class:`ServerRuns` answers the read methods of :class:`~ferroflow.store.RunStore`
that ``ferroflow runs``, ``runs show`` and ``logs`` use (``list_runs``,
``resolve_run``, ``task_states``, ``logs``) through the API, with the same types, so
one renderer shows runs from either.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ferroflow.client.http import Client, ClientError
from ferroflow.store.base import ChildState, LogLine, RunSummary, TaskSummary
from ferroflow.store.errors import AmbiguousRunIdError, UnknownRunError

__all__ = ["ServerRuns"]

_FULL_ID = re.compile(r"[0-9a-fA-F]{32}")


class ServerRuns:
    """The runs of the server ``client`` talks to (``location``: its URL)."""

    def __init__(self, client: Client):
        self.client = client
        self.location = client.url

    def list_runs(self, limit: int | None = 20, flow_name: str | None = None) -> list[RunSummary]:
        """The most recent runs first, at most ``limit`` (None: all)."""
        return list(self.client.iter_runs(limit=limit, flow=flow_name))

    def child_runs(self, run_id: str, limit: int | None = None) -> list[RunSummary]:
        """The subflow runs of run ``run_id``, oldest first, at most ``limit`` (None:
        all; the API lists them newest first: every page is read)."""
        if not _FULL_ID.fullmatch(run_id):  # (the API takes full ids only; no run of the server has another)
            return []
        found: list[RunSummary] = list(self.client.iter_runs(parent_run_id=run_id))
        found.reverse()
        return found if limit is None else found[:limit]

    def get_run(self, run_id: str) -> RunSummary | None:
        """The run with this full id, or None."""
        return self.client.get_run(run_id)

    def resolve_run(self, run_id: str) -> RunSummary:
        """The run ``run_id``, or the one run whose id starts with it; the store's
        :class:`UnknownRunError` / :class:`AmbiguousRunIdError` otherwise."""
        found = self.client.get_run(run_id) if len(run_id) == 32 else None
        if found is not None:
            return found
        matches = self.client.match_run_ids(run_id, limit=AmbiguousRunIdError.SHOWN + 1)
        if len(matches) > 1:
            raise AmbiguousRunIdError(run_id, matches, self.location)
        found = self.client.get_run(matches[0]) if matches else None
        if found is None:
            raise UnknownRunError(run_id, self.location)
        return found

    def task_states(self, run_id: str, failed_limit: int | None = 100) -> list[TaskSummary]:
        """Every task of a run, with up to ``failed_limit`` failed children each."""
        tasks: list[TaskSummary] = []
        for task in self.client.run_tasks(run_id):
            failed: list = []
            if task.failed_count and failed_limit != 0:
                name = task.slug or task.name
                cursor = None
                while failed_limit is None or len(failed) < failed_limit:
                    want = 200 if failed_limit is None else min(200, failed_limit - len(failed))
                    page = self.client.failed_children(run_id, name, limit=want, cursor=cursor)
                    failed.extend(page.items)
                    if page.next_cursor is None:
                        break
                    cursor = page.next_cursor
            tasks.append(dataclasses.replace(task, failed_children=failed))
        return tasks

    def child_state(self, run_id: str, task_id: int, index: int) -> ChildState | None:
        """Child ``index`` of the task ``task_id`` (-1: the task itself), or None when
        it never reported (or the run has no such task)."""
        for task in self.client.run_tasks(run_id):
            if task.task_id == task_id:
                return self.client.child(run_id, task.slug or task.name, index)
        return None

    def logs(self, run_id: str, task_name: str | None = None, map_index: int | None = None,
             limit: int | None = None) -> list[LogLine]:
        """A run's log records in the order they arrived, optionally of one task and
        child."""
        lines = []
        try:
            for line in self.client.iter_logs(run_id, task=task_name, map_index=map_index):
                lines.append(line)
                if limit is not None and len(lines) >= limit:
                    break
        except ClientError as exc:
            if exc.status == 404 and "no task named" in exc.detail:
                return []
            raise
        return lines

    def reap(self, timeout: float | None = None) -> list[str]:
        """Nothing: the server decides which of its runs crashed."""
        return []

    def close(self) -> None:
        """Close the client."""
        self.client.close()

    def __enter__(self) -> ServerRuns:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
