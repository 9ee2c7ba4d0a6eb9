"""The UI bench (``benches/ui_pages.py``) at a tiny scale, so that it cannot rot: its
seed records a real run and inserts runs, its measures read the server's timing and
tell missing pages apart, and Chromium's heap is read."""

from __future__ import annotations

import importlib.util
import sys

import httpx
import pytest
from sqlalchemy import func, select

from ferroflow.store.database import make_engine
from ferroflow.store.schema import runs
from tests.support.servers import PACKAGE_ROOT


@pytest.fixture(scope="module")
def bench():
    path = PACKAGE_ROOT.parent / "benches" / "ui_pages.py"
    spec = importlib.util.spec_from_file_location("ui_pages_bench", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_the_bench_seeds_and_measures_at_a_tiny_scale(bench, tmp_path, browser):
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    seeded = bench.seed(url, 1000, 100, tmp_path / "work", every=97)
    assert seeded.children == 1000 and seeded.runs == 101
    engine = make_engine(url)
    with engine.connect() as conn:
        big = conn.execute(select(runs.c.state, runs.c.flow_name).where(runs.c.run_id == seeded.run_id)).one()
        states = dict(conn.execute(select(runs.c.state, func.count()).group_by(runs.c.state)).all())
    engine.dispose()
    assert big.state == "Failed" and big.flow_name == bench.BIG_FLOW  # (recorded by the engine: children failed)
    assert sum(states.values()) == 101 and states.get("Success", 0) > 50 and len(states) > 3
    # seeding again reuses what is there
    assert bench.seed(url, 1000, 100, tmp_path / "work", every=97) == seeded

    with bench.serve(url, tmp_path) as base, httpx.Client(base_url=base, timeout=60) as client:
        found = {p.name: p for p in bench.pages(seeded, client)}
        dashboard = bench.measure(client, found["dashboard"], repeat=3)
        assert not dashboard.missing and dashboard.median_ms > 0 and dashboard.kb > 1
        assert dashboard.p95_ms >= dashboard.median_ms
        nothing = bench.measure(client, bench.Page("no such page", "/no/such/page", 10), repeat=3)
        assert nothing.missing and nothing.passed is None
        timed = bench.measure(client, bench.Page("workers", "/workers", target_ms=1e9, target_kb=1e-3), repeat=3)
        assert timed.passed is False  # (a bar of 0.001 KB cannot hold)
        heap = bench.js_heap_mb(base, "/", rounds=1, browser=browser)
        assert heap["status"] == 200 and 0 < heap["heap_mb"] < 1000 and heap["nodes"] > 10
