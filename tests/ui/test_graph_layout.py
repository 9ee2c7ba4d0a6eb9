"""The run page's graph: the core's layered layout seen from Python
(``_core.layered_layout``, ``_core.layered_svg``), the picture made of it
(``ferroflow.server.ui.graph``) and the ``graph`` template macro that prints it."""

from __future__ import annotations

import random
import re
from pathlib import Path

import jinja2
import pytest

import ferroflow.server.ui.graph as ui_graph
from ferroflow import Flow, Parameter, _core, task
from ferroflow.engine.graph import freeze
from ferroflow.server.ui.graph import BAR_INSET, MAPPED_H, NODE_H, NODE_W, GraphTask, Picture, picture, state_css

TEMPLATES = Path(ui_graph.__file__).parent / "templates"


def render(pic: Picture) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.from_string('{% from "macros/graph.html" import graph %}{{ graph(p) }}').render(p=pic)


def ends(d: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """The first and last points of a path made of M, l, c and h commands."""
    tokens = re.findall(r"[A-Za-z]|-?\d+(?:\.\d+)?", d)
    assert tokens[0] == "M"
    x, y = float(tokens[1]), float(tokens[2])
    start = (x, y)
    i = 3
    while i < len(tokens):
        cmd = tokens[i]
        size = {"l": 2, "c": 6, "h": 1}[cmd]
        args = [float(t) for t in tokens[i + 1:i + 1 + size]]
        assert len(args) == size, d
        if cmd == "h":
            x += args[0]
        else:
            x, y = x + args[-2], y + args[-1]
        i += 1 + size
    return start, (x, y)


def random_dag(n: int, per_node: int, seed: int) -> list[tuple[int, int]]:
    rnd = random.Random(seed)
    return [(rnd.randrange(max(0, v - 20), v), v) for v in range(1, n) for _ in range(per_node)]


def check_geometry(pic: Picture) -> None:
    """No two boxes of a layer overlap; every link starts on its upstream box's right
    side and ends on its downstream box's left side, at their middles; everything is
    inside the picture."""
    by_x: dict[int, list] = {}
    for node in pic.nodes:
        by_x.setdefault(node.x, []).append(node)
        assert 0 <= node.x and node.x + node.w <= pic.width
        assert 0 <= node.y and node.y + node.h <= pic.height
    for column in by_x.values():
        column.sort(key=lambda node: node.y)
        for above, below in zip(column, column[1:], strict=False):
            assert above.y + above.h < below.y, (above, below)
    box = {node.task_id: node for node in pic.nodes}
    for link in pic.links:
        (x0, y0), (x1, y1) = ends(link.d)
        up, down = box[link.source], box[link.target]
        assert (x0, y0) == (up.x + up.w, up.y + up.h / 2), link
        assert (x1, y1) == (down.x, down.y + down.h / 2), link


# -- the core's layout, from Python -----------------------------------------------


def test_layered_layout_of_a_diamond_and_its_long_edge():
    layer, position, bends, layers, breadth = _core.layered_layout(5, [0, 0, 1, 2, 3, 0], [1, 2, 3, 3, 4, 4])
    assert layer == [0, 1, 1, 2, 3]
    assert (layers, breadth) == (4, 3.0)  # layer 1 holds 1, 2 and the bend of 0 -> 4
    assert abs(position[1] - position[2]) == 1.0
    assert bends[:5] == [[], [], [], [], []]
    assert [b[0] for b in bends[5]] == [1, 2]  # 0 -> 4 spans layers 0 to 3: a bend in each between
    assert all(p >= 0 for p in position)


@pytest.mark.parametrize(("n", "ups", "downs", "message"), [
    (2, [0], [], "1 upstream ends given for 0"),
    (2, [0], [2], "refers to node 2"),
    (2, [-1], [0], "refers to node -1"),
    (-1, [], [], "must be >= 0"),
], ids=["lengths-differ", "endpoint-too-big", "endpoint-negative", "negative-n"])
def test_layered_layout_refuses_bad_input(n, ups, downs, message):
    with pytest.raises(ValueError, match=message):
        _core.layered_layout(n, ups, downs)


def test_layered_layout_breaks_a_cycle_and_ignores_loops():
    layer, _, bends, layers, _ = _core.layered_layout(3, [0, 1, 2, 1], [1, 2, 0, 1])
    assert (layer, layers) == ([0, 1, 2], 3)
    assert bends == [[], [], [], []]
    assert _core.layered_layout(0, [], []) == ([], [], [], 0, 0.0)


def test_layered_svg_skips_edges_it_does_not_draw():
    xs, ys, paths, layers, _ = _core.layered_svg(3, [0, 0, 1, 0, 7, -1, 1], [1, 1, 1, 2, 0, 2, 2], 8, 240, 180, 38,
                                                   76.0)
    assert (xs, layers) == ([8, 248, 488], 3)
    assert paths[0] is not None and paths[1] is None and paths[2] is None  # a repeat, a loop
    assert paths[3] is not None and paths[4] is None and paths[5] is None  # unknown ends
    assert paths[3].startswith(f"M188 {ys[0]}c30 0 30 ")  # 0 -> 2 bends through layer 1
    assert paths[6] == f"M428 {ys[1]}l60 {ys[2] - ys[1]}"


# -- the picture ------------------------------------------------------------------------


def test_no_tasks():
    pic = picture([], [(0, 1)], run_id="r")
    assert (pic.nodes, pic.links) == ([], [])
    assert '<svg class="run-graph"' in render(pic)


def test_one_task_without_edges():
    pic = picture([GraphTask(7, "only", "Success")], [], run_id="r")
    [node] = pic.nodes
    assert (node.task_id, node.label, node.css, node.href, node.w, node.h) == (7, "only", "st-success", "#task-7",
                                                                                NODE_W, NODE_H)
    assert pic.links == []
    assert pic.width >= node.x + node.w and pic.height >= node.y + node.h
    svg = render(pic)
    assert svg.count('class="node ') == 1 and "<path" not in svg


def test_edges_with_unknown_tasks_loops_and_repeats_are_ignored():
    tasks = [GraphTask(10, "a", "Success"), GraphTask(20, "b", "Running"), GraphTask(30, "c", None)]
    edges = [(10, 20), (20, 30), (10, 99), (99, 30), (20, 20), (10, 20)]
    pic = picture(tasks, edges, run_id="r")
    assert [(link.source, link.target) for link in pic.links] == [(10, 20), (20, 30)]
    assert [node.x for node in pic.nodes] == sorted(node.x for node in pic.nodes)  # a chain, left to right
    check_geometry(pic)


def test_a_repeated_task_id_keeps_its_first_task():
    pic = picture([GraphTask(1, "first", None), GraphTask(1, "second", None)], [], run_id="r")
    assert [node.name for node in pic.nodes] == ["first"]


def test_geometry_of_a_random_graph():
    n = 400
    tasks = [GraphTask(i, f"t{i}", ("Success", "Failed", None)[i % 3]) for i in range(n)]
    pic = picture(tasks, random_dag(n, 3, seed=5), run_id="r")
    assert len(pic.nodes) == n and len(pic.links) > n
    assert any("c" in link.d for link in pic.links)  # long edges bend
    check_geometry(pic)
    # Task ids that are not indices give the same picture.
    shifted = picture([GraphTask(t.task_id * 2 + 1, t.name, t.state) for t in tasks],
                      [(u * 2 + 1, v * 2 + 1) for u, v in random_dag(n, 3, seed=5)], run_id="r")
    assert [(node.x, node.y) for node in shifted.nodes] == [(node.x, node.y) for node in pic.nodes]
    assert [link.d for link in shifted.links] == [link.d for link in pic.links]


def test_the_picture_is_the_same_every_time():
    tasks = [GraphTask(i, f"t{i}", None) for i in range(300)]
    edges = random_dag(300, 2, seed=11)
    assert picture(tasks, edges, run_id="r") == picture(tasks, edges, run_id="r")


def test_long_labels_are_shortened_and_the_title_has_the_full_name():
    name = "a_task_with_a_name_much_too_long_for_its_box"
    pic = picture([GraphTask(0, name, "Success")], [], run_id="r")
    [node] = pic.nodes
    assert node.label.endswith("\u2026") and len(node.label) <= ui_graph.LABEL_CHARS
    assert name.startswith(node.label[:-1])
    assert f"<title>{name}</title>" in render(pic)


@pytest.mark.parametrize(("state", "css"), [
    ("Success", "st-success"), ("TriggerFailed", "st-triggerfailed"), ("Timed Out", "st-timed-out"),
    ("not_reported", "st-not-reported"), (None, "st-none"), ('x"><script>', "st-x---script-"),
], ids=["success", "camel", "space", "underscore", "none", "hostile"])
def test_state_css(state, css):
    assert state_css(state) == css


def test_a_mapped_task_has_a_bar_of_its_children():
    counts = {"Success": 12_000, "Failed": 3, "Running": 300, "Pending": 0, "Cached": 45}
    pic = picture([GraphTask(0, "make", "Success"), GraphTask(1, "inc", "Mapped", mapped=True, counts=counts,
                                                              width=1_000_000)],
                  [(0, 1)], run_id="run-9")
    node = pic.nodes[1]
    assert (node.h, node.href) == (MAPPED_H, "/runs/run-9/tasks/1")
    assert node.caption == "12,048 / 1,000,000 children"  # Success, Failed and Cached are done
    bar_w = NODE_W - 2 * BAR_INSET
    assert sum(seg.w for seg in node.bar) == bar_w
    assert [seg.css for seg in node.bar] == ["st-running", "st-success", "st-cached", "st-failed", "st-none"]
    assert all(seg.w >= 1 for seg in node.bar)
    assert node.bar[0].x == node.x + BAR_INSET
    for left, right in zip(node.bar, node.bar[1:], strict=False):
        assert right.x == left.x + left.w
    assert node.bar[-1].title == "not reported: 987,652"
    assert node.bar[1].title == "Success: 12,000"
    svg = render(pic)
    assert svg.count('<rect class="seg ') == 5
    assert "12,048 / 1,000,000 children" in svg


@pytest.mark.parametrize(("counts", "width", "caption", "css"), [
    (None, None, "0 / ? children", ["st-none"]),
    ({}, 0, "0 / 0 children", ["st-none"]),
    ({"Success": 5}, None, "5 / ? children", ["st-success"]),
    ({"Success": 5, "Running": 5}, 10, "5 / 10 children", ["st-running", "st-success"]),
    ({"Weird": 1, "Success": 10 ** 9}, None, f"{10 ** 9:,} / ? children", ["st-success", "st-weird"]),
], ids=["nothing-yet", "no-children", "width-unknown", "all-reported", "unknown-state-last"])
def test_bars_sum_to_their_width(counts, width, caption, css):
    pic = picture([GraphTask(0, "m", "Running", mapped=True, counts=counts, width=width)], [], run_id="r")
    [node] = pic.nodes
    assert node.caption == caption
    assert [seg.css for seg in node.bar] == css
    assert sum(seg.w for seg in node.bar) == NODE_W - 2 * BAR_INSET
    assert all(seg.w >= 1 for seg in node.bar)


def test_many_states_each_get_a_pixel():
    counts = {name: 1 for name in _core.STATE_NAMES} | {"Success": 10 ** 12}
    pic = picture([GraphTask(0, "m", "Running", mapped=True, counts=counts, width=None)], [], run_id="r")
    bar = pic.nodes[0].bar
    assert len(bar) == len(_core.STATE_NAMES)
    assert sum(seg.w for seg in bar) == NODE_W - 2 * BAR_INSET
    assert all(seg.w >= 1 for seg in bar)


# -- the template macro -----------------------------------------------------------------


def test_the_macro_escapes_names_states_and_ids():
    hostile = '<script>alert("x")</script>'
    tasks = [GraphTask(0, hostile, 'Success"><script>'),
             GraphTask(1, "m&m", "Running", mapped=True, counts={'<b>"': 3}, width=5)]
    svg = render(picture(tasks, [(0, 1)], run_id='"><script>'))
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in svg
    assert "m&amp;m" in svg and "&lt;b&gt;&#34;: 3" in svg
    assert 'href="/runs/&#34;&gt;&lt;script&gt;/tasks/1"' in svg
    assert " on" not in re.sub(r">[^<]*<", "><", svg)  # no event handler attributes
    assert "style=" not in svg


def test_the_macro_prints_one_group_per_node_and_one_path_per_link():
    tasks = [GraphTask(i, f"t{i}", "Success") for i in range(6)]
    edges = [(0, 1), (1, 2), (2, 3), (0, 3), (4, 5)]
    pic = picture(tasks, edges, run_id="r")
    svg = render(pic)
    assert svg.startswith(f'<svg class="run-graph" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {pic.width} '
                          f'{pic.height}"')
    assert re.findall(r'<g class="node st-success" data-task="(\d+)"><a href="#task-\1">', svg) == [
        str(i) for i in range(6)]
    assert re.findall(r'<path class="link" data-from="(\d+)" data-to="(\d+)" d="', svg) == [
        (str(u), str(v)) for u, v in edges]


def test_markup_stays_compact():
    mapped = GraphTask(2, "inc", "Mapped", mapped=True, counts={"Success": 654_321, "Running": 8, "Failed": 1},
                       width=1_000_000)
    tasks = [GraphTask(0, "n", "Success"), GraphTask(1, "make", "Success"), mapped,
             GraphTask(3, "total", None), GraphTask(4, "notify", None)]
    small = render(picture(tasks, [(0, 1), (1, 2), (2, 3), (3, 4)], run_id="r"))
    assert len(small.encode()) < 4_000
    n = 10_000
    wide = render(picture([GraphTask(i, f"task_{i}", "Success") for i in range(n)], [], run_id="r"))
    assert len(wide.encode()) < 2_500_000


# -- a real flow ------------------------------------------------------------------------


@task
def load(n):
    return list(range(n))


@task
def inc(x):
    return x + 1


@task
def total(xs):
    return sum(xs)


@task
def report(a, b):
    return (a, b)


def test_the_layout_of_a_frozen_flow():
    with Flow("graph-layout") as flow:
        n = Parameter("n")
        xs = load(n)
        ys = inc.map(xs)
        s = total(ys)
        report(s, n)  # the parameter feeds the last task too: a long edge
    frozen = freeze(flow)
    edges = [(frozen.index[edge[0]], down) for down, into in enumerate(frozen.in_edges) for edge in into]
    tasks = [GraphTask(i, t.name, "Success", mapped=frozen.may_map[i],
                       counts={"Success": 3} if frozen.may_map[i] else None, width=3 if frozen.may_map[i] else None)
             for i, t in enumerate(frozen.tasks)]
    pic = picture(tasks, edges, run_id="r")
    check_geometry(pic)
    box = {node.name: node for node in pic.nodes}
    assert box["n"].x < box["load"].x < box["inc"].x < box["total"].x < box["report"].x
    assert box["inc"].href == f"/runs/r/tasks/{box['inc'].task_id}" and box["inc"].caption == "3 / 3 children"
    assert box["load"].href == f"#task-{box['load'].task_id}"
    assert len(pic.links) == len(edges) == 5
    long = next(link for link in pic.links if link.target == box["report"].task_id
                and link.source == box["n"].task_id)
    assert long.d.count("h") == 3  # across the layers of load, inc and total
    assert "run-graph" in render(pic)
