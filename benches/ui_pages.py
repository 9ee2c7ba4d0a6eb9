"""The web UI's pages on a big database (not a test): a finished run of 10^6 mapped
children recorded by the engine, and 10^5 other runs over 30 days.

    python benches/ui_pages.py                                    # SQLite, cached in /tmp
    python benches/ui_pages.py --database postgresql               # a PostgreSQL schema of its own
    python benches/ui_pages.py --children 1000 --runs 100 --repeat 5 --no-heap   # a quick look

The issue's bars: the run page in at most 300 ms of server time and 300 KB of HTML, a
page of children in at most 100 ms, Chromium's JavaScript heap on the run page at most
50 MB, the runs list in at most 200 ms.

**Seed.** The big run is a real one: the flow in :data:`FLOW_SOURCE` (``work`` mapped
over ``range(N)``, every ``--every``-th child failing with a logged warning, ``total``
trigger-failed) run by ``ferroflow run`` with ``FERROFLOW_DATABASE_URL`` pointing at the
database. The other runs are inserted in bulk with the columns
:func:`ferroflow.store.control.create_run` writes (and their ``run_tags``, and a
``flows`` row per flow): 40 flows, a realistic mix of states (mostly successes, some
failures with messages, a few cancelled, crashed, paused, late, scheduled ahead, running
now), spread over the 30 days before the seed. An SQLite database is kept at ``--keep``
(default ``/tmp/ferroflow-ui-bench-N-M.db``) and reused by the next run with the same
sizes; ``--database URL`` measures (and seeds, if empty) the database at URL.

**Measure.** A real ``ferroflow server start`` on the database (authentication off on
loopback: every visitor is admin), one httpx client with its session cookie, and for
each page the server's own time (``Server-Timing: app;dur=``: from the request reaching
the application to the response starting, template rendering included) and the body's
size: medians and 95th percentiles of ``--repeat`` requests after three warm-up ones. A
page the server does not have (404) is reported *missing*. The deep page of children
is the first page's "next" link with its cursor moved to the middle of the task.
Chromium's JavaScript heap: the run page opened in Debian's Chromium (Playwright), a few
polling rounds waited, garbage collected (CDP ``HeapProfiler.collectGarbage``), then
``JSHeapUsedSize`` of ``Performance.getMetrics``.
"""

from __future__ import annotations

import argparse
import html.parser
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "python"))

import httpx  # noqa: E402  (after the sys.path entries)
from sqlalchemy import Engine, func, insert, select, text  # noqa: E402

from ferroflow.store.database import make_engine  # noqa: E402
from ferroflow.store.migrations import migrate  # noqa: E402
from ferroflow.store.queries import BadCursorError, decode_cursor, encode_cursor  # noqa: E402
from ferroflow.store.schema import flows, run_tags, run_tasks, runs  # noqa: E402
from tests.support.servers import Server, child_env  # noqa: E402

__all__ = ["BIG_FLOW", "Figure", "Page", "Seeded", "deep_children_path", "insert_runs", "js_heap_mb", "measure",
           "pages", "record_big_run", "seed", "serve"]

#: The big run's flow (its name marks the run in a seeded database).
BIG_FLOW = "ui-bench-big"
FLOW_SOURCE = f'''
from ferroflow import Flow, Parameter, context, task, unmapped

@task
def numbers(n):
    return range(n)

@task
def work(x, every):
    if x % every == 0:
        context.logger.warning("item %d is bad", x)
        raise ValueError(f"item {{x}} is bad")
    return x + 1

@task
def total(xs):
    return sum(xs)

with Flow("{BIG_FLOW}") as flow:
    n = Parameter("n", default=1000)
    every = Parameter("every", default=10007)
    total(work.map(numbers(n), every=unmapped(every)))
'''
#: Run states of the bulk runs and their weights (``Scheduled`` ones start in the
#: future, ``Running``/``Pending`` ones in the last minutes).
MIX = {"Success": 820, "Failed": 90, "Cancelled": 30, "Crashed": 10, "Paused": 8, "Late": 5, "Scheduled": 20,
       "Running": 12, "Pending": 5}
FLOWS = [f"{team}-{job}" for team in ("sales", "billing", "ml", "ops", "search")
         for job in ("ingest", "etl", "report", "train", "sync", "backfill", "export", "audit")]
TAGS = ["nightly", "hourly", "adhoc", "eu", "us", "backfill", "critical"]
MESSAGES = {"Failed": "Some reference tasks failed.", "Crashed": "Crashed: its process stopped beating.",
            "Cancelled": "Cancelled by an operator.", "Paused": "Waiting for approval of task deploy."}
DAY = 86400.0


@dataclass(frozen=True)
class Seeded:
    """A seeded database: its big run, that run's mapped task, how many runs in all."""

    url: str
    run_id: str
    task_id: int
    children: int
    runs: int


# ----- seed ---------------------------------------------------------------------------


def insert_runs(engine: Engine, n: int, now: float, seed: int = 1, batch: int = 20_000) -> None:
    """``n`` runs of :data:`FLOWS` over the 30 days before ``now``, in bulk."""
    rng = random.Random(seed)
    states, weights = list(MIX), list(MIX.values())
    with engine.begin() as conn:
        for name in FLOWS:
            if conn.execute(select(flows.c.id).where(flows.c.name == name)).first() is None:
                conn.execute(insert(flows).values(name=name, created_at=now - 30 * DAY, updated_at=now,
                                                  parameters="{}"))
        rows: list[dict] = []
        chosen_tags: list[list[str]] = []
        for i in range(n):
            state = rng.choices(states, weights)[0]
            if state == "Scheduled":
                start = now + rng.uniform(60, 2 * DAY)
            elif state in ("Running", "Pending", "Late"):
                start = now - rng.uniform(0, 600)
            else:
                start = now - 30 * DAY + 30 * DAY * i / n
            ended = start + rng.uniform(2, 900) if state in ("Success", "Failed", "Cancelled", "Crashed") else None
            tags = rng.sample(TAGS, rng.randint(0, 2))
            rows.append({"run_id": uuid.UUID(int=rng.getrandbits(128)).hex, "flow_name": rng.choice(FLOWS),
                         "parameters": json.dumps({"day": i % 30, "limit": rng.randint(1, 10_000)}),
                         "state": state, "message": MESSAGES.get(state), "started_at": start, "ended_at": ended,
                         "tags": json.dumps(tags), "state_version": 0, "created_at": min(start, now)})
            chosen_tags.append(tags)
            if len(rows) == batch or i == n - 1:
                keys = conn.execute(insert(runs).returning(runs.c.id, sort_by_parameter_order=True), rows).scalars()
                pairs = [{"run": key, "tag": tag} for key, tags_ in zip(keys, chosen_tags, strict=True)
                         for tag in tags_]
                if pairs:
                    conn.execute(insert(run_tags), pairs)
                rows, chosen_tags = [], []


def record_big_run(url: str, children: int, every: int, workdir: Path) -> None:
    """Run :data:`FLOW_SOURCE` over ``children`` items with ``ferroflow run``, recorded
    into the database at ``url`` by the engine."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "ui_bench_big.py"
    source.write_text(FLOW_SOURCE)
    out = subprocess.run([sys.executable, "-m", "ferroflow", "run", str(source), "--param", f"n={children}",
                          "--param", f"every={every}"], capture_output=True, text=True,
                         env=child_env({"FERROFLOW_DATABASE_URL": url, "FERROFLOW_HOME": str(workdir / "home")}))
    if "Flow run id:" not in out.stdout:
        raise SystemExit(f"recording the big run failed (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")


def _found(engine: Engine, url: str) -> Seeded | None:
    """The seeded database's big run, if the database has one."""
    with engine.connect() as conn:
        row = conn.execute(select(runs.c.id, runs.c.run_id).where(runs.c.flow_name == BIG_FLOW)
                           .order_by(runs.c.id.desc()).limit(1)).first()
        if row is None:
            return None
        widths = conn.execute(select(run_tasks.c.widths).where(run_tasks.c.run == row.id)).scalar()
        total = conn.execute(select(func.count()).select_from(runs)).scalar_one()
    mapped = json.loads(widths or "{}")
    if not mapped:
        return None
    task_id, width = max(mapped.items(), key=lambda kv: kv[1])
    return Seeded(url, row.run_id, int(task_id), int(width), int(total))


def seed(url: str, children: int, n_runs: int, workdir: Path, every: int = 10_007) -> Seeded:
    """The database at ``url`` with ``n_runs`` runs and a recorded run of ``children``
    children (kept as it is when it has them already)."""
    engine = make_engine(url)
    try:
        migrate(engine)
        found = _found(engine, url)
        if found is not None and found.children == children and found.runs >= n_runs + 1:
            print(f"  reusing the seeded database ({found.runs:,} runs)", flush=True)
            return found
        if found is not None:
            raise SystemExit(f"{url} holds another seed ({found.children:,} children, {found.runs:,} runs): "
                             f"name another database")
        started = time.perf_counter()
        insert_runs(engine, n_runs, time.time())
        inserted = time.perf_counter()
        record_big_run(url, children, every, workdir)
        recorded = time.perf_counter()
        with engine.begin() as conn:  # (what PostgreSQL's autovacuum does soon after a bulk load)
            conn.execute(text("ANALYZE"))
        print(f"  seeded: {n_runs:,} runs inserted in {inserted - started:.1f} s, the {children:,}-child run "
              f"recorded in {recorded - inserted:.1f} s", flush=True)
        made = _found(engine, url)
        assert made is not None
        return made
    finally:
        engine.dispose()


# ----- measure ------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """A page to measure and its bars (None: none)."""

    name: str
    path: str | None
    target_ms: float | None = None
    target_kb: float | None = None


@dataclass(frozen=True)
class Figure:
    """What one page measured: ``missing`` when the server has no such page."""

    name: str
    path: str | None
    status: int
    median_ms: float | None
    p95_ms: float | None
    kb: float | None
    target_ms: float | None
    target_kb: float | None
    missing: bool

    @property
    def passed(self) -> bool | None:
        """Whether the bars hold (None: no bar, or nothing measured)."""
        if self.missing or self.median_ms is None or (self.target_ms is None and self.target_kb is None):
            return None
        return (self.target_ms is None or self.median_ms <= self.target_ms) and \
            (self.target_kb is None or (self.kb or 0) <= self.target_kb)


class _Links(html.parser.HTMLParser):
    """The ``href`` of the first ``<a rel="next">``."""

    def __init__(self) -> None:
        super().__init__()
        self.next: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and self.next is None and "next" in (found.get("rel") or "").split():
            self.next = found.get("href")


def deep_children_path(client: httpx.Client, first: str, index: int) -> str | None:
    """The first page of children's "next" link with its cursor moved to ``index``
    (None: the page has no such link, or its cursor is not the store's)."""
    answer = client.get(first)
    if answer.status_code != 200:
        return None
    links = _Links()
    links.feed(answer.text)
    if links.next is None:
        return None
    parts = urllib.parse.urlsplit(links.next)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    moved = False
    for i, (key, value) in enumerate(query):
        try:
            decode_cursor(value, "children", (int,))
        except BadCursorError:
            continue
        query[i] = (key, encode_cursor("children", index))
        moved = True
    if not moved:
        return None
    return urllib.parse.urlunsplit(("", "", parts.path, urllib.parse.urlencode(query), ""))


def pages(seeded: Seeded, client: httpx.Client) -> list[Page]:
    """The pages the bench measures, with the issue's bars."""
    run, task = seeded.run_id, seeded.task_id
    children = f"/runs/{run}/tasks/{task}"
    return [Page("dashboard", "/"),
            Page("runs list", "/runs", 200),
            Page("runs list, state Failed", "/runs?state=Failed", 200),
            Page(f"run page ({seeded.children:,} children)", f"/runs/{run}", 300, 300),
            Page("children, first page", children, 100),
            Page("children, a page in the middle", deep_children_path(client, children, seeded.children // 2), 100),
            Page("run logs", f"/runs/{run}/logs"),
            Page("flows", "/flows"),
            Page("deployments", "/deployments"),
            Page("workers", "/workers")]


def measure(client: httpx.Client, page: Page, repeat: int, warmup: int = 3) -> Figure:
    """The server's time answering ``page`` (median and 95th percentile of ``repeat``
    requests after ``warmup``), and its size."""
    if page.path is None:
        return Figure(page.name, None, 0, None, None, None, page.target_ms, page.target_kb, True)
    times: list[float] = []
    size = 0
    for i in range(warmup + repeat):
        answer = client.get(page.path)
        if answer.status_code in (404, 405):
            return Figure(page.name, page.path, answer.status_code, None, None, None, page.target_ms,
                          page.target_kb, True)
        if answer.status_code != 200:
            raise SystemExit(f"{page.path}: {answer.status_code}\n{answer.text[:2000]}")
        if i >= warmup:
            times.append(float(answer.headers["server-timing"].split("dur=")[1].split(",")[0]))
            size = len(answer.content)
    times.sort()
    p95 = times[min(len(times) - 1, max(0, round(len(times) * 0.95) - 1))]
    return Figure(page.name, page.path, 200, round(statistics.median(times), 2), round(p95, 2),
                  round(size / 1024, 1), page.target_ms, page.target_kb, False)


def js_heap_mb(base_url: str, path: str, rounds: int = 3, browser=None) -> dict:
    """Chromium's JavaScript heap (MB, after a collection) on ``path``, once the page
    loaded and ``rounds`` polling periods (2 s) passed; with the DOM's node count. A
    Chromium of Playwright's sync API may be given (``browser``), else one is launched."""
    if browser is not None:
        return _heap(browser, base_url, path, rounds)
    from playwright.sync_api import sync_playwright

    from tests.support.browser import launch

    with sync_playwright() as playwright:
        launched = launch(playwright)
        try:
            return _heap(launched, base_url, path, rounds)
        finally:
            launched.close()


def _heap(browser, base_url: str, path: str, rounds: int) -> dict:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        answer = page.goto(base_url + path, wait_until="load")
        if answer is None or answer.status != 200:
            return {"status": None if answer is None else answer.status, "heap_mb": None, "nodes": None}
        page.wait_for_timeout(rounds * 2000 + 500)  # (polling rounds: the bench waits, nothing is asserted)
        cdp = context.new_cdp_session(page)
        cdp.send("Performance.enable")
        cdp.send("HeapProfiler.collectGarbage")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return {"status": 200, "heap_mb": round(metrics["JSHeapUsedSize"] / 1e6, 2),
                "nodes": int(metrics.get("Nodes", 0))}
    finally:
        context.close()


@contextmanager
def serve(url: str, workdir: Path) -> Iterator[str]:
    """A ``ferroflow server start`` on ``url`` (authentication off: loopback); its base URL."""
    server = Server(url, workdir / "server.log", args=("--no-scheduler", "--log-level", "warning")).start()
    try:
        yield server.url
    finally:
        server.stop()


def _table(figures: list[Figure], heap: dict | None) -> str:
    lines = ["| page | median ms | p95 ms | KB | target | pass |", "|---|---:|---:|---:|---|---|"]
    for f in figures:
        target = ", ".join(t for t in (f"<= {f.target_ms:g} ms" if f.target_ms else "",
                                       f"<= {f.target_kb:g} KB" if f.target_kb else "") if t) or "—"
        if f.missing:
            lines.append(f"| {f.name} | missing | | | {target} | — |")
            continue
        verdict = {True: "pass", False: "**FAIL**", None: "—"}[f.passed]
        lines.append(f"| {f.name} | {f.median_ms:.2f} | {f.p95_ms:.2f} | {f.kb:,.1f} | {target} | {verdict} |")
    if heap is not None:
        if heap.get("heap_mb") is None:
            lines.append(f"| Chromium JS heap on the run page | missing ({heap.get('status')}) | | | <= 50 MB | — |")
        else:
            verdict = "pass" if heap["heap_mb"] <= 50 else "**FAIL**"
            lines.append(f"| Chromium JS heap on the run page (MB; {heap['nodes']:,} DOM nodes) | "
                         f"{heap['heap_mb']:.2f} | | | <= 50 MB | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--children", type=int, default=1_000_000, help="children of the big run's map")
    parser.add_argument("--runs", type=int, default=100_000, help="other runs, over 30 days")
    parser.add_argument("--every", type=int, default=10_007, help="every N-th child fails")
    parser.add_argument("--database", default="sqlite",
                        help="sqlite (a file, see --keep), postgresql (a schema of its own, dropped after) or a URL")
    parser.add_argument("--keep", type=Path, help="the SQLite file to seed once and reuse")
    parser.add_argument("--repeat", type=int, default=20, help="requests per page after warm-up")
    parser.add_argument("--no-heap", action="store_true", help="skip Chromium's heap")
    parser.add_argument("--json", type=Path, help="write the figures as JSON here too")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ui-bench-") as tmp:
        workdir = Path(tmp)
        with _database(args, workdir) as url:
            print(f"seeding {url.split('?')[0]}: {args.runs:,} runs and a {args.children:,}-child run", flush=True)
            seeded = seed(url, args.children, args.runs, workdir, args.every)
            with serve(url, workdir) as base, httpx.Client(base_url=base, timeout=120) as client:
                figures = [measure(client, p, args.repeat) for p in pages(seeded, client)]
                heap = None if args.no_heap else js_heap_mb(base, f"/runs/{seeded.run_id}")
        print(_table(figures, heap))
        missing = [f.name for f in figures if f.missing]
        if missing:
            print(f"missing pages (404 on this server): {', '.join(missing)}")
        if args.json:
            args.json.write_text(json.dumps({"seeded": asdict(seeded), "figures": [asdict(f) for f in figures],
                                             "heap": heap}, indent=2))
    return 0


@contextmanager
def _database(args: argparse.Namespace, workdir: Path) -> Iterator[str]:
    if args.database == "postgresql":
        from tests.support.databases import pg_schema

        with pg_schema() as url:
            yield url
    elif args.database == "sqlite":
        keep = args.keep or Path(tempfile.gettempdir()) / f"ferroflow-ui-bench-{args.children}-{args.runs}.db"
        yield f"sqlite:///{keep.resolve()}"
    else:
        yield args.database


if __name__ == "__main__":
    sys.exit(main())
