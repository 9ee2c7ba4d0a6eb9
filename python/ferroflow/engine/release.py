"""Releasing intermediate values nobody needs any more (``flow.run(keep_results=False)``).

In a pipeline ``load -> transform -> save`` mapped over a million items, the core runs
children depth first with a bound on runs in flight, so only a window of ``load`` and
``transform`` values is ever *needed* at once. By default the run still keeps every
child's value, for ``state.result``; with ``keep_results=False`` a mapped task's child
value is dropped as soon as every task consuming it child by child has finished that
child, and memory stays bounded by the window instead of growing with the map.

Kept regardless: reference tasks' values (the run's output), values of tasks consumed
whole (a reduce needs the list), and values of tasks with a consumer that is not
mapped over them child by child. A released child's state has ``result=None``; its
checkpoint, when it has one, still holds the value (``state.location``).
"""

from __future__ import annotations

from typing import Any

from ferroflow import _core

__all__ = ["Releaser"]

_SUCCESS = _core.SUCCESS
_NOT_FINAL = _core.RETRYING


class Releaser:
    """Counts, per child of each releasable task, the consumers still to finish it."""

    def __init__(self, frozen: Any, record: Any, keep: set):
        self.record = record
        consumers: dict = {}  # upstream id -> consumer ids (child by child)
        blocked: set = set()  # upstream ids with another kind of consumer
        for down, edges in enumerate(frozen.in_edges):
            for edge in edges:
                up = frozen.index[edge.upstream_task]
                if edge.mapped and not edge.flattened:
                    consumers.setdefault(up, set()).add(down)
                else:
                    blocked.add(up)
        #: consumer id -> upstream ids whose children it releases when it finishes them
        self.feeds: dict = {}
        self.remaining: dict = {}  # upstream id -> bytearray of consumers left per child
        self.fan_in: dict = {}
        for up, downs in consumers.items():
            if up in blocked or up in keep:
                continue
            self.fan_in[up] = len(downs)
            for down in downs:
                self.feeds.setdefault(down, []).append(up)

    def consumed(self, reports: list) -> None:
        """Release what the finished children in ``reports`` no longer need."""
        feeds = self.feeds
        for task_id, indices, codes in reports:
            ups = feeds.get(task_id) if indices is not None else None
            if ups:
                for up in ups:
                    self._release(up, indices, codes)

    def _release(self, up: int, indices: Any, codes: Any) -> None:
        record = self.record
        if record.core.task_state(up) != _core.MAPPED:
            return  # not mapped: its one value (a list, say) is shared by every child
        values = record.values[up]
        if values is None:
            return
        if self.fan_in[up] == 1:
            if type(indices) is range and codes.count(_SUCCESS) == len(codes):
                values[indices.start:indices.stop] = [None] * len(indices)  # the common case, in C
                return
            for i, code in zip(indices, codes, strict=True):
                if _final(code) and i < len(values):
                    values[i] = None
            return
        left = self.remaining.get(up)
        if left is None:
            left = self.remaining[up] = bytearray([self.fan_in[up]]) * len(values)
        for i, code in zip(indices, codes, strict=True):
            if _final(code) and i < len(left) and left[i]:
                left[i] -= 1
                if not left[i]:
                    values[i] = None


def _final(code: int) -> bool:
    """Whether a reported code ends the child (no retry may follow)."""
    return not code & _core.RETRY_OK and code != _NOT_FINAL
