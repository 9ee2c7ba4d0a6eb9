"""Resuming an earlier flow run (``flow.run(resume=RUN_ID)``).

The run store says, for every task run of the earlier run, its state and where its
result was checkpointed. A task run (a mapped child included) that succeeded and whose
checkpoint can still be read is not run again: its value is read back and reported
as it was. Everything else runs: task runs that failed, never ran (the process died
first), or kept no result. Tasks are matched by slug, so a resumed flow may have
gained or lost tasks.
"""

from __future__ import annotations

import logging
from typing import Any

from ferroflow import _core
from ferroflow.errors import FerroflowError
from ferroflow.results import ResultError
from ferroflow.runtime.checkpoints import UnreadCheckpoints
from ferroflow.store import AmbiguousRunIdError, RunStore, RunSummary, StateStoreError, UnknownRunError
from ferroflow.store.parameters import restore

__all__ = ["ResumeError", "Resume", "find_run", "resumed_parameters"]

log = logging.getLogger("ferroflow.resume")

_DONE = (_core.SUCCESS, _core.CACHED)


class ResumeError(FerroflowError, ValueError):
    """The run to resume cannot be resumed by this flow."""


def find_run(store: RunStore, run_id: str, flow_name: str) -> RunSummary:
    """The recorded run ``run_id`` (or the one run whose id starts with it, see
    :meth:`RunStore.resolve_run`), which must be a run of the flow named ``flow_name``.

    Raises :class:`~ferroflow.store.UnknownRunError` when no run is found, and
    :class:`ResumeError` when ``run_id`` abbreviates several runs (the store's
    :class:`~ferroflow.store.AmbiguousRunIdError`, with its message) or the run cannot
    be resumed by this flow."""
    try:
        run = store.resolve_run(run_id)
    except AmbiguousRunIdError as exc:
        raise ResumeError(str(exc)) from exc
    if run.flow_name != flow_name:
        raise ResumeError(f"run {run.run_id} is a run of flow {run.flow_name!r}, not of {flow_name!r}")
    # Runs recorded as running whose process died are marked so first: this one (then
    # it may be resumed), or another run resuming it (which would keep the claim below).
    try:
        store.reap()
    except StateStoreError as exc:  # a store this process cannot write: shown as it is
        log.warning("could not look for runs whose process died: %s", exc)
    reread = store.get_run(run.run_id)
    if reread is None:  # gone since (a store that forgets runs): as if never recorded
        raise UnknownRunError(run.run_id, store.location)
    run = reread
    if run.state == "Running":
        # Running now, in another process, which would write the same checkpoints.
        raise ResumeError(
            f"run {run.run_id} is still running (pid {run.pid} on {run.hostname}, alive and recording "
            f"heartbeats): resume it once it has ended, or after stopping that process")
    # Checked again, and claimed, when the new run starts (in one transaction of the
    # store): of two resumes started at once, exactly one goes ahead.
    return run


def resumed_parameters(store: RunStore, run: RunSummary, given: dict | None = None) -> dict:
    """The parameters to resume ``run`` with: those ``given``, and for the others the
    values the run was recorded with (restored from their pickles, so a date stays a
    date). Raises :class:`ResumeError` naming every parameter that cannot be restored,
    rather than run with a changed value; giving such a parameter again is the way on.

    A run recorded without pickles (by a ferroflow before schema 4) has only the JSON
    form of its parameters: those are used as they are."""
    given = dict(given or {})
    recorded = store.recorded_parameters(run.run_id)
    if recorded is None:
        return {**run.parameters, **given}
    values: dict = {}
    problems: list = []
    for name, (data, problem) in recorded.items():
        if name in given:
            continue
        try:
            values[name] = restore(name, data, problem)
        except ValueError as exc:
            problems.append((name, str(exc)))
    if problems:
        names = ", ".join(repr(name) for name, _ in problems)
        hint = " ".join(f"--param {name}=VALUE" for name, _ in problems)
        raise ResumeError(
            f"cannot resume run {run.run_id} with the parameter values it ran with: "
            f"{'; '.join(text for _, text in problems)}. Give {names} again "
            f"(flow.run(resume=..., {problems[0][0]}=...) or `ferroflow run FILE --resume {run.run_id[:12]} {hint}`)")
    return {**values, **given}


class Resume:
    """What the earlier run left that this run may reuse."""

    def __init__(self, store: RunStore, run: RunSummary, frozen: Any, checkpoints: list):
        flow = frozen.flow
        self.run = run
        #: Says which checkpoints cannot be read back (their task runs run again).
        self.unread = UnreadCheckpoints(run.run_id)
        info = store.resume_info(run.run_id)
        by_slug = {(t.slug or t.name): t for t in info.tasks.values()}
        slugs = getattr(flow, "slugs", {})
        self.tasks: dict = {}
        # task id -> (name, slug) of the tasks that did not finish in that run (paused,
        # or waiting behind a pause): the ones ``approve`` may name
        self.unfinished: dict = {}
        self.already_approved: set = set()
        for i, task in enumerate(frozen.tasks):
            slug = slugs.get(task, task.slug) or task.name
            earlier = by_slug.get(slug)
            if earlier is None:
                continue
            if earlier.approved:
                self.already_approved.add(i)
            if earlier.code in (None, _core.PENDING, _core.PAUSED) or any(
                    c == _core.PAUSED for c, _ in earlier.children.values()):
                self.unfinished[i] = (task.name, slug)
            checkpoint = checkpoints[i]
            if checkpoint is not None and checkpoint.result is not None:
                self.tasks[i] = (earlier, checkpoint.result)

    def approved(self, approve: Any) -> frozenset:
        """Ids of the tasks approved to go on past a pause in this run: those approved
        in the earlier run, plus those ``approve`` names (True: every task that did not
        finish in the earlier run; else names or slugs of such tasks)."""
        chosen = set(self.already_approved)
        if approve is None or approve is False:
            return frozenset(chosen)
        if approve is True:
            return frozenset(chosen | set(self.unfinished))
        names = [approve] if isinstance(approve, str) else list(approve)
        for name in names:
            ids = [i for i, (n, slug) in self.unfinished.items() if name in (n, slug)]
            if not ids:
                waiting = ", ".join(repr(n) for n, _ in self.unfinished.values()) or "none"
                raise ResumeError(f"cannot approve {name!r}: it is not a task that paused or waited in run "
                                  f"{self.run.run_id} (those are: {waiting})")
            chosen.update(ids)
        return frozenset(chosen)

    def take(self, task_id: int, indices: Any | None, label: str) -> tuple:
        """Split the task runs about to run into those the earlier run finished.

        Returns ``(done, values, locations, left)``: the indices (None for the task
        itself) whose results were read back, their values and locations, and the
        indices still to run (None when the task itself still runs, or ``[]``).
        """
        found = self.tasks.get(task_id)
        if found is None:
            return [], [], [], indices
        earlier, result = found
        if indices is None:
            wanted = [(None, (earlier.code, earlier.result_location))]
        else:
            wanted = [(i, earlier.child(i)) for i in indices]
        candidates = [(i, loc) for i, rec in wanted if rec is not None and rec[0] in _DONE and (loc := rec[1])]
        if not candidates:
            return [], [], [], indices
        done: list[int | None] = []
        values: list[Any] = []
        locations: list[str] = []
        read = result.read_many([loc for _, loc in candidates])
        for (i, location), value in zip(candidates, read, strict=True):
            if isinstance(value, ResultError):
                self.unread.add(label, i, location, value)
                continue
            done.append(i)
            values.append(value)
            locations.append(location)
        if indices is None:
            return done, values, locations, (None if not done else [])
        finished = set(done)
        return done, values, locations, [i for i in indices if i not in finished]
