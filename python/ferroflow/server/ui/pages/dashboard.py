"""The dashboard (``/``): runs over time by state, recent runs, failures, late runs and
the workers' health, each read with one query of :mod:`ferroflow.store.queries` or
:mod:`ferroflow.store.claims`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ferroflow.server.deps import Reading
from ferroflow.server.ui.web import Viewer, page, render, state_class, when
from ferroflow.store import claims, queries

__all__ = ["WINDOWS", "Chart", "chart", "router"]

router = APIRouter()

#: The windows the chart can show: name -> (bucket seconds, buckets).
WINDOWS = {"1h": (120.0, 30), "24h": (3600.0, 24), "7d": (6 * 3600.0, 28), "30d": (86400.0, 30)}

#: States in the order they are stacked (others follow, by name).
_ORDER = ("Success", "Cached", "Running", "Pending", "Retrying", "Paused", "Cancelling", "Cancelled", "Skipped",
          "Failed", "TimedOut", "TriggerFailed", "Crashed", "Unknown")
_WIDTH, _HEIGHT, _PAD = 720.0, 160.0, 24.0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    w: float
    h: float
    css: str
    title: str


@dataclass(frozen=True)
class Chart:
    """A stacked bar chart of runs per window, laid out for the template: ``bars``
    (one rectangle per window and state), ``ticks`` (x, label) and the ``top`` count."""

    width: float
    height: float
    bars: list[Bar]
    ticks: list[tuple[float, str]]
    top: int
    total: int
    legend: list[tuple[str, str, int]]


def chart(counts: dict[str, list[int]], since: float, bucket: float, buckets: int) -> Chart:
    """The chart of ``counts`` (:func:`ferroflow.store.queries.runs_over_time`)."""
    states = sorted(counts, key=lambda s: (_ORDER.index(s) if s in _ORDER else len(_ORDER), s))
    totals = [sum(counts[s][i] for s in states) for i in range(buckets)]
    top = max(totals, default=0) or 1
    slot = (_WIDTH - _PAD) / buckets
    scale = (_HEIGHT - _PAD) / top
    bars = []
    for i in range(buckets):
        y = _HEIGHT - _PAD
        start = when(since + i * bucket)
        for s in states:
            n = counts[s][i]
            if n:
                h = max(1.0, n * scale)
                y -= h
                bars.append(Bar(round(_PAD + i * slot + 1, 1), round(y, 1), round(max(1.0, slot - 2), 1),
                                round(h, 1), state_class(s), f"{start}: {n:,} {s}"))
    step = max(1, buckets // 6)
    ticks = [(round(_PAD + i * slot, 1), when(since + i * bucket)[5:16]) for i in range(0, buckets, step)]
    legend = [(s, state_class(s), sum(counts[s])) for s in states]
    return Chart(_WIDTH, _HEIGHT, bars, ticks, top if any(totals) else 0, sum(totals), legend)


@router.get("/", summary="Dashboard")
def dashboard(request: Request, viewer: Annotated[Viewer, page("read")], conn: Reading,
              window: Annotated[str, Query(pattern="^(1h|24h|7d|30d)$")] = "24h") -> Response:
    """Runs over time by state, the latest runs, failures, late runs, workers."""
    now = time.time()
    bucket, buckets = WINDOWS[window]
    since = (now // bucket + 1) * bucket - bucket * buckets
    counts = queries.runs_over_time(conn, since, bucket, buckets)
    recent = queries.list_runs(conn, started_before=now, limit=15).items
    failed = queries.list_runs(conn, states=("Failed", "Crashed", "TimedOut"), limit=8).items
    late = queries.list_runs(conn, states=("Late",), limit=8).items
    workers = claims.list_workers(request.app.state.engine)
    return render(request, "dashboard.html", nav="dashboard", window=window, windows=list(WINDOWS),
                  chart=chart(counts, since, bucket, buckets), recent=recent, failed=failed, late=late,
                  workers=workers, now=now)
