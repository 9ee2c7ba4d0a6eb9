"""The run page's graph as an SVG picture: tasks in layers, left to right, each colored
by its state; a mapped task is one node with a bar of its children's states.

:func:`picture` asks the Rust core for the layered layout in pixels
(:func:`ferroflow._core.layered_svg`, the layout of
:func:`ferroflow._core.layered_layout`: layers by longest path, crossings reduced by
barycenter sweeps, long edges bent through one point per layer under a budget, the
longest drawn straight beyond it; with each edge's SVG path, made in Rust because
a Python loop over 10^4 tasks' edges and bends alone would take most of the 100 ms a
picture of 10^4 tasks may take). Every box, label and bar segment is computed here, so
that the template (the ``graph`` macro of ``templates/macros/graph.html``) only prints
values, escaped.

A link is a straight line between adjacent layers; an edge spanning more layers runs
straight across each layer between its ends, with an S-shaped cubic from one layer to
the next. The template leaves corners and colors to the stylesheet, and spends no bytes on
classes it can do without (10^4 tasks make megabytes of markup): a node is
``g.node.st-<state>`` around an ``a`` whose first ``rect`` is the box (CSS ``rx``
rounds it) and whose first ``text`` is the label; a mapped node's bar segments are
``rect.seg.st-<state>`` and its caption ``text.caption``; links are ``path.link``
(``fill: none``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import NamedTuple

from ferroflow import _core, states

__all__ = ["GraphTask", "Link", "Node", "Picture", "Segment", "picture", "state_css"]

#: A plain task's box, a mapped task's box (taller: it has a bar and a caption).
NODE_W, NODE_H, MAPPED_H = 180, 44, 60
#: Space between layers (columns) and between slots (rows), and around the picture.
LAYER_GAP, SLOT_GAP, MARGIN = 60, 16, 8
#: From one layer (slot) to the next.
LAYER_PITCH, SLOT_PITCH = NODE_W + LAYER_GAP, MAPPED_H + SLOT_GAP
#: The most characters of a name a box shows (12 px sans-serif in 180 px, with padding).
LABEL_CHARS = 24
#: A mapped task's bar: inset from the box's sides, its top below the box's, height.
BAR_INSET, BAR_TOP, BAR_H = 8, 26, 8
#: Baselines below the box's top: a plain task's label (mid-height), a mapped task's
#: label (above its bar) and caption (below it).
LABEL_BASELINE, MAPPED_LABEL_BASELINE, CAPTION_BASELINE = 26, 18, 52
#: Where a label starts, right of the box's left side.
LABEL_INSET = 8

#: The order of a bar's segments: the core's state names, then any other name in
#: alphabetical order, and the children not reported yet last.
_STATE_ORDER = {name: i for i, name in enumerate(_core.STATE_NAMES)}


@dataclass(frozen=True)
class GraphTask:
    """A task as the run graph shows it."""

    task_id: int
    name: str
    #: Its state's name ("Success", "Failed", "Running", ...), None if not reported.
    state: str | None
    mapped: bool = False
    #: For a mapped task: its children by state name.
    counts: Mapping[str, int] | None = None
    #: For a mapped task: how many children it has (None: not known yet).
    width: int | None = None


class Segment(NamedTuple):
    """One state's part of a mapped task's bar."""

    x: int
    w: int
    css: str
    title: str


class Node(NamedTuple):
    """A task's box, in pixels. ``bar`` is empty for a plain task; the bar's and the
    caption's coordinates are meaningful for a mapped task only."""

    task_id: int
    #: The full name (the node's <title>), and as much of it as fits in the box.
    name: str
    label: str
    x: int
    y: int
    w: int
    h: int
    css: str
    href: str
    label_x: int
    label_y: int
    bar: tuple[Segment, ...] = ()
    bar_y: int = 0
    bar_h: int = 0
    caption: str = ""
    caption_y: int = 0


class Link(NamedTuple):
    """An edge: an SVG path from the upstream box's right side to the downstream box's
    left side, and the two task ids."""

    d: str
    source: int
    target: int


@dataclass(frozen=True)
class Picture:
    """The run graph, ready for the ``graph`` macro: the SVG's size in pixels, one
    :class:`Node` per task and one :class:`Link` per edge drawn."""

    width: int
    height: int
    nodes: list[Node]
    links: list[Link]


_NOT_CSS = re.compile(r"[^a-z0-9-]")


@functools.lru_cache(maxsize=256)
def state_css(state: str | None) -> str:
    """The CSS class of a state: ``"st-"`` and its name lower-cased, spaces and
    underscores (and anything else but letters, digits and hyphens) made hyphens;
    ``"st-none"`` when not reported."""
    if state is None:
        return "st-none"
    return "st-" + _NOT_CSS.sub("-", state.lower())


def picture(tasks: Sequence[GraphTask], edges: Sequence[tuple[int, int]], *, run_id: str) -> Picture:
    """Lay out ``tasks`` joined by ``edges`` (``(upstream task_id, downstream
    task_id)``) left to right. Edges naming a task not in ``tasks`` are ignored, as are
    self loops; an edge given twice (a task passing one result as two arguments) is
    drawn once; a repeated task id keeps its first task. ``run_id`` makes the links of
    mapped tasks (``/runs/{run_id}/tasks/{task_id}``); a plain task links to
    ``#task-{task_id}`` on the page."""
    if len({t.task_id for t in tasks}) != len(tasks):
        firsts: dict[int, GraphTask] = {}
        for t in tasks:
            firsts.setdefault(t.task_id, t)
        tasks = list(firsts.values())
    if not tasks:
        return Picture(width=2 * MARGIN, height=2 * MARGIN, nodes=[], links=[])
    ids = [t.task_id for t in tasks]
    if ids == list(range(len(tasks))):  # task ids are indices (the engine's): no mapping
        ups = [e[0] for e in edges]
        downs = [e[1] for e in edges]
    else:
        index = {task_id: i for i, task_id in enumerate(ids)}
        ups = [index.get(e[0], -1) for e in edges]
        downs = [index.get(e[1], -1) for e in edges]
    # The core lays the graph out, and makes each edge's path, skipping edges with an
    # unknown end, loops and repeats (an edge given twice is a task passing one result
    # as two arguments): None.
    mid = MARGIN + MAPPED_H // 2
    xs, ys, paths, layers, breadth = _core.layered_svg(len(tasks), ups, downs, MARGIN, LAYER_PITCH, NODE_W, mid,
                                                       SLOT_PITCH)
    nodes = list(map(_node, tasks, xs, ys, repeat(run_id)))
    links = [_new_tuple(Link, (d, e[0], e[1])) for d, e in zip(paths, edges, strict=True) if d is not None]
    width = 2 * MARGIN + layers * LAYER_PITCH - LAYER_GAP
    height = 2 * MARGIN + round((breadth - 1) * SLOT_PITCH) + MAPPED_H
    return Picture(width=width, height=height, nodes=nodes, links=links)


_new_tuple = tuple.__new__


def _label(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "\u2026"


def _node(task: GraphTask, x: int, cy: int, run_id: str) -> Node:
    if not task.mapped:
        y = cy - NODE_H // 2
        name = task.name
        # tuple.__new__ skips the NamedTuple's generated __new__: a third of the time
        # of a picture of 10^4 tasks. The fields in order, defaults included.
        return _new_tuple(Node, (task.task_id, name, name if len(name) <= LABEL_CHARS else _label(name), x, y,
                                 NODE_W, NODE_H, state_css(task.state), f"#task-{task.task_id}", x + LABEL_INSET,
                                 y + LABEL_BASELINE, (), 0, 0, "", 0))
    y = cy - MAPPED_H // 2
    counts = {name: n for name, n in (task.counts or {}).items() if n > 0}
    reported = sum(counts.values())
    done = sum(n for name, n in counts.items() if _finished(name))
    of = "?" if task.width is None else f"{task.width:,}"
    bar = _bar(counts, reported, task.width, x + BAR_INSET, NODE_W - 2 * BAR_INSET)
    return Node(task.task_id, task.name, _label(task.name), x, y, NODE_W, MAPPED_H, state_css(task.state),
                f"/runs/{run_id}/tasks/{task.task_id}", x + LABEL_INSET, y + MAPPED_LABEL_BASELINE, bar=bar,
                bar_y=y + BAR_TOP, bar_h=BAR_H, caption=f"{done:,} / {of} children", caption_y=y + CAPTION_BASELINE)


def _finished(name: str) -> bool:
    cls = getattr(states, name, None)
    return isinstance(cls, type) and issubclass(cls, states.Finished)


def _bar(counts: dict[str, int], reported: int, width: int | None, x: int, w: int) -> tuple[Segment, ...]:
    """The segments of a bar ``w`` px wide at ``x``: one per state with children, in
    state order, then the children not reported yet (when ``width`` says how many);
    widths proportional to the counts, at least 1 px each, summing to ``w``."""
    parts = sorted(counts.items(), key=lambda item: (_STATE_ORDER.get(item[0], len(_STATE_ORDER)), item[0]))
    titles = [f"{name}: {n:,}" for name, n in parts]
    css = [state_css(name) for name, _ in parts]
    sizes = [n for _, n in parts]
    missing = (width or 0) - reported
    if missing > 0 or not sizes:
        sizes.append(max(missing, 1))
        css.append("st-none")
        titles.append(f"not reported: {max(missing, 0):,}")
    widths = _apportion(sizes, w)
    segments = []
    for size_w, c, title in zip(widths, css, titles, strict=True):
        segments.append(Segment(x, size_w, c, title))
        x += size_w
    return tuple(segments)


def _apportion(sizes: list[int], w: int) -> list[int]:
    """Split ``w`` px among positive ``sizes`` in proportion (largest remainders), each
    at least 1 px (if ``w`` allows), summing to ``w``."""
    total = sum(sizes)
    exact = [s * w / total for s in sizes]
    widths = [max(1, int(e)) for e in exact]
    extra = w - sum(widths)
    if extra > 0:  # to the largest remainders, among segments not raised to 1 px
        grown = [i for i in range(len(sizes)) if exact[i] >= 1] or list(range(len(sizes)))
        for i in sorted(grown, key=lambda i: (int(exact[i]) - exact[i], i))[:extra]:
            widths[i] += 1
        extra = w - sum(widths)
    while extra > 0:  # fewer segments than pixels left: the rest to the largest
        widths[max(range(len(widths)), key=lambda i: (sizes[i], -i))] += extra
        extra = 0
    while extra < 0:  # minimums of 1 px took too much: take it from the widest
        i = max(range(len(widths)), key=lambda i: (widths[i], -i))
        if widths[i] <= 1:
            break
        widths[i] -= 1
        extra += 1
    return widths
