"""Reading what the web UI's flow and deployment pages summarize: per flow, its latest
run and its runs counted by state since a time, and its deployments; per deployment, its
next scheduled run, its latest run, and short lists of its upcoming and recent runs.

Each function answers for a bounded set of names or ids (a page of flows, the
deployments) with one grouped query, or one ``LIMIT 1`` index probe per name, never a
query per name and state. Runs are :class:`~ferroflow.store.queries.RunInfo` as
:mod:`ferroflow.store.queries` reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, func, select

from ferroflow.store.queries import RUN_SELECT, RunInfo, run_info
from ferroflow.store.schema import deployments, runs

__all__ = ["UNSTARTED", "deployments_of_flows", "latest_runs", "next_run_times", "run_counts_since",
           "upcoming_runs", "recent_runs"]

#: The states of runs that have not started (they sit at their scheduled start).
UNSTARTED = ("Scheduled", "Late")


def latest_runs(conn: Connection, flow_names: Iterable[str], now: float) -> dict[str, RunInfo]:
    """flow name -> its run that started last at or before ``now`` (flows without one
    are left out); one probe of ``runs_by_flow`` per name."""
    out: dict[str, RunInfo] = {}
    for name in dict.fromkeys(flow_names):
        row = conn.execute(select(*RUN_SELECT).where(runs.c.flow_name == name, runs.c.started_at <= now)
                           .order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(1)).first()
        if row is not None:
            out[name] = run_info(row)
    return out


def run_counts_since(conn: Connection, flow_names: Sequence[str], since: float, until: float) -> dict[str, dict]:
    """flow name -> {state: runs} of the runs of those flows started in ``[since,
    until)`` (one grouped query; flows without runs then are left out)."""
    if not flow_names:
        return {}
    out: dict[str, dict] = {}
    for name, state, n in conn.execute(
            select(runs.c.flow_name, runs.c.state, func.count())
            .where(runs.c.flow_name.in_(list(flow_names)), runs.c.started_at >= since, runs.c.started_at < until)
            .group_by(runs.c.flow_name, runs.c.state).order_by(runs.c.flow_name, runs.c.state)):
        out.setdefault(name, {})[state] = int(n)
    return out


def deployments_of_flows(conn: Connection, flow_names: Sequence[str]) -> dict[str, list[tuple[str, bool]]]:
    """flow name -> ``[(deployment name, paused)]`` by name (one query)."""
    if not flow_names:
        return {}
    out: dict[str, list[tuple[str, bool]]] = {}
    for flow, name, paused in conn.execute(
            select(deployments.c.flow_name, deployments.c.name, deployments.c.paused)
            .where(deployments.c.flow_name.in_(list(flow_names))).order_by(deployments.c.name)):
        out.setdefault(flow, []).append((name, bool(paused)))
    return out


def next_run_times(conn: Connection, deployment_ids: Sequence[int]) -> dict[int, float]:
    """deployment id -> when its soonest ``Scheduled`` run is to start (one grouped
    query; deployments without one are left out)."""
    if not deployment_ids:
        return {}
    return {int(d): float(t) for d, t in conn.execute(
        select(runs.c.deployment_id, func.min(runs.c.started_at))
        .where(runs.c.deployment_id.in_(list(deployment_ids)), runs.c.state == "Scheduled")
        .group_by(runs.c.deployment_id))}


def upcoming_runs(conn: Connection, deployment_id: int, limit: int = 10) -> list[RunInfo]:
    """A deployment's runs that did not start (``Scheduled``, ``Late``), soonest first."""
    return [run_info(r) for r in conn.execute(
        select(*RUN_SELECT).where(runs.c.deployment_id == deployment_id, runs.c.state.in_(UNSTARTED))
        .order_by(runs.c.started_at, runs.c.id).limit(max(1, limit)))]


def recent_runs(conn: Connection, deployment_id: int, flow_name: str, limit: int = 10) -> list[RunInfo]:
    """A deployment's runs that started, newest first (read along its flow's runs,
    ``runs_by_flow``)."""
    return [run_info(r) for r in conn.execute(
        select(*RUN_SELECT).where(runs.c.flow_name == flow_name, runs.c.deployment_id == deployment_id,
                                    runs.c.state.notin_(UNSTARTED))
        .order_by(runs.c.started_at.desc(), runs.c.id.desc()).limit(max(1, limit)))]
