"""The API's request and response models (pydantic), and the query parameter models.

Requests forbid unknown fields (``extra="forbid"``: a misspelt field is a 422 naming
it, never silently ignored), bound every string and number, and refuse NUL characters
(which PostgreSQL cannot store in text). Times are seconds since the epoch (UTC), as
the run record keeps them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ferroflow.store.base import LogLine
from ferroflow.store.control import RUN_STATES
from ferroflow.store.keys import ROLES, ApiKey

__all__ = [
    "ApprovalIn", "ApprovalOut", "CancelIn", "ChildOut", "ChildPage", "ChildQuery", "FlowOut", "FlowPage",
    "HealthOut", "KeyCreated", "KeyIn", "LogPage", "LogQuery", "PageQuery", "ProblemOut",
    "RunIn", "RunOut", "RunPage", "RunQuery", "StateIn", "TaskOut", "VersionOut",
]

MAX_INT32 = 2**31 - 1
#: A pattern for text given in a path: anything but NUL (which PostgreSQL cannot store).
NO_NUL = r"^[^\x00]*$"
#: Largest JSON document of a run's parameters.
MAX_PARAMETERS_BYTES = 256 * 1024


def _no_nul(text: str) -> str:
    if "\x00" in text:
        raise ValueError("a NUL character (\\u0000) is not allowed")
    return text


Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_no_nul)]
Message = Annotated[str, StringConstraints(max_length=10_000), AfterValidator(_no_nul)]
Key = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_no_nul)]
RunState = Literal[RUN_STATES]  # type: ignore[valid-type]
Role = Literal[ROLES]  # type: ignore[valid-type]
Finite = Annotated[float, Field(allow_inf_nan=False, ge=0)]
Limit = Annotated[int, Field(ge=1, le=500, description="Most items in the page (1-500)")]
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$"),
                   Field(description="The next_cursor of the previous page, unchanged")]


def _parameters(value: dict) -> dict:
    if len(json.dumps(value)) > MAX_PARAMETERS_BYTES:
        raise ValueError(f"parameters larger than {MAX_PARAMETERS_BYTES // 1024} KiB as JSON: pass large values "
                         f"by reference (a path or URL)")
    return value


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ProblemOut(BaseModel):
    """An error (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict] | None = None


class HealthOut(_Out):
    """The server can serve: its database is reachable and at the current schema."""

    status: Literal["ok"] = "ok"
    database: str = Field(description="`sqlite` or `postgresql`")
    schema_version: int


class VersionOut(_Out):
    """The server's versions."""

    ferroflow: str
    api: str = "v1"
    schema_version: int


# ----- flows ------------------------------------------------------------------------


class FlowOut(_Out):
    """A flow the server has seen runs of."""

    name: str
    parameters: dict[str, Any]
    created_at: float
    updated_at: float


class FlowPage(_Out):
    """A page of flows, by name."""

    items: list[FlowOut]
    next_cursor: str | None


# ----- runs -------------------------------------------------------------------------


class RunIn(_In):
    """A run to create (state ``Scheduled``)."""

    flow_name: Name
    parameters: Annotated[dict[Annotated[str, StringConstraints(max_length=200)], Any],
                          AfterValidator(_parameters)] = Field(default_factory=dict)
    tags: Annotated[list[Tag], Field(max_length=50)] = Field(default_factory=list)
    idempotency_key: Key | None = Field(
        default=None, description="Sending the same key again returns the same run (200) instead of a new one (201)")
    scheduled_start: Finite | None = Field(default=None, description="When the run is to start (default: now)")


class RunOut(_Out):
    """A flow run. ``message`` starts with ``record_error`` when the run's record is
    incomplete. ``started_at`` of a run not started yet is when it is to start.
    ``executor`` says what it ran on, ``run_name`` what its flow named it."""

    run_id: str
    flow_name: str
    state: str
    message: str | None
    parameters: dict[str, Any]
    tags: list[str]
    started_at: float
    ended_at: float | None
    created_at: float | None
    resumed_from: str | None
    hostname: str | None
    pid: int | None
    record_error: str | None
    executor: str | None = Field(description="The executor the run ran on, with its options "
                                 "(secret-looking ones masked): `local`, `ferroflow-dask:dask(address='...')`; "
                                 "null for a run not started yet or recorded before schema 10")
    parent_run_id: str | None = Field(default=None, description="The run this one is a subflow run of (a flow "
                                      "called inside another flow run), or null; list a run's subflow runs with "
                                      "`GET /runs?parent_run_id=...`")
    run_name: str | None = Field(default=None, description="The run's name (an eager flow's `flow_run_name`, "
                                 "`etl-2026-12-01`; one line of at most 200 characters, non-printable ones "
                                 "escaped), or null: a run without one, or recorded before schema 12")
    state_version: int = Field(description="Bumped by every state change; send it back as expected_version")
    idempotency_key: str | None


class RunPage(_Out):
    """A page of runs, newest first."""

    items: list[RunOut]
    next_cursor: str | None


class StateIn(_In):
    """A new state for a run."""

    state: RunState
    message: Message | None = None
    expected_version: Annotated[int, Field(ge=0, le=MAX_INT32)] | None = Field(
        default=None, description="The run's state_version as the client saw it: a run changed since is a 409")


class CancelIn(_In):
    """Cancelling a run (the body is optional)."""

    expected_version: Annotated[int, Field(ge=0, le=MAX_INT32)] | None = None


class RunQuery(_In):
    """Filters and page of the runs list (every filter given must hold)."""

    flow: Name | None = Field(default=None, description="Only runs of this flow")
    state: list[RunState] = Field(default_factory=list, max_length=len(RUN_STATES),
                                  description="Only runs in one of these states (repeat the parameter)")
    started_after: Finite | None = Field(default=None, description="Started at or after (seconds since the epoch)")
    started_before: Finite | None = Field(default=None, description="Started before (seconds since the epoch)")
    tag: list[Tag] = Field(default_factory=list, max_length=20, description="Only runs with all of these tags")
    id_prefix: Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[0-9a-fA-F]+$")] | None = \
        Field(default=None, description="Only runs whose id starts with this (to resolve an abbreviated id)")
    resumed_from: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{32}$")] | None = Field(
        default=None, description="Only runs that resume this run (its retries, say)")
    parent_run_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{32}$")] | None = Field(
        default=None, description="Only the subflow runs of this run")
    limit: Limit = 50
    cursor: Cursor | None = None


class PageQuery(_In):
    """A page of a list."""

    limit: Limit = 100
    cursor: Cursor | None = None


# ----- tasks and children -----------------------------------------------------------


class TaskOut(_Out):
    """A task of a run: its own latest state (None: never reported), its mapped
    children counted by state, and whether it is approved to go on past a pause."""

    task_id: int
    name: str
    slug: str | None
    is_mapped: bool
    width: int | None
    state: str | None
    run_count: int | None
    message: str | None
    result_location: str | None
    counts: dict[str, int]
    failed_count: int
    approved: bool


class ChildOut(_Out):
    """A task run: a mapped child (``map_index`` >= 0) or the task itself (-1).
    ``run_count`` is None for a child that simply succeeded (not kept);
    ``traceback`` is given by the failed-children and single-child endpoints."""

    task_id: int
    map_index: int
    state: str
    run_count: int | None
    message: str | None
    result_location: str | None
    traceback: str | None = None


class ChildPage(_Out):
    """A page of children, in index order."""

    items: list[ChildOut]
    next_cursor: str | None


class ChildQuery(_In):
    """Filter and page of a task's children."""

    state: list[Annotated[str, StringConstraints(min_length=1, max_length=40)]] = Field(
        default_factory=list, max_length=20, description="Only children in one of these states (task-run states: "
                                                          "Success, Failed, Skipped, ...; repeat the parameter)")
    limit: Limit = 50
    cursor: Cursor | None = None


# ----- logs -------------------------------------------------------------------------


class LogPage(_Out):
    """A page of log records, in the order they arrived."""

    items: list[LogLine]
    next_cursor: str | None


class LogQuery(_In):
    """Filters and page of a run's logs."""

    task: Name | None = Field(default=None, description="Only records of this task (slug or name)")
    map_index: Annotated[int, Field(ge=-1, le=MAX_INT32)] | None = Field(
        default=None, description="Only records of this child of the task (-1: the task itself); needs task")
    min_level: Annotated[str, StringConstraints(min_length=1, max_length=10)] | None = Field(
        default=None, description="Only records at this level or above: a number (0-100) or a name (DEBUG, INFO, "
                                  "WARNING, ERROR, CRITICAL)")
    text: Annotated[str, StringConstraints(min_length=1, max_length=500), AfterValidator(_no_nul)] | None = Field(
        default=None, description="Only records whose message contains this (ignoring case)")
    limit: Limit = 100
    cursor: Cursor | None = None


# ----- approvals --------------------------------------------------------------------


class ApprovalIn(_In):
    """A task (name or slug) to approve."""

    task: Name


class ApprovalOut(_Out):
    """The task approved, and every approved task of the run."""

    run_id: str
    task: TaskOut
    approved: list[str] = Field(description="Names of the run's approved tasks")
    next_step: str


# ----- keys -------------------------------------------------------------------------


class KeyIn(_In):
    """A key to make."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_no_nul)]
    role: Role


@dataclass(frozen=True)
class KeyCreated(ApiKey):
    """A key just made: its ApiKey and ``key``, shown this once."""

    key: str
