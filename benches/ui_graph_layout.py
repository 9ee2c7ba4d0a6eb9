"""The run page's graph: layout + picture of 10^4 tasks (issue 12: at most 100 ms), in
five shapes, side by side with grandalf, the pure-Python Sugiyama layout from PyPI a
user would otherwise pick.

Shapes, of N tasks each:

* ``chain``: one task after another (N layers).
* ``wide``: N tasks without edges (one layer).
* ``fan``: one task feeding N - 2 that all feed the last one.
* ``random``: seeded; each task but the first has 3 upstream tasks drawn among the 50
  before it (a flow built step by step), about 3 edges a task.
* ``pipelines``: N / 100 chains of 100 tasks and a parameter feeding every task (N + 1
  tasks; the parameter's edges span up to 100 layers, so the dummy budget of the layout
  runs out and its longest edges are drawn straight).

ferroflow: ``ferroflow.server.ui.graph.picture`` (the Rust layout with every edge's SVG
path, then a node per task in Python), median and best of ``--repeat`` runs, wall and
CPU time (the machine is shared: the CPU time of this process is the steadier figure);
then, for information, rendering the ``graph`` macro with Jinja2 and the size of the
markup. grandalf: ``SugiyamaLayout`` on each connected component (``init_all``,
``draw()`` with its default 1.5 ordering rounds and edges routed with lines), then one
SVG path string per edge: the same picture's geometry, without the boxes. Each grandalf
measurement runs in a fresh process, stopped after ``--budget`` seconds (reported as
"stopped"); grandalf runs at 10^3 tasks by default, and at 10^4 with ``--grandalf-sizes``.
grandalf is not a ferroflow dependency; install it next to the bench::

    python -m pip install --target /tmp/bench-deps grandalf
    PYTHONPATH=/tmp/bench-deps .venv/bin/python benches/ui_graph_layout.py

Without grandalf its rows say "not installed".

    .venv/bin/python benches/ui_graph_layout.py                     # 10^4, 7 repeats; grandalf at 10^3
    .venv/bin/python benches/ui_graph_layout.py --grandalf-sizes 1000,10000 --budget 600
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

SHAPES = ("chain", "wide", "fan", "random", "pipelines")


def shape(name: str, n: int) -> tuple[int, list[tuple[int, int]]]:
    """``(number of tasks, edges)`` of a shape of about ``n`` tasks (see the module
    docstring)."""
    if name == "chain":
        return n, [(i - 1, i) for i in range(1, n)]
    if name == "wide":
        return n, []
    if name == "fan":
        return n, [(0, i) for i in range(1, n - 1)] + [(i, n - 1) for i in range(1, n - 1)]
    if name == "random":
        rnd = random.Random(12)
        return n, [(rnd.randrange(max(0, v - 50), v), v) for v in range(1, n) for _ in range(3)]
    if name == "pipelines":
        edges = []
        for c in range(n // 100):
            for i in range(100):
                t = 1 + c * 100 + i
                edges.append((0, t))
                if i:
                    edges.append((t - 1, t))
        return n // 100 * 100 + 1, edges
    raise ValueError(f"unknown shape {name!r}")


def measure_ferroflow(name: str, n: int, repeat: int) -> dict:
    import jinja2

    import ferroflow.server.ui.graph as ui_graph
    from ferroflow.server.ui.graph import GraphTask, picture

    count, edges = shape(name, n)
    states = ("Success", "Running", "Failed", None)
    tasks = [GraphTask(i, f"task_{i}", states[i % 4]) for i in range(count)]
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        pic = picture(tasks, edges, run_id="bench")
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(ui_graph.__file__).parent / "templates"),
                             autoescape=True)
    template = env.from_string('{% from "macros/graph.html" import graph %}{{ graph(p) }}')
    w = time.perf_counter()
    svg = template.render(p=pic)
    render = time.perf_counter() - w
    return {"tasks": count, "edges": len(edges), "wall_ms": 1000 * statistics.median(walls),
            "best_ms": 1000 * min(walls), "cpu_ms": 1000 * statistics.median(cpus), "render_ms": 1000 * render,
            "bytes": len(svg.encode()), "width": pic.width, "height": pic.height}


GRANDALF = """
import json, sys, time
sys.path.insert(0, {benches!r})
from ui_graph_layout import shape
from grandalf.graphs import Edge, Graph, Vertex
from grandalf.layouts import SugiyamaLayout
from grandalf.routing import EdgeViewer, route_with_lines

class Box:
    w, h = 44, 180  # grandalf lays out top to bottom: a box on its side

count, edges = shape({name!r}, {n})
t0 = time.perf_counter()
vs = [Vertex(i) for i in range(count)]
for v in vs:
    v.view = Box()
es = [Edge(vs[u], vs[v]) for u, v in edges]
for e in es:
    e.view = EdgeViewer()
g = Graph(vs, es)
for component in g.C:
    layout = SugiyamaLayout(component)
    layout.route_edge = route_with_lines
    layout.init_all()
    layout.draw()
paths = []
for e in es:
    pts = getattr(e.view, "_pts", None) or [e.v[0].view.xy, e.v[1].view.xy]
    paths.append("M" + "L".join(f"{{round(y)}} {{round(x)}}" for x, y in pts))
elapsed = time.perf_counter() - t0
print(json.dumps({{"wall_ms": 1000 * elapsed, "paths": len(paths)}}))
"""


def measure_grandalf(name: str, n: int, budget: float) -> dict | str:
    code = GRANDALF.format(benches=str(Path(__file__).parent), name=name, n=n)
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=budget)
    except subprocess.TimeoutExpired:
        return f"stopped after {budget:.0f} s"
    if out.returncode:
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        return "failed: " + (lines[-1] if lines else f"exit {out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10_000, help="tasks per shape (default 10^4)")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--grandalf-sizes", default="1000", help="comma-separated sizes for grandalf ('' for none)")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds a grandalf measurement may take")
    args = parser.parse_args()
    shapes = [s for s in args.shapes.split(",") if s]
    sizes = sorted({args.n, *(int(s) for s in args.grandalf_sizes.split(",") if s)})
    have_grandalf = importlib.util.find_spec("grandalf") is not None

    print(f"ferroflow picture() (layout + picture), median / best of {args.repeat}; grandalf: 1 run, fresh process")
    header = ("| shape | tasks | edges | ferroflow wall ms (best) | ferroflow CPU ms | render ms | markup KB "
              "| grandalf ms | grandalf / ferroflow |")
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        for name in shapes:
            ff = measure_ferroflow(name, n, args.repeat)
            if n in [int(s) for s in args.grandalf_sizes.split(",") if s]:
                ga = measure_grandalf(name, n, args.budget) if have_grandalf else "not installed"
            else:
                ga = "not run"
            if isinstance(ga, dict):
                ga_ms, ratio = f"{ga['wall_ms']:,.0f}", f"{ga['wall_ms'] / ff['wall_ms']:,.0f}x"
            else:
                ga_ms, ratio = ga, ""
            print(f"| {name} | {ff['tasks']:,} | {ff['edges']:,} | {ff['wall_ms']:.1f} ({ff['best_ms']:.1f}) "
                  f"| {ff['cpu_ms']:.1f} | {ff['render_ms']:.0f} | {ff['bytes'] / 1000:,.0f} | {ga_ms} | {ratio} |",
                  flush=True)


if __name__ == "__main__":
    main()
